"""Protocol time: China-time display and the 2012 epoch."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.services.clock import CHINA_TZ, WDT_EPOCH, format_time, to_wdt


def _shown(unix: int) -> str:
    return datetime.fromtimestamp(unix, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    ("unix", "text"),
    [
        (0, "1970-01-01 08:00:00"),
        (1_700_000_000, "2023-11-15 06:13:20"),
        (WDT_EPOCH, "2012-01-01 00:00:00"),
        (2**32 - 1, "2106-02-07 14:28:15"),
        (2**32, "2106-02-07 14:28:16"),
        (-1, "1970-01-01 07:59:59"),
    ],
)
def test_times_show_in_china_time_whatever_the_range(unix: int, text: str) -> None:
    assert format_time(unix) == text


def test_no_time_shows_as_empty_text() -> None:
    assert format_time(None) == ""


@given(st.integers(-(2**34), 2**36))
def test_every_time_shows_as_a_china_datetime_would(unix: int) -> None:
    assert format_time(unix) == _shown(unix)


def test_protocol_seconds_count_from_2012_china_time() -> None:
    assert to_wdt(WDT_EPOCH + 5.9) == 5
