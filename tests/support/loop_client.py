"""The vendor's sync loop as a storefront runs it, with a tally of every answer it got.

    getSelfWaitSyncIdListOpen(count, position) → for each id: calcStock(id, false) → publish →
    syncSuccess(id, info) | syncFail(id, info) | cancelSync(id, count) | no ack at all

`run_loop` drives one `Client` until a wall-clock deadline (or, when draining, until the wait list
comes back empty) and counts calls, acks, refusals and transport errors in `LoopStats`.
`python -m support.loop_client '<json config>'` runs it in a separate process and prints the stats
as JSON, so tests can mix thread and process clients.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stocksync.client import ApiError, Client, Transport

WAIT = "sales.StockSync.getSelfWaitSyncIdListOpen"
CALC = "sales.StockSync.calcStock"
SUCCESS = "sales.StockSync.syncSuccess"
FAIL = "sales.StockSync.syncFail"
CANCEL = "sales.StockSync.cancelSync"
#: Status-100 answers the loop may get without anything being wrong: a cancel whose count is no
#: longer the current one (a change arrived between calcStock and cancelSync), and calcStock of a
#: listing held back after a failure (its lease ran out while this client was busy with its page,
#: another client got it and reported a failure: semantics §5, "temporarily delayed").
EXPECTED_REFUSALS = frozenset({(CANCEL, 100, "取消失败")})
DELAYED_SUFFIX = " 已停用或者未开启同步"


def expected_refusal(method: str, status: int, message: str) -> bool:
    """True for a refusal in `EXPECTED_REFUSALS` or a calcStock "delayed" answer."""
    if (method, status, message) in EXPECTED_REFUSALS:
        return True
    return method == CALC and status == 100 and message.endswith(DELAYED_SUFFIX)


#: The calcStock record fields a real client echoes back in `info`.
RULE_FIELDS = (
    "stock_syn_rule_id", "stock_syn_rule_no", "stock_syn_warehouses", "stock_syn_mask",
    "stock_syn_percent", "stock_syn_plus", "stock_syn_min", "stock_syn_max",
    "is_auto_listing", "is_auto_delisting",
)  # fmt: skip
_MAX_ERRORS = 20


@dataclass(frozen=True)
class Mix:
    """How often a client does something else than syncSuccess after calcStock."""

    fail: float = 0.0  # syncFail
    cancel: float = 0.0  # cancelSync with the record's count
    skip: float = 0.0  # no ack at all (as after a failed publish it does not report)


@dataclass
class LoopStats:
    """What one or more clients did and got back."""

    calls: Counter[str] = field(default_factory=Counter)
    acks: Counter[str] = field(default_factory=Counter)  # accepted success/fail/cancel, skip
    http: Counter[int] = field(default_factory=Counter)  # answers per HTTP status
    refusals: list[tuple[str, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # no answer at all

    def merge(self, other: LoopStats) -> LoopStats:
        """Add `other` into these stats; returns self."""
        self.calls.update(other.calls)
        self.acks.update(other.acks)
        self.http.update(other.http)
        self.refusals += other.refusals
        self.errors += other.errors
        return self

    def unexpected(self) -> list[tuple[str, int, str]]:
        """Refusals that `expected_refusal` does not accept."""
        return [r for r in self.refusals if not expected_refusal(*r)]

    def to_json(self) -> str:
        return json.dumps({
            "calls": self.calls, "acks": self.acks, "http": self.http,
            "refusals": self.refusals, "errors": self.errors,
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> LoopStats:
        raw = json.loads(text)
        return cls(
            Counter(raw["calls"]), Counter(raw["acks"]),
            Counter({int(k): v for k, v in raw["http"].items()}),
            [(m, s, t) for m, s, t in raw["refusals"]], list(raw["errors"]),
        )  # fmt: skip


class RecordingTransport:
    """Wraps a transport and counts the HTTP status of every answer."""

    def __init__(self, inner: Transport, stats: LoopStats) -> None:
        self.inner, self.stats = inner, stats

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        status, payload = self.inner(method, target, headers, body)
        self.stats.http[status] += 1
        return status, payload

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def recording(client: Client, stats: LoopStats) -> Client:
    """`client` with its transport wrapped in a `RecordingTransport` feeding `stats`."""
    client.transport = RecordingTransport(client.transport, stats)
    return client


def info_of(record: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The syncSuccess/syncFail `info` a client builds from a calcStock record."""
    info = {"syn_stock": record["syn_stock"], "stock_change_count": record["stock_change_count"]}
    info |= {name: record[name] for name in RULE_FIELDS}
    return info | extra


class _Loop:
    def __init__(self, client: Client, stats: LoopStats, mix: Mix, rng: random.Random) -> None:
        self.client, self.stats, self.mix, self.rng = client, stats, mix, rng

    def call(self, method: str, *args: Any) -> tuple[bool, Any]:
        """(answered with status 0, data); refusals and transport errors are tallied."""
        self.stats.calls[method] += 1
        try:
            return True, self.client.call(method, *args)
        except ApiError as exc:
            self.stats.refusals.append((method, exc.status, exc.message))
            if exc.http_status != 200:
                self.stats.errors.append(f"{method}: HTTP {exc.http_status}: {exc.message}")
        except (OSError, http.client.HTTPException) as exc:
            self.stats.errors.append(f"{method}: {exc!r}")
        return False, None

    def page(self, count: int, position: int) -> tuple[list[int], int] | None:
        ok, data = self.call(WAIT, count, position)
        return (list(data["id_list"]), int(data["position"])) if ok else None

    def handle(self, rec_id: int) -> None:
        ok, record = self.call(CALC, rec_id, False)
        if not ok:
            return  # as a real client does: skip it, the lease brings it back
        roll, mix = self.rng.random(), self.mix
        if roll < mix.skip:
            self.stats.acks["skip"] += 1
        elif roll < mix.skip + mix.fail:
            self._ack("fail", FAIL, rec_id, info_of(record, is_syn_success=0, syn_result="boom"))
        elif roll < mix.skip + mix.fail + mix.cancel:
            self._ack("cancel", CANCEL, rec_id, record["stock_change_count"])
        else:
            self._ack("success", SUCCESS, rec_id, info_of(record, is_syn_success=1))

    def _ack(self, kind: str, method: str, rec_id: int, argument: Any) -> None:
        if self.call(method, rec_id, argument)[0]:
            self.stats.acks[kind] += 1


def run_loop(
    client: Client,
    stats: LoopStats,
    *,
    until: float,
    mix: Mix = Mix(),
    seed: int = 0,
    drain: bool = False,
) -> None:
    """Run the loop until `until` (Unix time). Without `drain` an empty wait list means "look
    again shortly"; with it, the first empty list ends the loop as it ends a vendor client's."""
    loop = _Loop(client, stats, mix, random.Random(seed))
    position = 0
    while time.time() < until and len(stats.errors) < _MAX_ERRORS:
        page = loop.page(loop.rng.randint(10, 60), position)
        if page is None:
            time.sleep(0.05)
            continue
        ids, position = page
        if not ids:
            if drain:
                return
            position = 0
            time.sleep(0.02)
        for rec_id in ids:
            loop.handle(rec_id)


def main() -> None:
    """Subprocess entry: config JSON in argv[1], stats JSON on stdout."""
    config = json.loads(sys.argv[1])
    stats = LoopStats()
    offset = float(config.get("clock_offset", 0))
    client = Client(
        config["url"], config["sid"], config["key"], config["appsecret"],
        clock=lambda: time.time() + offset,
    )  # fmt: skip
    with recording(client, stats):
        run_loop(
            client, stats, until=config["until"], mix=Mix(**config.get("mix", {})),
            seed=config.get("seed", 0), drain=config.get("drain", False),
        )  # fmt: skip
    print(stats.to_json())


if __name__ == "__main__":
    main()
