"""Goods and their specs (`goods.Goods.push`), upserted by merchant code, with change tracking.

A push describes one goods completely, the way the vendor documents it: fields not sent take
their defaults (an omitted or empty `class_name`/`brand_name` means none). Goods are keyed by
`goods_no`, specs by `spec_no` (unique per seller; a code already used by another goods is
refused with the vendor's `商家编码已存在`). Specs of the goods that the push does not list are
kept; the goods-level fields (name, brand, class) are applied to them as well.

Tracking (semantics spec §2, §6): a new `spec_no` re-runs matching for the listings whose match
code it is; a spec whose brand or class changed re-resolves the rules of its listings. Exactly
the listings whose match or rule changed are bumped, once. A push that changes nothing writes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from stocksync.db.loaders import CHUNK, id_chunks
from stocksync.db.schema import brand, goods, goods_class, listing, spec, suite, suite_detail
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import ZERO
from stocksync.services import inputs
from stocksync.services.tracking import apply_changes, listings_of_specs, listings_of_suites

#: The vendor's name for "no brand / no class".
NONE_NAME = "无"
_g, _s = goods.c, spec.c
#: Spec columns a push writes, in this order (spec_id and tenant_id aside).
_SPEC_COLUMNS = (
    "spec_no", "goods_no", "goods_name", "spec_name", "spec_code", "barcode", "brand_id",
    "class_id", "retail_price", "weight", "remark",
)  # fmt: skip
_SCOPE = slice(6, 8)  # brand_id, class_id within `_SPEC_COLUMNS`


@dataclass(frozen=True)
class GoodsInfo:
    """`goodsInfo` of goods.Goods.push (text fields default to "")."""

    goods_no: str
    goods_name: str
    class_name: str = ""
    brand_name: str = ""
    auto_create_bc: bool = False
    goods_type: int = 0
    short_name: str = ""
    remark: str = ""


@dataclass(frozen=True)
class SpecInfo:
    """One item of `specInfoList`."""

    spec_no: str
    spec_name: str = ""
    spec_code: str = ""
    barcode: str = ""
    retail_price: Decimal = ZERO
    weight: Decimal = ZERO
    remark: str = ""


@dataclass(frozen=True)
class Saved:
    """What an upsert stored: the record's id and the listings it bumped."""

    id: int
    bumped: frozenset[int]


def push_goods(
    conn: Connection, tid: int, info: GoodsInfo, specs: Sequence[SpecInfo], now: float
) -> Saved:
    """Create or update a goods and its specs; nothing is written when any field is refused."""
    _check_goods(info)
    _check_specs(specs)
    stored = _stored_specs(conn, tid, info.goods_no, [s.spec_no for s in specs])
    _check_owners(info.goods_no, specs, stored)
    brand_id, class_id = scope_ids(conn, tid, info, "goodsInfo")
    goods_id = _upsert_goods(conn, tid, info, now)
    rows = _spec_rows(info, specs, stored, brand_id, class_id)
    new_codes, rescoped = _write_specs(conn, tid, rows, stored, now)
    bumped = apply_changes(
        conn,
        tid,
        rematch=listings_with_codes(conn, tid, new_codes),
        reresolve=listings_of_specs(conn, tid, rescoped),
        now=now,
    )
    return Saved(goods_id, frozenset(bumped))


def _check_goods(info: GoodsInfo) -> None:
    inputs.text(info.goods_no, "goodsInfo.goods_no", _g.goods_no, required=True)
    inputs.text(info.goods_name, "goodsInfo.goods_name", _g.goods_name, required=True)
    inputs.text(info.short_name, "goodsInfo.short_name", _g.short_name)
    inputs.text(info.remark, "goodsInfo.remark", _g.remark)
    inputs.text(info.class_name, "goodsInfo.class_name", goods_class.c.class_name)
    inputs.text(info.brand_name, "goodsInfo.brand_name", brand.c.brand_name)
    if info.goods_type < 0:
        raise InvalidArgument(f"goodsInfo.goods_type: must be ≥ 0, not {info.goods_type}")


def _check_specs(specs: Sequence[SpecInfo]) -> None:
    if not specs:
        raise InvalidArgument("specInfoList: at least one spec is required")
    for index, item in enumerate(specs):
        path = f"specInfoList[{index}]"
        inputs.text(item.spec_no, f"{path}.spec_no", _s.spec_no, required=True)
        for name in ("spec_name", "spec_code", "barcode", "remark"):
            inputs.text(getattr(item, name), f"{path}.{name}", _s[name])
        for name in ("retail_price", "weight"):
            inputs.quantity(getattr(item, name), f"{path}.{name}", minimum=ZERO)
    inputs.no_duplicates((s.spec_no for s in specs), _spec_path, "spec_no")


def _spec_path(index: int) -> str:
    return f"specInfoList[{index}].spec_no"


_Stored = dict[str, tuple[int, tuple[Any, ...]]]  # spec_no -> (spec_id, values of _SPEC_COLUMNS)


def _stored_specs(conn: Connection, tid: int, goods_no: str, codes: Sequence[str]) -> _Stored:
    """The stored specs that have one of `codes` or belong to `goods_no` (exact match)."""
    columns = [_s.spec_id, *(_s[name] for name in _SPEC_COLUMNS)]
    found: _Stored = {}
    mine = select(*columns).where(_s.tenant_id == tid, _s.goods_no == goods_no)
    listed = inputs.ids_by_code(conn, tid, _s.spec_no, _s.spec_id, codes)
    by_id = select(*columns).where(_s.tenant_id == tid)
    queries = [mine] + [by_id.where(_s.spec_id.in_(chunk)) for chunk in id_chunks(listed.values())]
    for query in queries:
        for row in conn.execute(query):
            if row.goods_no == goods_no or row.spec_no in listed:
                found[row.spec_no] = (row.spec_id, tuple(row[1:]))
    return found


def _check_owners(goods_no: str, specs: Sequence[SpecInfo], stored: _Stored) -> None:
    """A listed spec_no must be new, this goods' own, or a spec without goods (it is adopted)."""
    for index, item in enumerate(specs):
        owner = stored[item.spec_no][1][1] if item.spec_no in stored else ""
        if owner not in ("", goods_no):
            raise BusinessError(
                f"specInfoList[{index}].spec_no: 商家编码已存在 ({item.spec_no!r} belongs to "
                f"goods_no {owner!r})"
            )


def scope_ids(conn: Connection, tid: int, info: Any, path: str) -> tuple[int, int]:
    """(brand_id, class_id) named by `info.brand_name` / `info.class_name` (0 = none).

    Unknown names are refused (status 100) unless `info.auto_create_bc`, which creates them (a
    class at the root). Several stored records with one name: the smallest id is used.
    """
    return (
        _named(conn, tid, brand.c.brand_name, brand.c.brand_id, info, f"{path}.brand_name"),
        _named(conn, tid, goods_class.c.class_name, goods_class.c.class_id, info,
               f"{path}.class_name"),
    )  # fmt: skip


def _named(conn: Connection, tid: int, name_col: Any, id_col: Any, info: Any, path: str) -> int:
    name = getattr(info, name_col.name)
    if not name.strip():
        return 0
    query = select(id_col, name_col).where(name_col.table.c.tenant_id == tid, name_col == name)
    ids = [row[0] for row in conn.execute(query) if row[1] == name]
    if ids:
        return int(min(ids))
    if name == NONE_NAME:
        return 0
    if not info.auto_create_bc:
        noun = name_col.name.removesuffix("_name")
        raise BusinessError(f"{path}: unknown {noun} {name!r} (send auto_create_bc to create it)")
    new_id = inputs.next_id(conn, tid, id_col)
    values = {"tenant_id": tid, id_col.name: new_id, name_col.name: name}
    conn.execute(insert(name_col.table).values(values))
    return new_id


def _upsert_goods(conn: Connection, tid: int, info: GoodsInfo, now: float) -> int:
    names = ("goods_name", "short_name", "goods_type", "remark")
    new = tuple(getattr(info, name) for name in names)
    query = select(_g.goods_id, _g.goods_no, *(_g[n] for n in names)).where(
        _g.tenant_id == tid, _g.goods_no == info.goods_no
    )
    row = next((r for r in conn.execute(query) if r.goods_no == info.goods_no), None)
    if row is None:
        goods_id = inputs.next_id(conn, tid, _g.goods_id)
        values = dict(zip(names, new, strict=True))
        conn.execute(
            insert(goods).values(tenant_id=tid, goods_id=goods_id, goods_no=info.goods_no, **values)
        )
        return goods_id
    if tuple(row[2:]) != new:
        stmt = update(goods).where(_g.tenant_id == tid, _g.goods_id == row.goods_id)
        conn.execute(stmt.values(dict(zip(names, new, strict=True))))
    return int(row.goods_id)


def _spec_rows(
    info: GoodsInfo, specs: Sequence[SpecInfo], stored: _Stored, brand_id: int, class_id: int
) -> dict[str, tuple[Any, ...]]:
    """The new values of every spec the push touches: the listed ones, then the goods' others."""
    rows: dict[str, tuple[Any, ...]] = {}
    for item in specs:
        rows[item.spec_no] = (
            item.spec_no, info.goods_no, info.goods_name, item.spec_name, item.spec_code,
            item.barcode, brand_id, class_id, item.retail_price, item.weight, item.remark,
        )  # fmt: skip
    for code, (_, old) in stored.items():
        if code not in rows and old[1] == info.goods_no:
            rows[code] = (*old[:2], info.goods_name, *old[3:6], brand_id, class_id, *old[8:])
    return rows


def _write_specs(
    conn: Connection, tid: int, rows: dict[str, tuple[Any, ...]], stored: _Stored, now: float
) -> tuple[set[str], set[int]]:
    """Insert new specs, update changed ones; returns (new codes, spec ids whose scope changed)."""
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    rescoped: set[int] = set()
    for code, new in rows.items():
        values = dict(zip(_SPEC_COLUMNS, new, strict=True)) | {"modified": int(now)}
        if code not in stored:
            inserts.append(values | {"tenant_id": tid})
            continue
        spec_id, old = stored[code]
        if old != new:
            updates.append(values | {"b_id": spec_id})
        if old[_SCOPE] != new[_SCOPE]:
            rescoped.add(spec_id)
    if updates:
        stmt = update(spec).where(_s.tenant_id == tid, _s.spec_id == bindparam("b_id"))
        conn.execute(stmt, updates)
    if inserts:
        first = inputs.next_id(conn, tid, _s.spec_id)
        for offset, values in enumerate(inserts):
            values["spec_id"] = first + offset
        conn.execute(insert(spec), inserts)
    return {values["spec_no"] for values in inserts}, rescoped


def listings_with_codes(conn: Connection, tid: int, codes: Iterable[str]) -> set[int]:
    """Listings (manual matches included) whose `match_code` is one of `codes` (exactly)."""
    wanted = set(codes)
    found: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        query = select(listing.c.rec_id, listing.c.match_code).where(
            listing.c.tenant_id == tid, listing.c.match_code.in_(chunk)
        )
        found.update(rec for rec, code in conn.execute(query) if code in wanted)
    return found


# -- suites ---------------------------------------------------------------------------------

_u, _d = suite.c, suite_detail.c
_SUITE_COLUMNS = ("suite_name", "barcode", "brand_id", "class_id", "remark")


@dataclass(frozen=True)
class SuiteInfo:
    """`suite` of goods.Suite.upload2 (text fields default to "")."""

    suite_no: str
    suite_name: str
    class_name: str = ""
    brand_name: str = ""
    auto_create_bc: bool = False
    barcode: str = ""
    remark: str = ""


@dataclass(frozen=True)
class SuiteItem:
    """One item of `suite_detail_list`; `num` None = not sent."""

    spec_no: str
    num: Decimal | None


def upload_suite(
    conn: Connection, tid: int, info: SuiteInfo, details: Sequence[SuiteItem], now: float
) -> Saved:
    """Create or update a suite by `suite_no`; the details replace its whole composition.

    Each detail names a stored spec; a spec listed twice is refused. A changed composition
    bumps the suite's listings; a new suite_no re-matches the listings with that code; a
    changed brand or class re-resolves the suite's listings.
    """
    _check_suite(info, details)
    components = _components(conn, tid, details)
    brand_id, class_id = scope_ids(conn, tid, info, "suite")
    values = (info.suite_name, info.barcode, brand_id, class_id, info.remark)
    suite_id, old = _stored_suite(conn, tid, info.suite_no)
    recomposed = old is not None and _stored_components(conn, tid, suite_id) != components
    if old is None:
        suite_id = inputs.next_id(conn, tid, _u.suite_id)
        row = dict(zip(_SUITE_COLUMNS, values, strict=True)) | {"modified": int(now)}
        conn.execute(insert(suite).values(tenant_id=tid, suite_id=suite_id,
                                          suite_no=info.suite_no, **row))  # fmt: skip
    elif recomposed or old != values:
        stmt = update(suite).where(_u.tenant_id == tid, _u.suite_id == suite_id)
        row = dict(zip(_SUITE_COLUMNS, values, strict=True)) | {"modified": int(now)}
        conn.execute(stmt.values(row))
    if old is None or recomposed:
        _replace_components(conn, tid, suite_id, components)
    rescoped = old is not None and old[2:4] != values[2:4]
    bumped = apply_changes(
        conn,
        tid,
        suite_ids={suite_id} if recomposed else (),
        rematch=listings_with_codes(conn, tid, [info.suite_no]) if old is None else None,
        reresolve=listings_of_suites(conn, tid, {suite_id}) if rescoped else None,
        now=now,
    )
    return Saved(suite_id, frozenset(bumped))


def _check_suite(info: SuiteInfo, details: Sequence[SuiteItem]) -> None:
    inputs.text(info.suite_no, "suite.suite_no", _u.suite_no, required=True)
    inputs.text(info.suite_name, "suite.suite_name", _u.suite_name, required=True)
    inputs.text(info.barcode, "suite.barcode", _u.barcode)
    inputs.text(info.remark, "suite.remark", _u.remark)
    inputs.text(info.class_name, "suite.class_name", goods_class.c.class_name)
    inputs.text(info.brand_name, "suite.brand_name", brand.c.brand_name)
    if not details:
        raise InvalidArgument("suite_detail_list: at least one component is required")
    for index, item in enumerate(details):
        path = f"suite_detail_list[{index}]"
        inputs.text(item.spec_no, f"{path}.spec_no", _s.spec_no, required=True)
        inputs.quantity(item.num, f"{path}.num", positive=True)
    inputs.no_duplicates((d.spec_no for d in details), _detail_path, "spec_no")


def _detail_path(index: int) -> str:
    return f"suite_detail_list[{index}].spec_no"


def _components(conn: Connection, tid: int, details: Sequence[SuiteItem]) -> dict[int, Decimal]:
    """{spec_id: num} of the details; a spec_no that is not stored is refused (status 100)."""
    ids = inputs.ids_by_code(conn, tid, _s.spec_no, _s.spec_id, (d.spec_no for d in details))
    for index, item in enumerate(details):
        if item.spec_no not in ids:
            raise BusinessError(
                f"suite_detail_list[{index}].spec_no: 商家编码:{item.spec_no} 单品不存在"
            )
    return {ids[d.spec_no]: Decimal(d.num or 0) for d in details}


def _stored_suite(conn: Connection, tid: int, suite_no: str) -> tuple[int, tuple[Any, ...] | None]:
    query = select(_u.suite_id, _u.suite_no, *(_u[n] for n in _SUITE_COLUMNS)).where(
        _u.tenant_id == tid, _u.suite_no == suite_no
    )
    row = next((r for r in conn.execute(query) if r.suite_no == suite_no), None)
    return (0, None) if row is None else (int(row.suite_id), tuple(row[2:]))


def _stored_components(conn: Connection, tid: int, suite_id: int) -> dict[int, Decimal]:
    query = select(_d.spec_id, _d.num).where(_d.tenant_id == tid, _d.suite_id == suite_id)
    return {int(row[0]): row[1] for row in conn.execute(query)}


def _replace_components(
    conn: Connection, tid: int, suite_id: int, components: dict[int, Decimal]
) -> None:
    conn.execute(delete(suite_detail).where(_d.tenant_id == tid, _d.suite_id == suite_id))
    rows = [
        {"tenant_id": tid, "suite_id": suite_id, "spec_id": spec_id, "num": num}
        for spec_id, num in components.items()
    ]
    conn.execute(insert(suite_detail), rows)
