"""Read helpers: one tenant's master data as domain values, one query each; and bulk writes.

Used by services, by snapshot import and by the batch path. Every function filters on
`tenant_id` first. Functions that take a collection of ids query it in chunks of `CHUNK` ids
(each chunk one statement) so that no backend's bound-parameter limit is reached; passing
`None` where allowed reads every row of the tenant instead.

`update_rows` and `update_ids` write many rows in a few set-based statements (never one round
trip per row): change tracking at a million listings depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, Table, literal, select, union_all

from stocksync.db.schema import custom_rule, goods_class, rule, spec, stock, suite, suite_detail
from stocksync.db.schema import warehouse as warehouse_t
from stocksync.domain.model import (
    QUANTITY_FIELDS,
    GoodsClass,
    Rule,
    RuleParams,
    StockRow,
    SuiteComponent,
    Warehouse,
)

#: How many ids one IN (...) list holds.
CHUNK = 5000
#: Rows per statement of `update_rows` on PostgreSQL (arrays) and MariaDB (a derived table).
_PG_ROWS, _MYSQL_ROWS = 50_000, 1000

_PARAM_NAMES = (
    "warehouse_list",
    "stock_flag",
    "percent",
    "plus_value",
    "min_stock",
    "max_stock",
    "is_auto_listing",
    "is_auto_delisting",
)


def id_chunks(ids: Iterable[int], size: int | None = None) -> Iterator[list[int]]:
    """The distinct ids, sorted, in lists of at most `size` (default `CHUNK`) for IN (...)."""
    size = size or CHUNK
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def load_warehouses(conn: Connection, tid: int) -> dict[int, Warehouse]:
    """Every warehouse of the tenant, by id."""
    t = warehouse_t.c
    query = select(
        t.warehouse_id, t.warehouse_no, t.name, t.is_defect, t.is_outer_stock, t.is_disabled
    ).where(t.tenant_id == tid)
    return {
        r.warehouse_id: Warehouse(
            r.warehouse_id,
            r.warehouse_no,
            r.name,
            bool(r.is_defect),
            bool(r.is_outer_stock),
            bool(r.is_disabled),
        )
        for r in conn.execute(query)
    }


def load_classes(conn: Connection, tid: int) -> dict[int, GoodsClass]:
    """Every goods class of the tenant, by id (for class paths)."""
    c = goods_class.c
    query = select(c.class_id, c.class_name, c.parent_id).where(c.tenant_id == tid)
    return {
        r.class_id: GoodsClass(r.class_id, r.class_name, r.parent_id) for r in conn.execute(query)
    }


def params_from_row(row: Any) -> RuleParams:
    """The formula parameters from a row holding the rule parameter columns (decoded values)."""
    return RuleParams(
        warehouse_list=row.warehouse_list,
        stock_flag=row.stock_flag,
        percent=row.percent,
        plus_value=row.plus_value,
        min_stock=row.min_stock,
        max_stock=row.max_stock,
        is_auto_listing=bool(row.is_auto_listing),
        is_auto_delisting=bool(row.is_auto_delisting),
    )


def rule_from_row(row: Any) -> Rule:
    """A `Rule` from a `cfg_stock_sync_rule` row."""
    return Rule(
        rec_id=row.rec_id,
        rule_no=row.rule_no,
        rule_name=row.rule_name,
        priority=row.priority,
        shop_list=row.shop_list,
        class_id=row.class_id,
        brand_id=row.brand_id,
        params=params_from_row(row),
        is_disable_syn=bool(row.is_disable_syn),
        is_disabled=bool(row.is_disabled),
    )


def rule_query(tid: int) -> Select[Any]:
    """The select behind `load_rules` (every rule column but `modified`), for narrower reads."""
    columns = [col for col in rule.c if col.name not in ("tenant_id", "modified")]
    return select(*columns).where(rule.c.tenant_id == tid).order_by(rule.c.rec_id)


def load_rules(conn: Connection, tid: int) -> list[Rule]:
    """Every strategy rule of the tenant, disabled ones included, by ascending id."""
    return [rule_from_row(r) for r in conn.execute(rule_query(tid))]


def load_match_index(conn: Connection, tid: int) -> tuple[dict[str, int], dict[str, int]]:
    """(spec_no → spec_id, suite_no → suite_id) for auto matching; empty codes are left out."""
    specs = select(spec.c.spec_no.label("code"), spec.c.spec_id.label("id"), _kind(1))
    suites = select(suite.c.suite_no.label("code"), suite.c.suite_id.label("id"), _kind(2))
    query = union_all(
        specs.where(spec.c.tenant_id == tid, spec.c.spec_no != ""),
        suites.where(suite.c.tenant_id == tid, suite.c.suite_no != ""),
    )
    by_spec: dict[str, int] = {}
    by_suite: dict[str, int] = {}
    for code, target_id, kind in conn.execute(query):
        (by_spec if kind == 1 else by_suite)[code] = target_id
    return by_spec, by_suite


def _kind(value: int) -> Any:
    return literal(value).label("kind")


def load_suite_components(
    conn: Connection, tid: int, suite_ids: Iterable[int] | None
) -> dict[int, tuple[SuiteComponent, ...]]:
    """The components of each suite (by spec id); a suite without any is absent from the map.

    `suite_ids` None reads every suite of the tenant.
    """
    d = suite_detail.c
    base = select(d.suite_id, d.spec_id, d.num).where(d.tenant_id == tid)
    found: dict[int, list[SuiteComponent]] = {}
    for query in chunked(base, d.suite_id, suite_ids):
        for r in conn.execute(query):
            found.setdefault(r.suite_id, []).append(SuiteComponent(r.spec_id, r.num))
    return {suite_id: tuple(sorted(comps, key=_by_spec)) for suite_id, comps in found.items()}


def _by_spec(component: SuiteComponent) -> int:
    return component.spec_id


def load_stock_rows(
    conn: Connection,
    tid: int,
    spec_ids: Iterable[int] | None,
    warehouse_ids: Sequence[int] | None = None,
) -> dict[tuple[int, int], StockRow]:
    """Stock rows keyed by (spec_id, warehouse_id), for those specs (None = every spec) and
    optionally only those warehouses."""
    s = stock.c
    quantities = [s[name] for name in QUANTITY_FIELDS]
    base = select(s.spec_id, s.warehouse_id, s.stock_num, s.wms_stock_diff, *quantities)
    base = base.where(s.tenant_id == tid)
    if warehouse_ids is not None:
        base = base.where(s.warehouse_id.in_(sorted(set(warehouse_ids))))
    rows: dict[tuple[int, int], StockRow] = {}
    for query in chunked(base, s.spec_id, spec_ids):
        for r in conn.execute(query):
            rows[(r[0], r[1])] = StockRow(r[0], r[1], r[2], tuple(r[4:]), r[3])
    return rows


def load_custom_rules(
    conn: Connection, tid: int, rec_ids: Iterable[int] | None = None
) -> dict[int, RuleParams]:
    """The custom rules of those listings (None = every listing), by listing rec_id."""
    c = custom_rule.c
    base = select(c.rec_id, *[c[name] for name in _PARAM_NAMES]).where(c.tenant_id == tid)
    found: dict[int, RuleParams] = {}
    for query in chunked(base, c.rec_id, rec_ids):
        for r in conn.execute(query):
            found[r.rec_id] = params_from_row(r)
    return found


def chunked(base: Select[Any], column: Any, ids: Iterable[int] | None) -> Iterator[Select[Any]]:
    """`base` once (ids None) or once per chunk of ids, restricted to `column IN chunk`."""
    if ids is None:
        yield base
        return
    for chunk in id_chunks(ids):
        yield base.where(column.in_(chunk))


def int_list(ids: Iterable[int]) -> str:
    """Ids as comma-separated integer literals for an inlined IN (...) list (int() makes it safe;
    thousands of literals parse much faster than as many bound parameters)."""
    return ",".join(str(int(i)) for i in ids)


def update_ids(conn: Connection, table: Table, tid: int, ids: Iterable[int], assign: str) -> int:
    """`UPDATE table SET <assign>` on the tenant's rows whose `rec_id` is one of `ids`, in
    chunks of `CHUNK` inlined ids, ascending (a stable lock order); returns the rows matched.

    `assign` is trusted SQL (no user input): e.g. "rule_id = 5".
    """
    sql = f"UPDATE {table.name} SET {assign} WHERE tenant_id = {int(tid)} AND rec_id IN "
    total = 0
    for chunk in id_chunks(ids):
        total += conn.exec_driver_sql(f"{sql}({int_list(chunk)})").rowcount
    return total


def update_rows(
    conn: Connection,
    table: Table,
    tid: int,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, int] | None = None,
) -> None:
    """Give each row its own values in a few statements.

    Each row is its `keys` values then its `columns` values, raw as stored (quantities as
    scaled integers); `constants` are set on every row (e.g. `modified`). SQLite runs one
    `executemany` (no round trips), PostgreSQL joins arrays (`unnest`), MariaDB joins a derived
    table of `_MYSQL_ROWS` rows per statement.
    """
    if not rows:
        return
    name = conn.dialect.name
    write = _update_pg if name == "postgresql" else _update_mysql if name == "mysql" else None
    if write is None:
        _update_many(conn, table, tid, keys, columns, rows, constants or {})
        return
    size = _PG_ROWS if name == "postgresql" else _MYSQL_ROWS
    for start in range(0, len(rows), size):
        write(conn, table, tid, keys, columns, rows[start : start + size], constants or {})


def _update_many(
    conn: Connection,
    table: Table,
    tid: int,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, int],
) -> None:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sets = [f"{col} = {mark}" for col in columns]
    sets += [f"{col} = {int(value)}" for col, value in constants.items()]
    where = " AND ".join(f"{key} = {mark}" for key in keys)
    sql = f"UPDATE {table.name} SET {', '.join(sets)} WHERE tenant_id = {int(tid)} AND {where}"
    width = len(keys)
    conn.exec_driver_sql(sql, [(*row[width:], *row[:width]) for row in rows])


def _assignments(columns: Sequence[str], constants: Mapping[str, int], target: str = "") -> str:
    sets = [f"{target}{col} = v.{col}" for col in columns]
    fixed = [f"{target}{col} = {int(value)}" for col, value in constants.items()]
    return ", ".join(sets + fixed)


def _update_pg(
    conn: Connection,
    table: Table,
    tid: int,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, int],
) -> None:
    names = [*keys, *columns]
    types = [table.c[col].type.compile(dialect=conn.dialect) for col in names]
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    on = " AND ".join(f"d.{key} = v.{key}" for key in keys)
    sql = (
        f"UPDATE {table.name} AS d SET {_assignments(columns, constants)} "
        f"FROM unnest({arrays}) AS v({', '.join(names)}) "
        f"WHERE d.tenant_id = {int(tid)} AND {on}"
    )
    conn.exec_driver_sql(sql, tuple(list(values) for values in zip(*rows, strict=True)))


def _update_mysql(
    conn: Connection,
    table: Table,
    tid: int,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, int],
) -> None:
    names = [*keys, *columns]
    first = "SELECT " + ", ".join(f"%s AS {col}" for col in names)
    other = " UNION ALL SELECT " + ", ".join(["%s"] * len(names))
    derived = first + other * (len(rows) - 1)
    on = " AND ".join(f"d.{key} = v.{key}" for key in keys)
    sql = (
        f"UPDATE {table.name} AS d JOIN ({derived}) AS v ON {on} "
        f"SET {_assignments(columns, constants, 'd.')} WHERE d.tenant_id = {int(tid)}"
    )
    conn.exec_driver_sql(sql, tuple(value for row in rows for value in row))
