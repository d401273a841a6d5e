"""The calcStock checks (semantics §5), in order and with forceSync."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stocksync.domain.checks import (
    MSG_NOT_FOUND,
    MSG_UNBOUND,
    ListingGate,
    check_listing,
    disabled_message,
)
from stocksync.domain.model import DELETED, DELISTED, MATCH_SUITE, NO_RULE_ID, UNBOUND

OK = ListingGate(
    match_target_type=1, is_disable_syn=False, shop_disabled=False, status=1, rule_id=3,
    rule_disable_syn=False, delayed=False, goods_id="lz3", spec_id="lz38",
)  # fmt: skip
DISABLED = "货品id:lz3规格Id:lz38 已停用或者未开启同步"
SKIPPED_BY_FORCE = {
    "listing disabled": {"is_disable_syn": True},
    "shop disabled": {"shop_disabled": True},
    "deleted": {"status": DELETED},
    "rule forbids syncing": {"rule_disable_syn": True},
    "delayed": {"delayed": True},
}


def test_disabled_message_names_goods_and_spec_ids() -> None:
    assert disabled_message("lz3", "lz38") == DISABLED


def test_a_healthy_listing_passes_with_or_without_force() -> None:
    assert check_listing(OK, False) is None
    assert check_listing(OK, True) is None
    assert check_listing(replace(OK, match_target_type=MATCH_SUITE, status=DELISTED), False) is None


@pytest.mark.parametrize("force", [False, True])
def test_missing_listing_is_not_found_even_when_forced(force: bool) -> None:
    assert check_listing(None, force) == MSG_NOT_FOUND


@pytest.mark.parametrize("force", [False, True])
def test_unbound_listing_fails_before_the_disabled_check(force: bool) -> None:
    gate = replace(OK, match_target_type=UNBOUND, is_disable_syn=True, rule_id=NO_RULE_ID)
    assert check_listing(gate, force) == MSG_UNBOUND


@pytest.mark.parametrize("change", SKIPPED_BY_FORCE.values(), ids=SKIPPED_BY_FORCE.keys())
def test_disabled_or_delayed_fails_unless_forced(change: dict[str, object]) -> None:
    gate = replace(OK, **change)  # type: ignore[arg-type]
    assert check_listing(gate, False) == DISABLED
    assert check_listing(gate, True) is None


def test_no_rule_fails_even_when_forced() -> None:
    gate = replace(OK, rule_id=NO_RULE_ID)
    assert check_listing(gate, False) == DISABLED
    assert check_listing(gate, True) == DISABLED
