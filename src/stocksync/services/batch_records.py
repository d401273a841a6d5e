"""batchCalcStock answers with full calcStock records, through the batch path (spec §5).

`batch_records` reads every asked listing once, in one query per chunk of ids: the record
fields, what the checks look at and the custom rule. The numbers and errors come from
`services.batch.answer_listings` on that read (the path behind `stocksync listings`, so both
agree by construction); each record is then built straight from the row, with the rule's ten
fields made once per rule and shared. No formula here: a listing answers exactly what
`calc_listing` would, for a fraction of the cost when thousands are asked at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Connection

from stocksync.db.loaders import load_rules
from stocksync.db.types import from_scaled
from stocksync.domain.checks import MSG_NOT_FOUND
from stocksync.domain.model import CUSTOM_RULE_ID, RuleParams
from stocksync.services.batch import answer_listings, is_rec_id
from stocksync.services.batch_fetch import fetch_rows_by_ids, flag
from stocksync.services.batch_load import ListingFrame, RawParams
from stocksync.services.clock import format_time
from stocksync.services.records import RECORD_FIELDS, AppliedRule, rule_fields

#: A calcStock record, field by field (see `records.build_record`).
Record = dict[str, object]
#: A listing as `_ROWS_SQL` reads it (`_COLUMNS`), undecoded.
Row = Sequence[Any]
#: An answer: (rec_id, syn_stock or None, error or None).
Answer = tuple[int, int | None, str | None]

#: The columns read per listing: the record's own, in `records.RECORD_FIELDS` order (without
#: `syn_stock`; `_Records.record` reads them by position), then what the checks look at, then
#: the custom rule's id (NULL without one) and parameters.
_COLUMNS = (
    "l.rec_id", "l.shop_id", "sh.platform_id", "sh.sub_platform_id", "l.goods_id", "l.spec_id",
    "l.outer_id", "l.spec_outer_id", "l.match_code", "l.match_target_type",
    "l.match_target_id", "l.status", "l.stock_num", "l.last_syn_num", "l.last_syn_time",
    "l.list_time", "l.delist_time", "l.stock_change_count", "l.mask", "l.reserve_s",
    "l.rule_id", flag("l.is_disable_syn"), flag("l.is_stock_changed"), "l.disable_syn_until",
    "c.rec_id", "c.warehouse_list", "c.stock_flag", "c.percent", "c.plus_value", "c.min_stock",
    "c.max_stock", "c.is_auto_listing", "c.is_auto_delisting",
)  # fmt: skip
_ROWS_SQL = (
    f"SELECT {', '.join(_COLUMNS)} FROM api_goods_spec l "
    "LEFT JOIN shop sh ON sh.tenant_id = l.tenant_id AND sh.shop_id = l.shop_id "
    "LEFT JOIN api_goods_spec_custom_rule c ON c.tenant_id = l.tenant_id AND c.rec_id = l.rec_id "
    "WHERE l.tenant_id = ?"
)
#: The `ListingFrame` integer fields (in its field order) and platform ids, as row positions.
_FRAME_COLUMNS = (0, 1, 11, 9, 10, 20, 18, 21, 22, 23)
_GOODS_ID, _SPEC_ID = 4, 5
_RULE_ID, _CUSTOM = 20, 24


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
    wanted = {rec_id for rec_id, _ in items if is_rec_id(rec_id)}
    rows = {
        row[0]: row
        for batch in fetch_rows_by_ids(conn, _ROWS_SQL, [tid], "l.rec_id", wanted)
        for row in batch
    }
    answers = _answers(conn, tid, items, list(rows.values()), shop_ids, now)
    records = _Records(conn, tid)
    success: list[Record] = []
    errors: list[dict[str, object]] = []
    for rec_id, syn_stock, error in answers:
        row = rows.get(rec_id) if error is None else None
        template = None if row is None else records.template(row)
        if row is None or template is None or syn_stock is None:
            errors.append({"rec_id": rec_id, "err_msg": error or MSG_NOT_FOUND})
        else:
            success.append(records.record(row, template, syn_stock))
    return success, errors


def _answers(
    conn: Connection,
    tid: int,
    items: Sequence[tuple[int, bool]],
    rows: list[Row],
    shop_ids: frozenset[int] | None,
    now: float | None,
) -> list[Answer]:
    """`answer_listings` on the rows once per force flag in use, in request order."""
    frame = _frame(rows)
    customs = _customs(rows)
    answers: list[Answer | None] = [None] * len(items)
    for force in (False, True):
        positions = [i for i, item in enumerate(items) if bool(item[1]) == force]
        if not positions:
            continue
        ids = [items[i][0] for i in positions]
        part = frame
        if len(positions) < len(items):
            asked = np.array([rid for rid in ids if is_rec_id(rid)], dtype=np.int64)
            part = frame.take(np.flatnonzero(np.isin(frame.rec_id, asked)))
        found = answer_listings(
            conn, tid, part, ids, customs=customs, force_sync=force, shop_ids=shop_ids, now=now
        )
        for position, answer in zip(positions, zip(*found, strict=True), strict=True):
            answers[position] = answer
    return [answer for answer in answers if answer is not None]


def _frame(rows: list[Row]) -> ListingFrame:
    """The rows as the batch path's listing frame (platform ids included)."""
    ints = [np.fromiter(map(itemgetter(i), rows), np.int64, len(rows)) for i in _FRAME_COLUMNS]
    texts = [list(map(itemgetter(i), rows)) for i in (_GOODS_ID, _SPEC_ID)]
    return ListingFrame.build(ints, texts)


def _customs(rows: list[Row]) -> dict[int, RawParams]:
    """The custom rules of the rows, by listing, as `batch_load.load_custom_params` gives them."""
    customs: dict[int, RawParams] = {}
    for row in rows:
        if row[_CUSTOM] is not None:
            c = row[_CUSTOM + 1 :]
            customs[row[0]] = (c[0], c[1], c[2], c[3], c[4], c[5], bool(c[7]))
    return customs


class _Records:
    """Builds the records of one call. Each rule's ten fields are made once, in a template
    record that every record of that rule starts as a copy of (a copy of a dict with the same
    keys is far cheaper than building one); each quantity is decoded once per value."""

    def __init__(self, conn: Connection, tid: int) -> None:
        self._rules = {
            r.rec_id: _template(AppliedRule(r.rec_id, r.rule_no, r.params))
            for r in load_rules(conn, tid)
        }
        self._customs: dict[tuple[Any, ...], Record] = {}
        self._qty = _Quantities()

    def template(self, row: Row) -> Record | None:
        """The template of the row's rule: its custom rule, else the rule its `rule_id`
        names, else None (no rule applies), as the batch path (and `records.fetch_listing`)
        choose."""
        if row[_CUSTOM] is None:
            return self._rules.get(row[_RULE_ID])
        key = tuple(row[_CUSTOM + 1 :])
        found = self._customs.get(key)
        if found is None:
            applied = AppliedRule(CUSTOM_RULE_ID, "", _custom_params(key))
            found = self._customs[key] = _template(applied)
        return found

    def record(self, raw: Row, template: Record, syn_stock: int) -> Record:
        """The calcStock record of a row under the rule of `template`: `records.build_record`'s
        answer, straight from the columns."""
        qty = self._qty
        record = template.copy()
        record["rec_id"], record["shop_id"] = raw[0], raw[1]
        record["platform_id"], record["sub_platform_id"] = raw[2], raw[3]
        record["goods_id"], record["spec_id"] = raw[4] or "", raw[5] or ""
        record["outer_id"], record["spec_outer_id"] = raw[6] or "", raw[7] or ""
        record["match_code"], record["match_target_type"] = raw[8] or "", raw[9]
        record["match_target_id"], record["status"] = raw[10], raw[11]
        record["stock_num"], record["syn_stock"] = qty[raw[12]], int(syn_stock)
        record["last_syn_num"] = qty[raw[13]]
        record["last_syn_time"] = "" if raw[14] is None else format_time(raw[14])
        record["list_time"] = "" if raw[15] is None else format_time(raw[15])
        record["delist_time"] = "" if raw[16] is None else format_time(raw[16])
        record["stock_change_count"], record["mask"] = raw[17], raw[18]
        record["reserve_s"] = raw[19] or ""
        return record


def _template(applied: AppliedRule) -> Record:
    """A record with every field in protocol order: the rule's filled in, the listing's None
    (`_Records.record` sets every one of them)."""
    return {**dict.fromkeys(RECORD_FIELDS), **rule_fields(applied)}


class _Quantities(dict[int, Decimal]):
    """Scaled Qty values decoded as the 4-place Decimals they stand for, each once."""

    def __missing__(self, scaled: int) -> Decimal:
        found = self[scaled] = from_scaled(scaled)
        return found


def _custom_params(raw: Sequence[Any]) -> RuleParams:
    """A custom rule's parameters from its raw columns (quantities scaled, flags 0/1)."""
    return RuleParams(
        str(raw[0]), int(raw[1]), from_scaled(raw[2]), from_scaled(raw[3]),
        from_scaled(raw[4]), from_scaled(raw[5]),
        bool(raw[6]), bool(raw[7]),
    )  # fmt: skip
