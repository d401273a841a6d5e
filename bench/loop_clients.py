"""The loop benchmark's clients: each process runs the vendor loop over its own HTTP connection.

    getSelfWaitSyncIdListOpen(page, position) → calcStock(id, false) → syncSuccess(id, info)

until its wall-clock deadline or an empty wait list. Processes, not threads: the Python client
spends real CPU per call (JSON, MD5 signature, http.client), so threads would queue on the GIL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stocksync.client import ApiError, Client

WAIT = "sales.StockSync.getSelfWaitSyncIdListOpen"
CALC = "sales.StockSync.calcStock"
SUCCESS = "sales.StockSync.syncSuccess"
#: The calcStock fields a client echoes back in `info` besides the number and the count.
RULE_FIELDS = (
    "stock_syn_rule_id", "stock_syn_rule_no", "stock_syn_warehouses", "stock_syn_mask",
    "stock_syn_percent", "stock_syn_plus", "stock_syn_min", "stock_syn_max",
    "is_auto_listing", "is_auto_delisting",
)  # fmt: skip


@dataclass(frozen=True)
class ClientRun:
    """What one client process did between `started` and `ended` (Unix times)."""

    synced: int  # syncSuccess answered status 0
    skipped: int  # calcStock refused (status 100): no ack, as a real client does
    calls: int
    cpu: float  # this process's CPU seconds during the run
    started: float
    ended: float


def run_client(url: str, credentials: tuple[str, str, str], start_at: float, until: float,
               page: int) -> ClientRun:  # fmt: skip
    """Wait until `start_at`, then run the loop until `until` or an empty wait list."""
    sid, key, appsecret = credentials
    client = Client(url, sid, key, appsecret, timeout=120)
    time.sleep(max(start_at - time.time(), 0))
    cpu, started = time.process_time(), time.time()
    synced = skipped = calls = position = 0
    while time.time() < until:
        data = client.call(WAIT, page, position)
        calls += 1
        ids, position = data["id_list"], data["position"]
        if not ids:
            break
        for rec_id in ids:
            if time.time() >= until:
                break
            try:
                record = client.call(CALC, rec_id, False)
            except ApiError:
                skipped += 1
                calls += 1
                continue
            client.call(SUCCESS, rec_id, info_of(record))
            synced, calls = synced + 1, calls + 2
    client.close()
    return ClientRun(synced, skipped, calls, time.process_time() - cpu, started, time.time())


def info_of(record: dict[str, Any]) -> dict[str, Any]:
    """The syncSuccess `info` a client builds from a calcStock record."""
    info = {"syn_stock": record["syn_stock"], "stock_change_count": record["stock_change_count"]}
    return info | {name: record[name] for name in RULE_FIELDS} | {"is_syn_success": 1}
