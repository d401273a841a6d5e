"""A synthetic tenant for the benchmark, written as a snapshot file record by record.

The shape follows the brief: listings over specs (1 spec per 5 listings) and suites of 2–4
components (1 suite per 50 listings), 5 warehouses (one outside WMS, one defect), 20 rules
competing on shop, brand and class, a few custom rules. Quantities mix whole numbers, 4-place
decimals and negatives. The same seed gives the same file.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

SHOPS = 20
BRANDS = 30
CLASSES = 60
RULES = 20
CUSTOM_RULES = 50
MASKS = (0, 128, 640, 640 | 16384, 1 | 4 | 128 | 512, 65535)


def _qty(rng: random.Random, low: int, high: int) -> int | str:
    """A whole quantity, or now and then a 4-place decimal string (never a float)."""
    whole = rng.randint(low, high)
    if rng.random() < 0.1:
        return f"{whole}.{rng.randint(0, 9999):04d}"
    return whole


def _warehouses() -> list[dict[str, Any]]:
    return [
        {"warehouse_id": wid, "warehouse_no": f"WH{wid}", "name": f"Warehouse {wid}",
         "is_outer_stock": wid == 4, "is_defect": wid == 5}
        for wid in range(1, 6)
    ]  # fmt: skip


def _shops() -> Iterator[dict[str, Any]]:
    for shop in range(1, SHOPS + 1):
        yield {"shop_id": shop, "shop_no": f"shop-{shop}", "shop_name": f"Shop {shop}",
               "platform_id": 127, "is_disabled": shop == SHOPS}  # fmt: skip


def _classes(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {"class_id": cid, "class_name": f"C{cid}",
         "parent_id": -1 if cid <= 10 else rng.randint(1, cid - 1)}
        for cid in range(1, CLASSES + 1)
    ]  # fmt: skip


def _specs(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    for i in range(1, n + 1):
        yield {"spec_id": i, "spec_no": f"SP{i:07d}", "goods_no": f"G{i // 4:06d}",
               "goods_name": f"Goods {i // 4}", "spec_name": f"v{i % 4}",
               "brand_id": rng.randint(0, BRANDS), "class_id": rng.randint(0, CLASSES)}  # fmt: skip


def _suites(rng: random.Random, n: int, n_specs: int) -> Iterator[dict[str, Any]]:
    for i in range(1, n + 1):
        parts = rng.sample(range(1, n_specs + 1), rng.randint(2, 4))
        details = [{"spec_no": f"SP{p:07d}", "num": rng.choice([1, 1, 2, 3, "0.5"])} for p in parts]
        yield {"suite_id": i, "suite_no": f"KT{i:06d}", "suite_name": f"Kit {i}",
               "brand_id": rng.randint(0, BRANDS), "class_id": rng.randint(0, CLASSES),
               "details": details}  # fmt: skip


def _stock(rng: random.Random, n_specs: int) -> Iterator[dict[str, Any]]:
    for spec in range(1, n_specs + 1):
        for wid in range(1, 6):
            row: dict[str, Any] = {"warehouse_id": wid, "spec_no": f"SP{spec:07d}",
                                   "stock_num": _qty(rng, -5, 500)}  # fmt: skip
            for name in ("order_num", "sending_num", "lock_num", "purchase_num"):
                if rng.random() < 0.3:
                    row[name] = _qty(rng, 0, 40)
            if wid == 4:
                row["wms_stock_diff"] = _qty(rng, -10, 10)
            yield row


def _params(rng: random.Random) -> dict[str, Any]:
    # some lists name the defect warehouse 5 or a warehouse twice: both are dropped
    wids = rng.sample(range(1, 5), rng.randint(1, 3)) + rng.choice([[], [], [5], [1]])
    return {"warehouse_list": ",".join(map(str, wids)), "stock_flag": rng.choice(MASKS),
            "percent": rng.choice([100, 100, 80, 90, "120.5"]),
            "plus_value": rng.choice([0, 0, 1, "0.5"]), "min_stock": rng.choice([0, 0, 1, 2]),
            "max_stock": rng.choice([0, 0, 500, 1000]), "is_auto_listing": rng.random() < 0.5,
            "is_auto_delisting": rng.random() < 0.5}  # fmt: skip


def _rules(rng: random.Random) -> list[dict[str, Any]]:
    rules = []
    for rid in range(1, RULES + 1):
        shops = rng.sample(range(1, SHOPS + 1), rng.randint(1, 5))
        rules.append({
            "rec_id": rid, "rule_no": f"R{rid:02d}", "rule_name": f"Rule {rid}",
            "priority": 0 if rid == 1 else rng.randint(1, 10),
            "shop_list": "" if rid == 1 or rng.random() < 0.3 else ",".join(map(str, shops)),
            "class_id": -1 if rid == 1 or rng.random() < 0.5 else rng.randint(1, CLASSES),
            "brand_id": -1 if rid == 1 or rng.random() < 0.6 else rng.randint(1, BRANDS),
            "is_disable_syn": rid == 7, "is_disabled": rid == 8, **_params(rng),
        })  # fmt: skip
    return rules


def _listings(rng: random.Random, n: int, n_specs: int, n_suites: int) -> Iterator[dict[str, Any]]:
    custom_every = max(n // CUSTOM_RULES, 1)
    for i in range(1, n + 1):
        roll = rng.random()
        if roll < 0.88:
            code = f"SP{rng.randint(1, n_specs):07d}"
        elif roll < 0.98:
            code = f"KT{rng.randint(1, n_suites):06d}"
        else:
            code = f"NOPE{i}"
        yield {"rec_id": i, "shop_id": rng.randint(1, SHOPS), "goods_id": f"g{i}",
               "spec_id": f"s{i}", "outer_id": code[:6], "spec_outer_id": code,
               "goods_name": f"Listing {i}", "status": rng.choice([1, 1, 1, 1, 2, 0]),
               "stock_num": rng.randint(0, 50), "is_disable_syn": rng.random() < 0.02,
               "custom_rule": _params(rng) if i % custom_every == 0 else None}  # fmt: skip


def _section(out: IO[bytes], name: str, records: Iterable[Any], last: bool = False) -> None:
    """One top-level array, one record per line, streamed."""
    out.write(b'"' + name.encode() + b'": [\n')
    first = True
    for record in records:
        if not first:
            out.write(b",\n")
        out.write(orjson.dumps(record))
        first = False
    out.write(b"\n]" + (b"\n" if last else b",\n"))


def write_tenant(path: Path, listings: int, *, sid: str = "bench", seed: int = 20240601) -> None:
    """Write the synthetic tenant with `listings` listings to `path` as a snapshot document."""
    rng = random.Random(seed)
    n_specs, n_suites = max(listings // 5, 10), max(listings // 50, 2)
    with path.open("wb") as out:
        out.write(b'{"format": "stocksync-snapshot/1", "sid": ' + orjson.dumps(sid) + b",\n")
        apps = [{"key": f"{sid}-key", "secret": "s3cret", "salt": "salt", "shop_ids": []}]
        _section(out, "apps", apps)
        _section(out, "warehouses", _warehouses())
        _section(
            out, "brands", ({"brand_id": b, "brand_name": f"B{b}"} for b in range(1, BRANDS + 1))
        )
        _section(out, "classes", _classes(rng))
        _section(out, "specs", _specs(rng, n_specs))
        _section(out, "suites", _suites(rng, n_suites, n_specs))
        _section(out, "stock", _stock(rng, n_specs))
        _section(out, "shops", _shops())
        _section(out, "rules", _rules(rng))
        _section(out, "listings", _listings(rng, listings, n_specs, n_suites), last=True)
        out.write(b"}\n")
