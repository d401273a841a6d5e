"""Calls-per-minute limit per app key, answered with the vendor's exact rate-limit sentence.

A fixed window: at most N calls per calendar minute of the server clock, per (sid, app key).
It is cheap and predictable; the price is that a client may place up to 2N calls across a
minute boundary. Counters live in this process only: with several server worker processes
each one counts on its own, so the effective limit is N per worker.
"""

from __future__ import annotations

import threading

from stocksync.openapi.ports import AppCredential

_WINDOW_SECONDS = 60


class RateLimiter:
    """Thread-safe per-key counters; a key's `rate_limit` wins over the app-wide `default`.

    `default` None (the default) means keys without their own limit are never limited.
    """

    def __init__(self, default: int | None = None) -> None:
        self._default = default
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (minute, calls)

    def limit_for(self, credential: AppCredential) -> int | None:
        """Calls per minute allowed to this key, or None for unlimited."""
        if credential.rate_limit is not None:
            return credential.rate_limit
        return self._default

    def allow(self, credential: AppCredential, now: float) -> bool:
        """Count one call at `now` (unix seconds); False when it exceeds the key's limit."""
        limit = credential.rate_limit  # `limit_for`, inline: this runs on every call
        if limit is None:
            limit = self._default
            if limit is None:
                return True
        key = (credential.sid, credential.app_key)
        minute = int(now // _WINDOW_SECONDS)
        with self._lock:
            start, calls = self._windows.get(key, (minute, 0))
            if start != minute:
                calls = 0
            if calls >= limit:
                return False
            self._windows[key] = (minute, calls + 1)
            return True
