"""Snapshot documents (snapshot-format spec) of the tenants the process tests run against.

Built as plain dicts or files for `import_snapshot` / `stocksync import`, so the data goes in
the way users put it in. Every tenant has one app key (`KEY`, appsecret `APPSECRET`) that sees
every shop, and warehouses `WH1`… .
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

FORMAT = "stocksync-snapshot/1"
KEY, SECRET, SALT = "loop-key", "loop-secret", "loop-salt"
APPSECRET = f"{SECRET}:{SALT}"


def _base(sid: str, warehouses: int) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "sid": sid,
        "apps": [{"key": KEY, "secret": SECRET, "salt": SALT, "shop_ids": []}],
        "warehouses": [
            {"warehouse_id": w, "warehouse_no": f"WH{w}", "name": f"W{w}", "is_outer_stock": w == 3}
            for w in range(1, warehouses + 1)
        ],
        "shops": [{"shop_id": s, "shop_no": f"shop-{s}", "platform_id": 127} for s in (1, 2)],
    }


def _rules(warehouses: int) -> list[dict[str, Any]]:
    every = ",".join(str(w) for w in range(1, warehouses + 1))
    return [
        {"rec_id": 1, "rule_no": "ALL", "priority": 1, "shop_list": "", "warehouse_list": every,
         "stock_flag": 128, "is_auto_listing": True, "is_auto_delisting": True},
        {"rec_id": 2, "rule_no": "SHOP2", "priority": 5, "shop_list": "2", "warehouse_list": "1",
         "percent": 80, "plus_value": 1, "min_stock": 2, "max_stock": 40},
    ]  # fmt: skip


def loop_tenant(
    sid: str, *, specs: int = 40, suites: int = 8, listings: int = 240
) -> dict[str, Any]:
    """A small tenant for the concurrency test: specs `P1…`, 2-part suites `K1…`, 3 warehouses
    (WH3 outside WMS), 2 shops with competing rules, and listings spread over specs and suites
    (several per spec, so one stock change moves several listings)."""
    rng = random.Random(sid)
    doc = _base(sid, 3)
    doc["specs"] = [{"spec_id": i, "spec_no": f"P{i}"} for i in range(1, specs + 1)]
    doc["suites"] = [
        {"suite_id": i, "suite_no": f"K{i}", "suite_name": f"Kit {i}", "details": [
            {"spec_no": f"P{p}", "num": rng.choice([1, 2])}
            for p in rng.sample(range(1, specs + 1), 2)
        ]}
        for i in range(1, suites + 1)
    ]  # fmt: skip
    doc["stock"] = [
        {"warehouse_id": w, "spec_no": f"P{i}", "stock_num": rng.randint(0, 60),
         "order_num": rng.randint(0, 5)}
        for i in range(1, specs + 1) for w in (1, 2, 3)
    ]  # fmt: skip
    doc["rules"] = _rules(3)
    doc["listings"] = [
        _listing(i, 1 + i % 2, f"K{1 + i % suites}" if i % 6 == 0 else f"P{1 + i % specs}")
        for i in range(1, listings + 1)
    ]
    return doc


def _listing(rec_id: int, shop_id: int, code: str) -> dict[str, Any]:
    return {
        "rec_id": rec_id, "shop_id": shop_id, "goods_id": f"g{rec_id}", "spec_id": f"s{rec_id}",
        "outer_id": code, "spec_outer_id": code, "status": 1,
    }  # fmt: skip


def stock_tenant(sid: str, specs: int, per_spec: int = 2, first: int = 1) -> dict[str, Any]:
    """A tenant of `specs` specs `SP<n>` (n from `first`), each stocked in WH1 and sold by
    `per_spec` listings: the shape of a large stocktake or a large import."""
    doc = _base(sid, 1)
    numbers = range(first, first + specs)
    doc["specs"] = [{"spec_id": n, "spec_no": f"SP{n}"} for n in numbers]
    doc["stock"] = [{"warehouse_id": 1, "spec_no": f"SP{n}", "stock_num": n % 97} for n in numbers]
    doc["rules"] = _rules(1)
    doc["listings"] = [
        _listing(n * per_spec + k, 1 + k % 2, f"SP{n}") for n in numbers for k in range(per_spec)
    ]
    return doc


def write(doc: dict[str, Any], path: Path) -> Path:
    """Write a snapshot document to `path` (for `stocksync import`)."""
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return path
