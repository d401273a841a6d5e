"""batchCalcStock answers with full calcStock records, through the batch path (spec §5).

`batch_records` gets every number and error from `services.batch.batch_syn_stock` (the path
behind `stocksync listings`, so both agree by construction), then reads the record fields of the
listings that succeeded in one bulk query and builds each record with `records.build_record`,
the single-listing path's own record builder. No formula here: a listing answers exactly what
`calc_listing` would, for a fraction of the cost when thousands are asked at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from stocksync.db.loaders import id_chunks, load_rules
from stocksync.domain.checks import MSG_NOT_FOUND
from stocksync.domain.model import CUSTOM_RULE_ID, RuleParams
from stocksync.services.batch import BatchItem, batch_syn_stock
from stocksync.services.records import LISTING_FIELDS, AppliedRule, build_record, raw_rows

#: A calcStock record, field by field (see `records.build_record`).
Record = dict[str, object]

_SHOP_COLUMNS = frozenset({"platform_id", "sub_platform_id"})
_COLUMNS = ", ".join(f"sh.{n}" if n in _SHOP_COLUMNS else f"l.{n}" for n in LISTING_FIELDS)
_PARAMS = ", ".join(
    f"c.{name}"
    for name in ("warehouse_list", "stock_flag", "percent", "plus_value", "min_stock",
                 "max_stock", "is_auto_listing", "is_auto_delisting")
)  # fmt: skip
# The custom rule is joined here rather than read with `loaders.load_custom_rules`, whose IN list
# of thousands of ids costs more through SQLAlchemy than this whole query.
_FIELDS_SQL = (
    f"SELECT {_COLUMNS}, l.rule_id, c.rec_id, {_PARAMS} FROM api_goods_spec l "
    "JOIN shop sh ON sh.tenant_id = l.tenant_id AND sh.shop_id = l.shop_id "
    "LEFT JOIN api_goods_spec_custom_rule c ON c.tenant_id = l.tenant_id AND c.rec_id = l.rec_id "
    "WHERE l.tenant_id = ? AND l.rec_id IN ({marks})"
)
_RULE_ID, _CUSTOM = len(LISTING_FIELDS), len(LISTING_FIELDS) + 1
_STOCK_NUM = LISTING_FIELDS.index("stock_num")
_LAST_SYN_NUM = LISTING_FIELDS.index("last_syn_num")


def batch_records(
    conn: Connection,
    tid: int,
    items: Sequence[tuple[int, bool]],
    *,
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> tuple[list[Record], list[dict[str, object]]]:
    """(`success_date`, `error_date`) of batchCalcStock for (rec_id, force_sync) items.

    Request order is kept in both lists and duplicates are answered each time. Errors are
    `{"rec_id", "err_msg"}` with the message calcStock would give; listings outside `shop_ids`
    (None = every shop) are "not found".
    """
    answers = _answers(conn, tid, items, shop_ids, now)
    computed = _record_facts(conn, tid, [a.rec_id for a in answers if a.error is None])
    success: list[Record] = []
    errors: list[dict[str, object]] = []
    for answer in answers:
        facts = computed.get(answer.rec_id) if answer.error is None else None
        if facts is None or answer.syn_stock is None:
            errors.append({"rec_id": answer.rec_id, "err_msg": answer.error or MSG_NOT_FOUND})
        else:
            success.append(build_record(facts[0], facts[1], answer.syn_stock))
    return success, errors


def _answers(
    conn: Connection,
    tid: int,
    items: Sequence[tuple[int, bool]],
    shop_ids: frozenset[int] | None,
    now: float | None,
) -> list[BatchItem]:
    """`batch_syn_stock` once per force flag in use, merged back into request order."""
    answers: list[BatchItem | None] = [None] * len(items)
    for force in (False, True):
        positions = [i for i, item in enumerate(items) if bool(item[1]) == force]
        if not positions:
            continue
        ids = [items[i][0] for i in positions]
        found = batch_syn_stock(conn, tid, ids, force_sync=force, shop_ids=shop_ids, now=now)
        for position, answer in zip(positions, found, strict=True):
            answers[position] = answer
    return [answer for answer in answers if answer is not None]


def _record_facts(
    conn: Connection, tid: int, rec_ids: Iterable[int]
) -> dict[int, tuple[dict[str, Any], AppliedRule]]:
    """The decoded record fields and the applied rule of each listing, by rec_id.

    The applied rule is chosen as the batch path (and `records.fetch_listing`) chooses it: the
    listing's custom rule, else the rule its live-resolved `rule_id` names; a listing with
    neither is left out.
    """
    rows = [
        row
        for chunk in id_chunks(rec_ids)
        for row in raw_rows(conn, _FIELDS_SQL.format(marks=", ".join("?" * len(chunk))),
                            (tid, *chunk))
    ]  # fmt: skip
    if not rows:
        return {}
    rules = {r.rec_id: AppliedRule(r.rec_id, r.rule_no, r.params) for r in load_rules(conn, tid)}
    facts: dict[int, tuple[dict[str, Any], AppliedRule]] = {}
    for raw in rows:
        if raw[_CUSTOM] is None:
            applied = rules.get(raw[_RULE_ID])
        else:
            applied = AppliedRule(CUSTOM_RULE_ID, "", _custom_params(raw[_CUSTOM + 1 :]))
        if applied is not None:
            facts[raw[0]] = (_decoded(raw), applied)
    return facts


def _qty(scaled: int) -> Decimal:
    return Decimal(scaled).scaleb(-4)


def _custom_params(raw: Sequence[Any]) -> RuleParams:
    """A custom rule's parameters from its raw columns (quantities scaled, flags 0/1)."""
    return RuleParams(
        str(raw[0]), int(raw[1]), _qty(raw[2]), _qty(raw[3]), _qty(raw[4]), _qty(raw[5]),
        bool(raw[6]), bool(raw[7]),
    )  # fmt: skip


def _decoded(raw: Sequence[Any]) -> dict[str, Any]:
    """A raw listing row as `build_record` reads it: quantities as 4-place Decimals."""
    row = dict(zip(LISTING_FIELDS, raw, strict=False))
    row["stock_num"], row["last_syn_num"] = _qty(raw[_STOCK_NUM]), _qty(raw[_LAST_SYN_NUM])
    return row
