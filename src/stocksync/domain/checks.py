"""The checks calcStock and batchCalcStock run before computing (semantics spec §5), in order.

`forceSync` skips the "disabled/delayed" check: a disabled listing, a disabled shop, a deleted
listing (status 0), a rule that forbids syncing and a failure delay are all overridden, since
computing a number changes nothing. It cannot skip "no rule": without a rule there are no
parameters to compute with, so that stays an error even when forced. Not found and unbound are
never skipped; the empty warehouse list is raised later, by `formula.syn_stock`.
"""

from __future__ import annotations

from dataclasses import dataclass

from stocksync.domain.model import DELETED, MATCH_SPEC, MATCH_SUITE, NO_RULE_ID

MSG_NOT_FOUND = "平台货品不存在"
MSG_UNBOUND = "未匹配货品"
MSG_EMPTY_WAREHOUSES = "仓库列表为空"


def disabled_message(goods_id: str, spec_id: str) -> str:
    """The vendor's "disabled or not syncing" message, naming the listing's platform ids."""
    return f"货品id:{goods_id}规格Id:{spec_id} 已停用或者未开启同步"


@dataclass(frozen=True, slots=True)
class ListingGate:
    """What the checks need to know about one listing (and its shop and resolved rule)."""

    match_target_type: int
    is_disable_syn: bool
    shop_disabled: bool
    status: int
    rule_id: int
    rule_disable_syn: bool
    delayed: bool
    goods_id: str
    spec_id: str


def held_back(
    is_disable_syn: bool, shop_disabled: bool, status: int, rule_disable_syn: bool, delayed: bool
) -> bool:
    """Whether a listing may not sync now: what `forceSync` overrides."""
    return is_disable_syn or shop_disabled or status == DELETED or rule_disable_syn or delayed


def check_listing(gate: ListingGate | None, force_sync: bool) -> str | None:
    """None when the listing may be computed, else the status-100 message to answer with.

    `gate` None means the listing does not exist or is in a shop the caller may not see.
    """
    if gate is None:
        return MSG_NOT_FOUND
    return check_visible(
        gate.match_target_type,
        gate.rule_id,
        not force_sync
        and held_back(
            gate.is_disable_syn,
            gate.shop_disabled,
            gate.status,
            gate.rule_disable_syn,
            gate.delayed,
        ),
        gate.goods_id,
        gate.spec_id,
    )


def check_visible(
    match_target_type: int, rule_id: int, held: bool, goods_id: str, spec_id: str
) -> str | None:
    """`check_listing` of a listing the caller may see, from its facts without a gate (the
    calcStock hot path); `held` is `held_back(...)` unless forced, else False."""
    if match_target_type not in (MATCH_SPEC, MATCH_SUITE):
        return MSG_UNBOUND
    if rule_id == NO_RULE_ID or held:
        return disabled_message(goods_id, spec_id)
    return None
