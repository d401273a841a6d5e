"""Driving calcStock with wrk: pre-signed requests, the run, and its figures.

wrk replays requests prepared here (`openapi_calc.lua` reads them), so the load generator
spends no CPU on signing. Requests are signed just before each run: a timestamp is valid for
120 s, longer than a run.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from stocksync.openapi.signature import sign, to_wdt

LUA = Path(__file__).with_name("openapi_calc.lua")
CALC = "sales.StockSync.calcStock"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Credentials:
    """Who the benchmark calls as."""

    sid: str
    key: str
    secret: str
    salt: str


@dataclass(frozen=True)
class WrkFigures:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_answers: int  # not HTTP 200 with status 0 (socket errors included)
    output: str


def signed_query(credentials: Credentials, method: str, body: bytes) -> str:
    """The query string of a call signed now."""
    params = {"sid": credentials.sid, "key": credentials.key, "salt": credentials.salt}
    params |= {"method": method, "v": "1.0", "timestamp": str(to_wdt(time.time()))}
    params["sign"] = sign(params, body, credentials.secret)
    return urlencode(params)


def write_requests(
    path: Path, credentials: Credentials, rec_ids: Sequence[int], count: int
) -> None:
    """`count` calcStock calls on ids drawn from `rec_ids`, one "target<TAB>body" per line."""
    rng = random.Random(11)
    lines = []
    for _ in range(count):
        body = f"[{rng.choice(rec_ids)},false]".encode()
        lines.append(f"/openapi?{signed_query(credentials, CALC, body)}\t{body.decode()}\n")
    path.write_text("".join(lines))


def require_wrk() -> str:
    """The wrk executable, or SystemExit telling how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def run_wrk(url: str, requests_file: Path, *, seconds: int, connections: int) -> WrkFigures:
    """One wrk run (one thread) over the prepared requests; its figures."""
    command = [require_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(LUA), url, "--", str(requests_file)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse(output)


def parse(output: str) -> WrkFigures:
    """The figures of wrk's report (with the Lua script's "bad answers" line)."""
    rate = float(_find(r"Requests/sec:\s+([\d.]+)", output))
    total = int(_find(r"(\d+) requests in", output))
    bad = int(_find(r"bad answers: (\d+)", output))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkFigures(rate, _latency("50%", output), _latency("99%", output), total, bad, output)


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise ValueError(f"wrk output without {pattern!r}:\n{text}")
    return found.group(1)


def _latency(percentile: str, output: str) -> float:
    found = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if found is None:
        raise ValueError(f"wrk output without the {percentile} latency:\n{output}")
    return float(found.group(1)) * _UNITS[found.group(2)]
