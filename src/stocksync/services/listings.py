"""Platform listings sent by a storefront (`goods.ApiGoods.upload`) and switching one off or on.

A listing is identified by shop + `goods_id` + `spec_id`; uploading it again overwrites it, and
fields not sent take their defaults, as the vendor documents (`status` 1, texts "", numbers 0).
Only shops of the self-built platform (127) take uploads, and only shops the app key may see.

New listings start pending (`stock_change_count` 1, `last_syn_num` −1), auto matched and with
their rule resolved before they are written. An existing listing is bumped once when its match
changes (its merchant codes changed what it matches) or its `status` changes (0 deleted,
1 listed, 2 delisted: the wait list skips deleted listings, auto listing depends on delisted).
Names, picture, price and the platform's `stock_num` do not change `syn_stock` and bump nothing.
Re-uploading the same data writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from stocksync.db.loaders import CHUNK, id_chunks, load_classes, load_rules
from stocksync.db.schema import custom_rule, listing, shop, spec, suite
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.matching import match_code
from stocksync.domain.model import DELETED, DELISTED, LISTED, MATCH_SPEC, MATCH_SUITE, ZERO
from stocksync.domain.rules import Resolver
from stocksync.services import inputs
from stocksync.services.tracking import MatchContext, RuleContext, apply_changes, bump_listings

#: The only platform whose listings may be uploaded (the vendor's self-built platform).
SELF_BUILT_PLATFORM = 127
#: The vendor's answer when the app key may not see the shop.
NO_PERMISSION = "权限不足"
_l = listing.c


@dataclass(frozen=True)
class ListingInfo:
    """One item of `goods_list`: `goods_no` → `outer_id`, `spec_no` → `spec_outer_id`."""

    goods_id: str = ""
    spec_id: str = ""
    outer_id: str = ""
    spec_outer_id: str = ""
    status: int = LISTED
    goods_name: str = ""
    spec_name: str = ""
    pic_url: str = ""
    price: Decimal = ZERO
    stock_num: Decimal = ZERO


_COLUMNS = tuple(f.name for f in fields(ListingInfo))


@dataclass(frozen=True)
class Uploaded:
    """The rec_id of each uploaded item (in order) and the listings bumped."""

    rec_ids: list[int]
    bumped: frozenset[int]


def upload_listings(
    conn: Connection,
    tid: int,
    shop_no: str,
    items: Sequence[ListingInfo],
    *,
    shop_ids: frozenset[int] | None,
    now: float,
) -> Uploaded:
    """Insert or overwrite the listings of one shop; nothing is written when one is refused."""
    shop_id = _shop(conn, tid, shop_no, shop_ids)
    _check(items)
    stored = _stored(conn, tid, shop_id, items)
    fresh = [item for item in items if (item.goods_id, item.spec_id) not in stored]
    created = _insert(conn, tid, shop_id, fresh, now)
    rematch, direct = _update(conn, tid, items, stored, now)
    bumped = apply_changes(conn, tid, rec_ids=direct, rematch=rematch, now=now)
    ids = {**{key: rec for key, (rec, _) in stored.items()}, **created}
    return Uploaded([ids[(i.goods_id, i.spec_id)] for i in items], frozenset(bumped))


def _shop(conn: Connection, tid: int, shop_no: str, shop_ids: frozenset[int] | None) -> int:
    inputs.text(shop_no, "shop_no", shop.c.shop_no, required=True)
    query = select(shop.c.shop_id, shop.c.shop_no, shop.c.platform_id).where(
        shop.c.tenant_id == tid, shop.c.shop_no == shop_no
    )
    row = next((r for r in conn.execute(query) if r.shop_no == shop_no), None)
    if row is None:
        raise BusinessError(f"shop_no: 店铺不存在 {shop_no!r}")
    if shop_ids is not None and row.shop_id not in shop_ids:
        raise BusinessError(NO_PERMISSION)
    if row.platform_id != SELF_BUILT_PLATFORM:
        raise BusinessError(
            f"shop_no: {shop_no!r} is not a self-built platform shop (platform_id "
            f"{row.platform_id}, not {SELF_BUILT_PLATFORM})"
        )
    return int(row.shop_id)


def _check(items: Sequence[ListingInfo]) -> None:
    for index, item in enumerate(items):
        path = f"goods_list[{index}]"
        if not (item.goods_id.strip() or item.spec_id.strip()):
            raise InvalidArgument(f"{path}.goods_id: required (goods_id or spec_id)")
        for name, sent in (("goods_id", "goods_id"), ("spec_id", "spec_id"),
                           ("outer_id", "goods_no"), ("spec_outer_id", "spec_no"),
                           ("goods_name", "goods_name"), ("spec_name", "spec_name"),
                           ("pic_url", "pic_url")):  # fmt: skip
            inputs.text(getattr(item, name), f"{path}.{sent}", _l[name])
        inputs.one_of(item.status, f"{path}.status", (DELETED, LISTED, DELISTED))
        inputs.quantity(item.price, f"{path}.price", minimum=ZERO)
        inputs.quantity(item.stock_num, f"{path}.stock_num")
    keys = [(item.goods_id, item.spec_id) for item in items]
    inputs.no_duplicates(keys, lambda i: f"goods_list[{i}]", "goods_id + spec_id")


_Key = tuple[str, str]
_Stored = dict[_Key, tuple[int, tuple[Any, ...]]]  # key -> (rec_id, values of _COLUMNS)


def _stored(conn: Connection, tid: int, shop_id: int, items: Sequence[ListingInfo]) -> _Stored:
    """The shop's stored listings among the items' keys (compared exactly)."""
    keys = {(item.goods_id, item.spec_id) for item in items}
    goods_ids = sorted({key[0] for key in keys})
    base = select(_l.rec_id, *(_l[name] for name in _COLUMNS)).where(
        _l.tenant_id == tid, _l.shop_id == shop_id
    )
    found: _Stored = {}
    for start in range(0, len(goods_ids), CHUNK):
        query = base.where(_l.goods_id.in_(goods_ids[start : start + CHUNK]))
        for row in conn.execute(query):
            values = tuple(row[1:])
            if values[:2] in keys:
                found[(values[0], values[1])] = (row.rec_id, values)
    return found


def _insert(
    conn: Connection, tid: int, shop_id: int, items: Sequence[ListingInfo], now: float
) -> dict[_Key, int]:
    """Write new listings, matched and rule-resolved; returns their rec_ids by key."""
    if not items:
        return {}
    codes = [match_code(i.outer_id, i.spec_outer_id) for i in items]
    matcher = _match_context(conn, tid, codes)
    first = inputs.next_id(conn, tid, _l.rec_id)
    rows = []
    for offset, item in enumerate(items):
        code, kind, target = matcher.match_listing(item.outer_id, item.spec_outer_id)
        rows.append(
            {name: getattr(item, name) for name in _COLUMNS}
            | {"tenant_id": tid, "rec_id": first + offset, "shop_id": shop_id,
               "match_code": code, "match_target_type": kind, "match_target_id": target,
               "stock_change_count": 1, "is_stock_changed": True, "created": int(now),
               "modified": int(now)}
        )  # fmt: skip
    rules, customs = _rule_context(conn, tid, rows)
    for row in rows:
        row["rule_id"] = rules.rule_id(
            shop_id, row["match_target_type"], row["match_target_id"], row["rec_id"] in customs
        )
    conn.execute(insert(listing), rows)
    return {(row["goods_id"], row["spec_id"]): row["rec_id"] for row in rows}


def _match_context(conn: Connection, tid: int, codes: Sequence[str]) -> MatchContext:
    """Matching restricted to the codes at hand (cheaper than loading every code of a seller)."""
    wanted = [code for code in set(codes) if code.strip()]
    return MatchContext(
        inputs.ids_by_code(conn, tid, spec.c.spec_no, spec.c.spec_id, wanted),
        inputs.ids_by_code(conn, tid, suite.c.suite_no, suite.c.suite_id, wanted),
    )


def _rule_context(
    conn: Connection, tid: int, rows: Sequence[dict[str, Any]]
) -> tuple[RuleContext, set[int]]:
    """Rule resolution for new rows (scopes of their targets only) and their custom rules."""
    spec_ids = [r["match_target_id"] for r in rows if r["match_target_type"] == MATCH_SPEC]
    suite_ids = [r["match_target_id"] for r in rows if r["match_target_type"] == MATCH_SUITE]
    scopes: list[dict[int, tuple[int, int]]] = []
    for table, ident, ids in ((spec, "spec_id", spec_ids), (suite, "suite_id", suite_ids)):
        found: dict[int, tuple[int, int]] = {}
        for chunk in id_chunks(ids):
            query = select(table.c[ident], table.c.brand_id, table.c.class_id).where(
                table.c.tenant_id == tid, table.c[ident].in_(chunk)
            )
            found.update((i, (b, c)) for i, b, c in conn.execute(query))
        scopes.append(found)
    customs: set[int] = set()
    for chunk in id_chunks(r["rec_id"] for r in rows):
        query = select(custom_rule.c.rec_id).where(
            custom_rule.c.tenant_id == tid, custom_rule.c.rec_id.in_(chunk)
        )
        customs.update(conn.execute(query).scalars())
    resolver = Resolver(load_rules(conn, tid), load_classes(conn, tid))
    return RuleContext(resolver, scopes[0], scopes[1]), customs


def _update(
    conn: Connection, tid: int, items: Sequence[ListingInfo], stored: _Stored, now: float
) -> tuple[set[int], set[int]]:
    """Overwrite changed listings; returns (to re-match, to bump for a status change)."""
    rematch: set[int] = set()
    direct: set[int] = set()
    writes: list[dict[str, Any]] = []
    for item in items:
        key = (item.goods_id, item.spec_id)
        if key not in stored:
            continue
        rec_id, old = stored[key]
        new = tuple(getattr(item, name) for name in _COLUMNS)
        if new == old:
            continue
        row = dict(zip(_COLUMNS, new, strict=True)) | {"b_rec": rec_id, "modified": int(now)}
        row |= _status_times(old[4], item.status, now)
        writes.append(row)
        if old[2:4] != new[2:4]:
            rematch.add(rec_id)
        if old[4] != item.status:
            direct.add(rec_id)
    for shape in {frozenset(w) for w in writes}:  # executemany needs one set of columns
        same = [w for w in writes if frozenset(w) == shape]
        stmt = update(listing).where(_l.tenant_id == tid, _l.rec_id == bindparam("b_rec"))
        conn.execute(stmt, same)
    return rematch, direct


def _status_times(old: int, new: int, now: float) -> dict[str, int]:
    """`list_time` / `delist_time` follow a status change to listed / delisted."""
    if old == new:
        return {}
    if new == LISTED:
        return {"list_time": int(now)}
    if new == DELISTED:
        return {"delist_time": int(now)}
    return {}


def set_listing_disabled(
    conn: Connection, tid: int, rec_id: int, disabled: bool, now: float
) -> bool:
    """Switch syncing off for one listing (`is_disable_syn`) or back on; bumps it when changed.

    Returns whether anything changed; an unknown listing is a BusinessError.
    """
    query = select(_l.is_disable_syn).where(_l.tenant_id == tid, _l.rec_id == rec_id)
    current = conn.execute(query.with_for_update()).scalar_one_or_none()
    if current is None:
        raise BusinessError(f"unknown listing {rec_id}")
    if bool(current) == disabled:
        return False
    stmt = update(listing).where(_l.tenant_id == tid, _l.rec_id == rec_id)
    conn.execute(stmt.values(is_disable_syn=disabled))
    bump_listings(conn, tid, {rec_id}, now)
    return True
