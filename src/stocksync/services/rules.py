"""Live stock-sync rules (semantics spec §3.5): every edit re-resolves and bumps at once.

Creating, editing, enabling, disabling or deleting a strategy rule, or setting a listing's custom
rule, re-resolves exactly the listings it can affect and bumps (§6) the listings whose resolved
rule changed plus those whose resolved rule is the edited rule before or after the edit. An edit
that changes nothing bumps nothing.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from stocksync.db.loaders import rule_from_row, rule_query
from stocksync.db.schema import brand, custom_rule, goods_class, listing, rule
from stocksync.db.types import QuantityError, to_scaled
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import FULL_MASK, Rule, RuleParams
from stocksync.domain.rules import parse_shop_list
from stocksync.services.tracking import bump_listings, listings_of_rules, resettle

_INT32 = 2**31 - 1
_r = rule.c


def validate_rule(rule_: Rule) -> None:
    """Refuse a rule that cannot be stored or used: InvalidArgument naming the field."""
    if not 0 <= rule_.rec_id <= _INT32:
        raise InvalidArgument(f"rec_id: must be 0 (assign) or a positive id, not {rule_.rec_id}")
    if not -_INT32 <= rule_.priority <= _INT32:
        raise InvalidArgument(f"priority: out of range: {rule_.priority}")
    for name in ("class_id", "brand_id"):
        value = getattr(rule_, name)
        if value != -1 and not 0 < value <= _INT32:
            raise InvalidArgument(f"{name}: must be -1 (any) or a positive id, not {value}")
    for name, limit in (("rule_no", 64), ("rule_name", 128), ("shop_list", 1024)):
        if len(getattr(rule_, name)) > limit:
            raise InvalidArgument(f"{name}: longer than {limit} characters")
    validate_params(rule_.params)


def validate_params(params: RuleParams, prefix: str = "") -> None:
    """Refuse formula parameters a rule may not have (min, max, percent ≥ 0, a 16-bit mask)."""
    if len(params.warehouse_list) > 1024:
        raise InvalidArgument(f"{prefix}warehouse_list: longer than 1024 characters")
    if not 0 <= params.stock_flag <= FULL_MASK:
        raise InvalidArgument(f"{prefix}stock_flag: mask must be within 0..{FULL_MASK}")
    for name in ("percent", "plus_value", "min_stock", "max_stock"):
        value = getattr(params, name)
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise InvalidArgument(f"{prefix}{name}: not a decimal: {value!r}")
        try:
            to_scaled(Decimal(value))
        except QuantityError as exc:
            raise InvalidArgument(f"{prefix}{name}: {exc}") from None
        if name != "plus_value" and value < 0:
            raise InvalidArgument(f"{prefix}{name}: must be ≥ 0, not {value}")


def _params_columns(params: RuleParams) -> dict[str, Any]:
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(RuleParams)}


def _rule_columns(rule_: Rule) -> dict[str, Any]:
    names = ("rule_no", "rule_name", "priority", "shop_list", "class_id", "brand_id")
    columns = {name: getattr(rule_, name) for name in names}
    columns.update(is_disable_syn=rule_.is_disable_syn, is_disabled=rule_.is_disabled)
    return columns | _params_columns(rule_.params)


def _load_rule(conn: Connection, tid: int, rule_id: int) -> Rule:
    row = conn.execute(rule_query(tid).where(_r.rec_id == rule_id)).one_or_none()
    if row is None:
        raise BusinessError(f"unknown rule {rule_id}")
    return rule_from_row(row)


def _check_references(conn: Connection, tid: int, rule_: Rule) -> None:
    """The rule's class, brand and number must make sense in this tenant."""
    for table, column, value in (
        (goods_class, "class_id", rule_.class_id),
        (brand, "brand_id", rule_.brand_id),
    ):
        query = select(table.c[column]).where(table.c.tenant_id == tid, table.c[column] == value)
        if value != -1 and conn.execute(query).first() is None:
            raise InvalidArgument(f"{column}: unknown {column[:-3]} {value}")
    if rule_.rule_no:
        query = select(_r.rec_id).where(_r.tenant_id == tid, _r.rule_no == rule_.rule_no)
        if conn.execute(query.where(_r.rec_id != rule_.rec_id)).first() is not None:
            raise BusinessError(f"rule_no {rule_.rule_no} is already used by another rule")


def _shop_scope(*rules: Rule) -> frozenset[int] | None:
    """The shops the rules can reach together; None when one of them reaches every shop."""
    shops: set[int] = set()
    for rule_ in rules:
        named = parse_shop_list(rule_.shop_list)
        if named is None:
            return None
        shops |= named
    return frozenset(shops)


def _resettle(
    conn: Connection,
    tid: int,
    rule_id: int,
    scope: frozenset[int] | None,
    now: float,
    before: set[int],
) -> None:
    """Re-resolve listings in `scope` shops, then bump changed ones and those on the rule.

    A listing whose rule changed gets its new rule and its bump in one row write
    (`tracking.resettle`). Those on the rule now were on it before or have just moved to it,
    so the last bump is normally empty; it keeps the promise should a stored rule id be stale.
    """
    bumped = resettle(conn, tid, None, shop_ids=scope, bump=before, now=now)
    bump_listings(conn, tid, listings_of_rules(conn, tid, {rule_id}) - bumped, now)


def create_rule(conn: Connection, tid: int, rule_: Rule, now: float) -> int:
    """Store a new strategy rule (rec_id 0 = the tenant's largest id + 1); returns its id."""
    validate_rule(rule_)
    if rule_.rec_id == 0:
        query = select(func.coalesce(func.max(_r.rec_id), 0)).where(_r.tenant_id == tid)
        rule_ = dataclasses.replace(rule_, rec_id=int(conn.execute(query).scalar_one()) + 1)
    elif conn.execute(rule_query(tid).where(_r.rec_id == rule_.rec_id)).first() is not None:
        raise BusinessError(f"rule {rule_.rec_id} already exists")
    _check_references(conn, tid, rule_)
    values = _rule_columns(rule_) | {"tenant_id": tid, "rec_id": rule_.rec_id, "modified": int(now)}
    conn.execute(insert(rule).values(values))
    if not rule_.is_disabled:
        _resettle(conn, tid, rule_.rec_id, _shop_scope(rule_), now, set())
    return rule_.rec_id


def update_rule(conn: Connection, tid: int, rule_: Rule, now: float) -> None:
    """Replace a strategy rule's fields; unknown id → BusinessError."""
    validate_rule(rule_)
    old = _load_rule(conn, tid, rule_.rec_id)
    _check_references(conn, tid, rule_)
    _replace(conn, tid, old, rule_, now)


def set_rule_disabled(conn: Connection, tid: int, rule_id: int, disabled: bool, now: float) -> None:
    """Switch a rule off (it stops being a candidate) or back on."""
    old = _load_rule(conn, tid, rule_id)
    _replace(conn, tid, old, dataclasses.replace(old, is_disabled=disabled), now)


def _ranking(rule_: Rule) -> tuple[object, ...]:
    """What decides which listings a rule wins (its parameters do not)."""
    return (rule_.is_disabled, rule_.shop_list, rule_.class_id, rule_.brand_id, rule_.priority)


def _replace(conn: Connection, tid: int, old: Rule, new: Rule, now: float) -> None:
    if new == old:
        return
    before = listings_of_rules(conn, tid, {old.rec_id})
    stmt = update(rule).where(_r.tenant_id == tid, _r.rec_id == old.rec_id)
    conn.execute(stmt.values(_rule_columns(new) | {"modified": int(now)}))
    if _ranking(new) == _ranking(old):
        # Only parameters changed: every listing keeps its rule, the rule's own change.
        bump_listings(conn, tid, before, now)
    elif new.is_disabled:
        # A disabled rule can only lose listings: only its own listings may change.
        resettle(conn, tid, before, bump=before, now=now)
    else:
        _resettle(conn, tid, old.rec_id, _shop_scope(old, new), now, before)


def delete_rule(conn: Connection, tid: int, rule_id: int, now: float) -> None:
    """Delete a strategy rule; its listings fall to the next rule (or none) and are bumped."""
    _load_rule(conn, tid, rule_id)
    before = listings_of_rules(conn, tid, {rule_id})
    conn.execute(delete(rule).where(_r.tenant_id == tid, _r.rec_id == rule_id))
    resettle(conn, tid, before, bump=before, now=now)


def set_custom_rule(
    conn: Connection, tid: int, rec_id: int, params: RuleParams | None, now: float
) -> None:
    """Give a listing its own rule parameters (which win outright), or remove them (None)."""
    lc, c = listing.c, custom_rule.c
    found = select(lc.rec_id).where(lc.tenant_id == tid, lc.rec_id == rec_id)
    if conn.execute(found).first() is None:
        raise BusinessError(f"unknown listing {rec_id}")
    if params is not None:
        validate_params(params, "custom_rule.")
    mine = (c.tenant_id == tid, c.rec_id == rec_id)
    row = conn.execute(select(*[c[n] for n in _params_columns(RuleParams())]).where(*mine)).first()
    old = None if row is None else RuleParams(**row._asdict())
    if old == params:
        return
    conn.execute(delete(custom_rule).where(*mine))
    if params is not None:
        values = _params_columns(params) | {"tenant_id": tid, "rec_id": rec_id}
        conn.execute(insert(custom_rule).values(values))
    resettle(conn, tid, {rec_id}, bump={rec_id}, now=now)
