"""Helpers of the method tests (no tests here): the demo seller under a sid of the test's own,
the real app over the test's database, and a client that keeps the raw answer bytes.

The demo document is imported under the test's `sid` (PostgreSQL and MariaDB databases are
shared by the tests of a worker, so every test needs its own seller), then the stock of the
vendor example's spec is set as `services.demo.create_demo` does, which gives listing 2447 the
documented `stock_change_count` of 2.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from stocksync.bootstrap import ServerApp, Settings, create_app
from stocksync.client import Client
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.openapi.testing import AsgiTransport
from stocksync.services.demo import (
    DEMO_KEY,
    DEMO_SALT,
    DEMO_SECRET,
    VENDOR_SPEC,
    VENDOR_WAREHOUSE,
    demo_document,
)
from stocksync.services.snapshot import import_snapshot
from stocksync.services.stock import StockChange, set_stock
from vendor import VENDOR_ANSWER as VENDOR_ANSWER  # re-exported for the open-API tests

CALC = "sales.StockSync.calcStock"
CALC_AUTH = "sales.StockSync.calcStockWithAuth"
BATCH = "sales.StockSync.batchCalcStock"
WAIT = "sales.StockSync.getSelfWaitSyncIdListOpen"
SUCCESS = "sales.StockSync.syncSuccess"
FAIL = "sales.StockSync.syncFail"
CANCEL = "sales.StockSync.cancelSync"
NOW_METHOD = "system.Core.now"
#: Methods that change the database when their arguments are well-formed.
WRITING = (WAIT, SUCCESS, FAIL, CANCEL)

DISABLED_JITX002 = "货品id:jitx002规格Id:jitx002 已停用或者未开启同步"
NOT_FOUND = "平台货品不存在"
#: Every listing of the demo, and the shop each one is in.
DEMO_SHOPS: dict[int, int] = {
    listing["rec_id"]: listing["shop_id"] for listing in json.loads(demo_document())["listings"]
}


def loads(payload: bytes) -> Any:
    """JSON with exact numbers: fractions as Decimal, integers as int."""
    return json.loads(payload, parse_float=Decimal)


def demo_tenant(
    engine: Engine,
    sid: str,
    *,
    apps: Sequence[Mapping[str, Any]] | None = None,
    now: float | None = None,
) -> int:
    """Import the demo seller as `sid` (with `apps` instead of the demo key if given)."""
    doc = json.loads(demo_document(), parse_float=Decimal)
    doc["sid"] = sid
    if apps is not None:
        doc["apps"] = [dict(app) for app in apps]
    moment = time.time() if now is None else now
    report = import_snapshot(engine, doc, now=moment)
    change = StockChange(VENDOR_SPEC, VENDOR_WAREHOUSE, {"stock_num": Decimal(0)})
    with write_tx(engine) as conn:
        set_stock(conn, report.tenant_id, [change], moment)
    return report.tenant_id


def app_key(key: str = DEMO_KEY, *, shop_ids: Iterable[int] = (), secret: str = DEMO_SECRET,
            salt: str = DEMO_SALT) -> dict[str, Any]:  # fmt: skip
    """An `apps[]` entry of a snapshot."""
    return {"key": key, "secret": secret, "salt": salt, "shop_ids": list(shop_ids)}


def server_app(engine: Engine, **settings: Any) -> ServerApp:
    """The real open-API app over `engine` (settings by name, e.g. `rate_limit=3`)."""
    url = engine.url.render_as_string(hide_password=False)
    return create_app(Settings(db_url=url, **settings), engine=engine)


class RecordingTransport(AsgiTransport):
    """An in-process transport that keeps the raw bytes of the last answer."""

    last_payload = b""

    def __call__(self, method: str, target: str, headers: Any, body: Any) -> tuple[int, bytes]:
        status, payload = super().__call__(method, target, headers, body)
        self.last_payload = payload
        return status, payload


def client_for(
    app: ServerApp, sid: str, key: str = DEMO_KEY, secret: str = DEMO_SECRET,
    salt: str = DEMO_SALT,
) -> Client:  # fmt: skip
    """A `Client` calling `app` in-process as (sid, key)."""
    transport = RecordingTransport(app)
    return Client("http://stocksync.test", sid, key, f"{secret}:{salt}", transport=transport)


def recording(client: Client) -> RecordingTransport:
    """The transport of a client made by `client_for`."""
    transport = client.transport
    assert isinstance(transport, RecordingTransport)
    return transport


def raw_payload(client: Client) -> bytes:
    """The raw bytes of the answer to the client's last call."""
    return recording(client).last_payload


def tenant_rows(engine: Engine, tid: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to tenant `tid`, sorted: the database as a
    value, to show that nothing changed."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with read_tx(engine) as conn:
        for table in schema.metadata.sorted_tables:
            if "tenant_id" in table.c:
                found = conn.execute(select(table).where(table.c.tenant_id == tid))
                rows[table.name] = sorted(tuple(row) for row in found)
    return rows
