"""The calcStock checks (semantics spec §5) for many listings, through `check_listing` itself.

Listings are grouped by the facts `domain.checks.check_listing` looks at; it runs once per
group with two different stand-in platform ids. A group whose message does not change with the
ids shares it. When it does (the "disabled" message names goods_id and spec_id), the message is
split around the stand-ins into a template, used only if it rebuilds both answers exactly;
otherwise `check_listing` runs again for each listing with its real ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from stocksync.domain.checks import ListingGate, check_listing
from stocksync.services.batch_formula import IntArray

BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
#: Reads (goods_id, spec_id) of the listings at the given row indices, as two object arrays.
PlatformIds = Callable[[IntArray], tuple["ObjectArray", "ObjectArray"]]

# Two different stand-ins: a message that changes with them names the ids.
_STAND_INS = (("\x00goods", "\x00spec"), ("\x01goods", "\x01spec"))
_KEY_BITS = 62


@dataclass(frozen=True)
class GateFacts:
    """For every listing, the fields of its `ListingGate` (ids aside) and whether it is visible."""

    visible: BoolArray  # exists in a known shop the caller may see
    match_target_type: IntArray
    is_disable_syn: BoolArray
    shop_disabled: BoolArray
    status: IntArray
    rule_id: IntArray
    rule_disable_syn: BoolArray
    delayed: BoolArray

    def gate(self, row: int, goods_id: str, spec_id: str) -> ListingGate | None:
        """The gate of the listing at `row` (None when it is not visible)."""
        if not self.visible[row]:
            return None
        return ListingGate(
            int(self.match_target_type[row]),
            bool(self.is_disable_syn[row]),
            bool(self.shop_disabled[row]),
            int(self.status[row]),
            int(self.rule_id[row]),
            bool(self.rule_disable_syn[row]),
            bool(self.delayed[row]),
            goods_id,
            spec_id,
        )


def check_all(
    facts: GateFacts, force_sync: bool, platform_ids: PlatformIds
) -> tuple[ObjectArray, BoolArray]:
    """(the §5 message or None, failed) of every listing, as arrays."""
    errors: ObjectArray = np.full(len(facts.visible), None, dtype=object)
    failed = np.zeros(len(facts.visible), dtype=bool)
    named: list[tuple[IntArray, list[str | None]]] = []  # groups whose message names the ids
    for rows in _groups(facts):
        first = int(rows[0])
        messages = [check_listing(facts.gate(first, *ids), force_sync) for ids in _STAND_INS]
        if messages[0] is None:
            continue
        failed[rows] = True
        if messages[0] == messages[1]:
            errors[rows] = messages[0]
        else:
            named.append((rows, messages))
    if named:
        _name_ids(errors, facts, force_sync, named, platform_ids)
    return errors, failed


def _name_ids(
    errors: ObjectArray,
    facts: GateFacts,
    force_sync: bool,
    named: list[tuple[IntArray, list[str | None]]],
    platform_ids: PlatformIds,
) -> None:
    """Fill the messages that name each listing's ids, reading all the ids in one go."""
    every = np.sort(np.concatenate([rows for rows, _ in named]))
    goods, specs = platform_ids(every)
    for rows, messages in named:
        at = np.searchsorted(every, rows)
        pairs = zip(goods[at].tolist(), specs[at].tolist(), strict=True)
        template = _template(messages)
        texts: list[str | None]
        if template is not None:
            head, middle, tail = template
            texts = [f"{head}{g}{middle}{s}{tail}" for g, s in pairs]
        else:
            texts = [
                check_listing(facts.gate(row, g, s), force_sync)
                for row, (g, s) in zip(rows.tolist(), pairs, strict=True)
            ]
        errors[rows] = np.array(texts, dtype=object)


def _template(messages: Sequence[str | None]) -> tuple[str, str, str] | None:
    """(head, middle, tail) with message = head + goods_id + middle + spec_id + tail, when the
    messages for both stand-ins are exactly that; else None."""
    (goods, spec), (other_goods, other_spec) = _STAND_INS
    first = messages[0] or ""
    if first.count(goods) != 1 or first.count(spec) != 1:
        return None
    head, rest = first.split(goods)
    if spec not in rest:
        return None
    middle, tail = rest.split(spec)
    if f"{head}{other_goods}{middle}{other_spec}{tail}" != messages[1]:
        return None
    return head, middle, tail


def _groups(facts: GateFacts) -> list[IntArray]:
    """Row indices of each distinct combination of facts."""
    if not len(facts.visible):
        return []
    key = np.zeros(len(facts.visible), dtype=np.int64)
    bits = 0
    for field in fields(facts):
        codes, width = _codes(getattr(facts, field.name))
        if bits + width > _KEY_BITS:
            key, bits = _compact(key)
        key, bits = (key << width) | codes, bits + width
    _, inverse = np.unique(key, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.diff(inverse[order], prepend=-1))
    return np.split(order, starts[1:])


def _codes(column: npt.NDArray[Any]) -> tuple[IntArray, int]:
    """Small non-negative codes for a column's values, and how many bits they take."""
    values = column.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= 1 << 16:
        _, values = np.unique(values, return_inverse=True)
        high = int(values.max())
    return values, max(high.bit_length(), 1)


def _compact(key: IntArray) -> tuple[IntArray, int]:
    _, inverse = np.unique(key, return_inverse=True)
    return inverse.astype(np.int64), max(int(inverse.max()).bit_length(), 1)
