"""The demo seller: every worked example of the semantics spec, ready to query.

`create_demo` imports the packaged snapshot `demo/demo.json` (seller `demo`, app key
`demo-key`, secret `demo-secret`, salt `demo-salt`), then sets the stock of spec `lz38` in
warehouse 6 to 0 through the stock service. That second step reproduces the vendor's calcStock
example exactly: listing 2447 is created pending with `stock_change_count` 1, and creating its
spec's stock row bumps it to 2, as the documented answer shows. Running it again changes
nothing (the import is idempotent and the stock write is a no-op); in particular a demo that has
been synced keeps its listings' sync state (a snapshot does not carry it), so the documented
answer shows again only on a new database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from sqlalchemy import Engine

from stocksync.db.engine import write_tx
from stocksync.services import clock
from stocksync.services.snapshot import ImportReport, import_snapshot
from stocksync.services.stock import StockChange, set_stock

DEMO_SID = "demo"
DEMO_KEY = "demo-key"
DEMO_SECRET = "demo-secret"
DEMO_SALT = "demo-salt"
#: The vendor's calcStock example: listing 2447 on spec 12581 (`lz38`), warehouse 6.
VENDOR_LISTING = 2447
VENDOR_SPEC = 12581
VENDOR_WAREHOUSE = 6


@dataclass(frozen=True)
class DemoInfo:
    """The demo seller's credentials and what the import did."""

    sid: str
    key: str
    secret: str
    salt: str
    report: ImportReport
    tenant_id: int


def demo_document() -> bytes:
    """The packaged demo snapshot."""
    return resources.files("stocksync").joinpath("demo/demo.json").read_bytes()


def create_demo(engine: Engine, *, now: float | None = None) -> DemoInfo:
    """Create or refresh the demo seller; idempotent."""
    moment = clock.now() if now is None else now
    report = import_snapshot(engine, demo_document(), now=moment)
    change = StockChange(VENDOR_SPEC, VENDOR_WAREHOUSE, {"stock_num": Decimal(0)})
    with write_tx(engine) as conn:
        set_stock(conn, report.tenant_id, [change], moment)
    return DemoInfo(DEMO_SID, DEMO_KEY, DEMO_SECRET, DEMO_SALT, report, report.tenant_id)
