"""The whole sync loop against a small pure model of semantics spec §6 (hypothesis, stateful).

Random interleavings of stock changes, wait-list calls, successes (current or stale count),
failures, cancels and the passing of time, on a real database. After every step the database
must agree with the model, counters never go down, a listing changed after its last
acknowledged count is pending, and the wait list only ever hands out eligible listings.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, select

from builders import add_listing, add_rule, add_shop
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.services.acks import cancel_sync, sync_fail, sync_success
from stocksync.services.clock import to_wdt
from stocksync.services.tracking import bump_listings
from stocksync.services.waitlist import wait_list

START = 1_700_000_000
LEASE = 300
#: rec_id -> (shop_id, rule_id, match_target_type); 1-4 may sync, 5-7 never do.
LISTINGS = {
    1: (1, 10, 1), 2: (1, 10, 2), 3: (1, 10, 1), 4: (1, -10000, 1),
    5: (2, 10, 1),  # disabled shop
    6: (1, 11, 1),  # rule forbids syncing
    7: (1, 10, 0),  # unbound
}  # fmt: skip
ELIGIBLE = frozenset({1, 2, 3, 4})
IDS = st.sampled_from(sorted(LISTINGS))


@dataclass
class Expected:
    """What §6 says one listing's state is."""

    count: int = 0
    pending: bool = False
    until: int = 0
    delayed: bool = False
    fails: int = 0
    acknowledged: int = 0  # the count the last clearing ack was for


class SyncLoop(RuleBasedStateMachine):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.now = START
        self.model = {rec_id: Expected() for rec_id in LISTINGS}
        self.seen_counts = dict.fromkeys(LISTINGS, 0)
        with write_tx(engine) as conn:
            self.tid = ensure_tenant(conn, f"stateful-{uuid.uuid4().hex}")
            add_shop(conn, self.tid, 1)
            add_shop(conn, self.tid, 2, is_disabled=True)
            add_rule(conn, self.tid, 10)
            add_rule(conn, self.tid, 11, is_disable_syn=True)
            for rec_id, (shop_id, rule_id, kind) in LISTINGS.items():
                add_listing(
                    conn, self.tid, rec_id, shop_id, f"c{rec_id}",
                    rule_id=rule_id, match_target_type=kind, match_target_id=rec_id if kind else 0,
                )  # fmt: skip

    @property
    def now_wdt(self) -> int:
        return to_wdt(self.now)

    @rule(rec_ids=st.sets(IDS, min_size=1, max_size=4))
    def stock_change(self, rec_ids: set[int]) -> None:
        with write_tx(self.engine) as conn:
            assert bump_listings(conn, self.tid, rec_ids, self.now) == len(rec_ids)
        for rec_id in rec_ids:
            self.model[rec_id].count += 1
            self.model[rec_id].pending = True

    @rule(count=st.integers(-5, 20))
    def serve(self, count: int) -> None:
        with write_tx(self.engine) as conn:
            ids, position = wait_list(conn, self.tid, count, now=self.now, lease=LEASE)
        waiting = [r for r in ELIGIBLE if self._waiting(self.model[r])]
        expected = sorted(waiting, key=lambda r: (self.model[r].until, r))
        assert set(ids) <= ELIGIBLE
        assert ids == expected
        assert position == (self.now_wdt + LEASE if ids else 0)
        for rec_id in ids:
            self.model[rec_id].until = self.now_wdt + LEASE
            self.model[rec_id].delayed = False

    def _waiting(self, listing: Expected) -> bool:
        return listing.pending and listing.until <= self.now_wdt

    @rule(rec_id=IDS, lag=st.sampled_from([0, 0, 1, 2, -1]), pushed=st.integers(0, 9))
    def success(self, rec_id: int, lag: int, pushed: int) -> None:
        expected = self.model[rec_id]
        acked = expected.count - lag
        with write_tx(self.engine) as conn:
            sync_success(conn, self.tid, rec_id, {"syn_stock": pushed, "stock_change_count": acked},
                         now=self.now)  # fmt: skip
        if acked == expected.count:
            expected.pending = False
            expected.acknowledged = acked
        expected.until, expected.delayed, expected.fails = 0, False, 0

    @rule(rec_id=IDS)
    def fail(self, rec_id: int) -> None:
        with write_tx(self.engine) as conn:
            sync_fail(conn, self.tid, rec_id, {"syn_result": "refused"}, now=self.now)
        expected = self.model[rec_id]
        expected.fails += 1
        expected.until = self.now_wdt + min(60 * 2 ** (expected.fails - 1), 3600)
        expected.delayed = True

    @rule(rec_id=IDS, how=st.sampled_from(["current", "any", "stale", "ahead"]))
    def cancel(self, rec_id: int, how: str) -> None:
        expected = self.model[rec_id]
        count = {"current": expected.count, "any": -1, "stale": expected.count - 1}.get(
            how, expected.count + 1
        )
        if count in (expected.count, -1):
            with write_tx(self.engine) as conn:
                cancel_sync(conn, self.tid, rec_id, count, now=self.now)
            expected.pending, expected.acknowledged = False, expected.count
            expected.until, expected.delayed, expected.fails = 0, False, 0
            return
        with pytest.raises(BusinessError, match="取消失败"), write_tx(self.engine) as conn:
            cancel_sync(conn, self.tid, rec_id, count, now=self.now)

    @rule(seconds=st.sampled_from([1, 59, 60, 299, 300, 1000, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    def _db_state(self) -> dict[int, Any]:
        c = listing.c
        query = select(
            c.rec_id, c.stock_change_count, c.is_stock_changed, c.disable_syn_until, c.mask,
            c.fail_count,
        ).where(c.tenant_id == self.tid)  # fmt: skip
        with read_tx(self.engine) as conn:
            return {row[0]: row for row in conn.execute(query)}

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        for rec_id, row in self._db_state().items():
            expected = self.model[rec_id]
            assert row.stock_change_count >= self.seen_counts[rec_id]  # counters never go down
            self.seen_counts[rec_id] = row.stock_change_count
            if row.stock_change_count > expected.acknowledged:
                assert row.is_stock_changed, f"listing {rec_id}: a change was lost"
            actual = (
                row.stock_change_count, bool(row.is_stock_changed), row.disable_syn_until,
                bool(row.mask & 2), row.fail_count,
            )  # fmt: skip
            wanted = (
                expected.count,
                expected.pending,
                expected.until,
                expected.delayed,
                expected.fails,
            )
            assert actual == wanted, f"listing {rec_id}"


EXAMPLES = {"sqlite": 40, "postgresql": 12, "mariadb": 12}


def test_the_sync_loop_follows_the_model(engine: Engine, backend: str) -> None:
    run_state_machine_as_test(
        lambda: SyncLoop(engine),
        settings=settings(
            max_examples=EXAMPLES[backend],
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
