"""The per-key rate limiter: per calendar minute, per key, thread-safe."""

from __future__ import annotations

import threading
from dataclasses import replace

from openapi_harness import credential

from stocksync.openapi.ratelimit import RateLimiter

MINUTE = 60.0 * 1000


def test_a_key_gets_its_limit_per_minute_then_a_fresh_window() -> None:
    limiter, key = RateLimiter(), credential(rate_limit=2)
    assert [limiter.allow(key, MINUTE + s) for s in (0, 1, 59)] == [True, True, False]
    assert limiter.allow(key, MINUTE + 60) is True


def test_keys_are_counted_apart() -> None:
    limiter = RateLimiter()
    one, other = credential(rate_limit=1), credential(key="other", rate_limit=1)
    assert limiter.allow(one, MINUTE) and limiter.allow(other, MINUTE)
    assert not limiter.allow(one, MINUTE) and not limiter.allow(other, MINUTE)


def test_the_keys_own_limit_wins_over_the_default_and_none_means_the_default() -> None:
    limiter = RateLimiter(default=1)
    assert limiter.limit_for(credential(rate_limit=5)) == 5
    assert limiter.limit_for(credential()) == 1
    assert RateLimiter().limit_for(credential()) is None
    unlimited = credential()
    assert all(RateLimiter().allow(unlimited, MINUTE) for _ in range(1000))


def test_concurrent_calls_never_exceed_the_limit() -> None:
    limiter, key = RateLimiter(), credential(rate_limit=500)
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        results = [limiter.allow(key, MINUTE) for _ in range(200)]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500 and len(allowed) == 1600


def test_a_refused_call_does_not_count() -> None:
    limiter, key = RateLimiter(), credential(rate_limit=1)
    assert limiter.allow(key, MINUTE)
    assert not any(limiter.allow(key, MINUTE + 1) for _ in range(10))
    assert limiter.allow(replace(key, rate_limit=2), MINUTE + 2)  # a raised limit applies at once
