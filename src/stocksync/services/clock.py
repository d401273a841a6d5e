"""Time as the flagship protocol counts and shows it.

The protocol counts seconds since 2012-01-01 00:00 China time (`WDT_EPOCH` in Unix seconds) for
timestamps and `disable_syn_until`, and shows times as "YYYY-MM-DD HH:MM:SS" in China time
(UTC+8, no daylight saving), whatever the server's own time zone is.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

#: 2012-01-01 00:00:00 in China time, as Unix seconds.
WDT_EPOCH = 1325347200
#: The vendor's display time zone.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
_CHINA_OFFSET = 8 * 3600
_FORMAT = "%Y-%m-%d %H:%M:%S"
#: `format_time` formats times below this through `time.gmtime` (years 1970-2106: 4 digits).
_FAST_LIMIT = 2**32


def now() -> float:
    """The current Unix time in seconds (the one clock services default to)."""
    return time.time()


def to_wdt(unix: float) -> int:
    """Unix seconds → whole seconds since `WDT_EPOCH` (floored)."""
    return int(unix // 1) - WDT_EPOCH


def format_time(unix: int | None) -> str:
    """A stored Unix time as the vendor shows it ("" when there is none)."""
    if unix is None:
        return ""
    if type(unix) is int and 0 <= unix < _FAST_LIMIT:  # the text below at a fifth of the cost
        return time.strftime(_FORMAT, time.gmtime(unix + _CHINA_OFFSET))
    return datetime.fromtimestamp(unix, CHINA_TZ).strftime(_FORMAT)
