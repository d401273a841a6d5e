from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.errors import BusinessError
from stocksync.domain.model import DELETED, DELISTED, LISTED, MASK_DELAYED
from stocksync.domain.syncstate import (
    INT32_MAX,
    Cancel,
    Change,
    Failure,
    Instant,
    Lease,
    Success,
    SyncState,
    apply,
    retry_delay,
)

AT = Instant(unix=1_700_000_000, wdt=374_652_800)
PENDING = SyncState(stock_change_count=5, is_stock_changed=True)


def test_a_change_bumps_the_counter_and_sets_pending() -> None:
    after = apply(SyncState(stock_change_count=3), Change(), AT).state
    assert (after.stock_change_count, after.is_stock_changed) == (4, True)


def test_a_lease_holds_the_listing_back_and_clears_an_expired_failure_delay() -> None:
    state = SyncState(is_stock_changed=True, mask=MASK_DELAYED | 4, disable_syn_until=AT.wdt - 1)
    after = apply(state, Lease(300), AT).state
    assert after.disable_syn_until == AT.wdt + 300
    assert after.mask == 4
    assert not after.waiting(AT)
    assert after.waiting(Instant(AT.unix + 300, AT.wdt + 300))


def test_a_lease_end_never_exceeds_int32() -> None:
    after = apply(PENDING, Lease(300), Instant(0, INT32_MAX - 10)).state
    assert after.disable_syn_until == INT32_MAX


def test_success_with_the_current_count_clears_pending_and_records_the_push() -> None:
    state = SyncState(
        stock_change_count=5,
        is_stock_changed=True,
        fail_count=3,
        mask=MASK_DELAYED,
        disable_syn_until=AT.wdt + 100,
    )
    transition = apply(state, Success(syn_stock=12, stock_change_count=5), AT)
    after = transition.state
    assert transition.applied
    assert not after.is_stock_changed
    assert (after.stock_num, after.last_syn_num) == (Decimal(12), Decimal(12))
    assert after.last_syn_time == AT.unix
    assert (after.fail_count, after.mask, after.disable_syn_until) == (0, 0, 0)
    assert after.stock_change_count == 5


@pytest.mark.parametrize("acknowledged", [4, 6, -1, None])
def test_success_with_another_or_no_count_keeps_pending(acknowledged: int | None) -> None:
    transition = apply(PENDING, Success(syn_stock=7, stock_change_count=acknowledged), AT)
    assert not transition.applied
    assert transition.state.is_stock_changed
    assert transition.state.last_syn_num == Decimal(7)
    assert "still pending" in transition.result


def test_success_never_sets_pending_on_a_listing_that_was_not_pending() -> None:
    state = SyncState(stock_change_count=5, is_stock_changed=False)
    after = apply(state, Success(syn_stock=1, stock_change_count=4), AT).state
    assert not after.is_stock_changed


def test_pushing_zero_with_auto_delisting_delists_a_listed_listing() -> None:
    event = Success(syn_stock=0, stock_change_count=5, is_auto_delisting=True)
    after = apply(PENDING, event, AT).state
    assert (after.status, after.delist_time, after.list_time) == (DELISTED, AT.unix, None)


def test_pushing_zero_without_auto_delisting_keeps_the_listing_listed() -> None:
    event = Success(syn_stock=0, stock_change_count=5, is_auto_listing=True)
    assert apply(PENDING, event, AT).state.status == LISTED


def test_pushing_stock_with_auto_listing_relists_a_delisted_listing() -> None:
    state = SyncState(status=DELISTED, delist_time=1)
    after = apply(state, Success(syn_stock=3, stock_change_count=0, is_auto_listing=True), AT).state
    assert (after.status, after.list_time, after.delist_time) == (LISTED, AT.unix, 1)


def test_pushing_stock_without_auto_listing_leaves_a_delisted_listing_delisted() -> None:
    state = SyncState(status=DELISTED)
    event = Success(syn_stock=3, stock_change_count=0, is_auto_delisting=True)
    assert apply(state, event, AT).state.status == DELISTED


def test_a_deleted_listing_stays_deleted_whatever_is_pushed() -> None:
    state = SyncState(status=DELETED)
    for pushed in (0, 5):
        event = Success(pushed, 0, is_auto_listing=True, is_auto_delisting=True)
        assert apply(state, event, AT).state.status == DELETED


def test_failures_back_off_60_120_240_up_to_an_hour_and_set_the_mask_bit() -> None:
    state, delays = PENDING, []
    for _ in range(9):
        transition = apply(state, Failure(), AT)
        state = transition.state
        delays.append(state.disable_syn_until - AT.wdt)
        assert state.mask & MASK_DELAYED
        assert state.is_stock_changed and not transition.applied
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert state.fail_count == 9
    assert state.delayed(AT)
    assert not state.delayed(Instant(AT.unix + 3600, AT.wdt + 3600))


def test_retry_delay_stays_capped_for_huge_failure_counts() -> None:
    assert retry_delay(INT32_MAX) == 3600
    assert retry_delay(1) == 60


def test_success_after_failures_clears_the_delay() -> None:
    failed = apply(apply(PENDING, Failure(), AT).state, Failure(), AT).state
    after = apply(failed, Success(syn_stock=1, stock_change_count=5), AT).state
    assert (after.fail_count, after.mask & MASK_DELAYED, after.disable_syn_until) == (0, 0, 0)
    assert not after.delayed(AT)


@pytest.mark.parametrize("count", [5, -1])
def test_cancel_with_the_current_count_or_minus_one_clears_pending(count: int) -> None:
    state = SyncState(stock_change_count=5, is_stock_changed=True, fail_count=2, mask=MASK_DELAYED)
    transition = apply(state, Cancel(count), AT)
    assert transition.applied
    assert not transition.state.is_stock_changed
    assert transition.state.stock_change_count == 5
    assert transition.state.last_syn_num == Decimal(-1)  # nothing was pushed


def test_cancel_with_a_stale_count_is_refused() -> None:
    with pytest.raises(BusinessError) as caught:
        apply(PENDING, Cancel(4), AT)
    assert caught.value.message == "取消失败"


EVENTS = st.one_of(
    st.just(Change()),
    st.builds(Lease, st.integers(1, 600)),
    st.builds(
        Success, st.integers(0, 50), st.none() | st.integers(-1, 12), st.booleans(), st.booleans()
    ),
    st.just(Failure()),
    st.builds(Cancel, st.integers(-1, 12)),
)


@given(st.lists(EVENTS, max_size=30))
def test_no_event_lowers_the_counter_and_only_an_exact_ack_clears_pending(events: list) -> None:
    state = SyncState()
    for event in events:
        try:
            transition = apply(state, event, AT)
        except BusinessError:
            assert isinstance(event, Cancel)
            continue
        after = transition.state
        assert after.stock_change_count >= state.stock_change_count
        if state.is_stock_changed and not after.is_stock_changed:
            assert isinstance(event, Success | Cancel)
            assert event.stock_change_count in (state.stock_change_count, -1)
            assert not (isinstance(event, Success) and event.stock_change_count == -1)
        state = after
