"""The sync state machine of one listing (semantics spec §6): pure transitions, no I/O.

A listing carries a change counter and a pending flag; stock events bump the counter, the wait
list leases pending listings to a client, and the client's acknowledgements (success, failure,
cancel) move the listing on. `apply` gives the next state for one event; the services persist it.
Counters never go down here: only `Change` touches `stock_change_count`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from stocksync.domain.errors import BusinessError
from stocksync.domain.model import DELISTED, LISTED, MASK_DELAYED, ZERO

#: First retry delay after a failure, doubled per further failure up to `RETRY_CAP` (seconds).
RETRY_BASE = 60
RETRY_CAP = 3600
#: Ids, positions and counters travel as signed 32-bit ints (flagship protocol §3).
INT32_MAX = 2**31 - 1
#: `cancelSync` count meaning "whatever the current counter is".
CANCEL_ANY = -1
MSG_CANCEL_FAILED = "取消失败"


# The values made on every acknowledgement (`Instant`, `SyncState`, `Transition`) are named
# tuples: as immutable as frozen dataclasses and several times cheaper to build.


class Instant(NamedTuple):
    """One moment on both clocks: Unix seconds and the protocol's seconds since 2012-01-01."""

    unix: int
    wdt: int


class SyncState(NamedTuple):
    """The sync columns of one listing (`api_goods_spec`)."""

    stock_change_count: int = 0
    is_stock_changed: bool = False
    disable_syn_until: int = 0  # protocol seconds (`Instant.wdt`)
    mask: int = 0
    fail_count: int = 0
    status: int = LISTED
    stock_num: Decimal = ZERO
    last_syn_num: Decimal = Decimal(-1)
    last_syn_time: int | None = None  # Unix seconds, as the other times
    list_time: int | None = None
    delist_time: int | None = None

    def waiting(self, at: Instant) -> bool:
        """Pending, and neither leased nor delayed any more at `at`."""
        return self.is_stock_changed and self.disable_syn_until <= at.wdt

    def delayed(self, at: Instant) -> bool:
        """Held back after a failure (mask bit 1) until `disable_syn_until`."""
        return bool(self.mask & MASK_DELAYED) and self.disable_syn_until > at.wdt


@dataclass(frozen=True, slots=True)
class Change:
    """Something that can change the listing's `syn_stock` happened."""


@dataclass(frozen=True, slots=True)
class Lease:
    """The wait list handed the listing out for `seconds`."""

    seconds: int


@dataclass(frozen=True, slots=True)
class Success:
    """The client published `syn_stock`, computed at change count `stock_change_count`."""

    syn_stock: int
    stock_change_count: int | None
    is_auto_listing: bool = False
    is_auto_delisting: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """The client could not publish the number."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """The client gives up on the change with this count (`CANCEL_ANY` = the current one)."""

    stock_change_count: int


Event = Change | Lease | Success | Failure | Cancel


class Transition(NamedTuple):
    """The state after an event, whether it cleared pending, and a one-line result for records."""

    state: SyncState
    applied: bool
    result: str


def retry_delay(fail_count: int) -> int:
    """Seconds to hold a listing back after its `fail_count`-th failure in a row (60 · 2^(n−1))."""
    exponent = min(max(fail_count, 1), 16) - 1
    return min(RETRY_BASE << exponent, RETRY_CAP)


def apply(state: SyncState, event: Event, at: Instant) -> Transition:
    """The listing's state after `event` at `at`; raises BusinessError for a refused cancel."""
    match event:
        case Change():
            return _change(state)
        case Lease(seconds):
            return _lease(state, seconds, at)
        case Success():
            return _success(state, event, at)
        case Failure():
            return _failure(state, at)
        case Cancel(count):
            return _cancel(state, count)
    raise TypeError(f"not a sync event: {event!r}")  # pragma: no cover


def _change(state: SyncState) -> Transition:
    count = state.stock_change_count + 1
    return Transition(state._replace(stock_change_count=count, is_stock_changed=True), False, "")


def _lease(state: SyncState, seconds: int, at: Instant) -> Transition:
    # Only waiting listings are leased, so any failure delay is over: drop its mask bit, or
    # calcStock would call the leased listing "delayed".
    until = min(at.wdt + seconds, INT32_MAX)
    new = state._replace(disable_syn_until=until, mask=state.mask & ~MASK_DELAYED)
    return Transition(new, False, f"leased until {until}")


def _success(state: SyncState, event: Success, at: Instant) -> Transition:
    # Built in one go rather than with `_replace` (the hot transition: one per listing synced).
    applied = event.stock_change_count == state.stock_change_count
    pushed = Decimal(event.syn_stock)
    status, list_time, delist_time = _follow_status(state, event, at)
    new = SyncState(
        stock_change_count=state.stock_change_count,
        is_stock_changed=state.is_stock_changed and not applied,
        disable_syn_until=0,
        mask=state.mask & ~MASK_DELAYED,
        fail_count=0,
        status=status,
        stock_num=pushed,
        last_syn_num=pushed,
        last_syn_time=at.unix,
        list_time=list_time,
        delist_time=delist_time,
    )
    return Transition(new, applied, _success_result(state, event, applied))


def _follow_status(
    state: SyncState, event: Success, at: Instant
) -> tuple[int, int | None, int | None]:
    """(status, list_time, delist_time) after the push: auto delisting at 0, relisting above."""
    if event.syn_stock == 0 and event.is_auto_delisting and state.status == LISTED:
        return DELISTED, state.list_time, at.unix
    if event.syn_stock > 0 and event.is_auto_listing and state.status == DELISTED:
        return LISTED, at.unix, state.delist_time
    return state.status, state.list_time, state.delist_time


def _success_result(state: SyncState, event: Success, applied: bool) -> str:
    if applied:
        return f"synced {event.syn_stock}; change {state.stock_change_count} done"
    if event.stock_change_count is None:
        return f"synced {event.syn_stock}; still pending: info has no stock_change_count"
    return (
        f"synced {event.syn_stock}; still pending: change count is {state.stock_change_count},"
        f" info acknowledged {event.stock_change_count}"
    )


def _failure(state: SyncState, at: Instant) -> Transition:
    fails = min(state.fail_count + 1, INT32_MAX)
    delay = retry_delay(fails)
    until = min(at.wdt + delay, INT32_MAX)
    new = state._replace(fail_count=fails, disable_syn_until=until, mask=state.mask | MASK_DELAYED)
    return Transition(new, False, f"failure {fails} in a row; retry after {delay} s")


def _cancel(state: SyncState, count: int) -> Transition:
    if count not in (CANCEL_ANY, state.stock_change_count):
        raise BusinessError(MSG_CANCEL_FAILED)
    # Cancelling ends the episode: the next change is handed out at once, without the lease or
    # failure delay of the change given up on.
    new = state._replace(
        is_stock_changed=False,
        disable_syn_until=0,
        mask=state.mask & ~MASK_DELAYED,
        fail_count=0,
    )
    return Transition(new, True, f"cancelled change {state.stock_change_count}")
