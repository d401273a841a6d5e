"""The calcStock hot path in process: µs per call of each layer, without sockets or wrk.

    python -m bench.calc_hotpath                    # the 1,000,000-listing bench database
    python -m bench.calc_hotpath --listings 20000   # quick mode
    python -m bench.calc_hotpath --profile asgi     # cProfile of one layer

Three layers, each timed call by call on the same random computable listings (p50, p99 and
CPU µs per call; on a busy machine the CPU figure moves least):

1. `service` — `calc.calc_listing` inside the handler's `Database.fast_read` transaction;
2. `answer` — the app's transport-free `answer(query, body)`: query parsing, signature,
   argument decoding, the handler and the JSON envelope;
3. `asgi` — the whole ASGI app driven with in-memory `receive` / `send` on uvloop: what the
   server runs per request, minus the HTTP server's parsing and the socket.

The database is the open-API benchmark's (`bench.openapi_data`, cached under
~/.cache/stocksync-bench). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.openapi import CREDENTIALS, computable_ids
from bench.openapi_data import bench_database
from bench.openapi_wrk import CALC, signed_query
from stocksync.bootstrap import ServerApp, Settings, create_app
from stocksync.services import calc

LAYERS = ("service", "answer", "asgi")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} CPUs"


def _requests(ids: Sequence[int], count: int) -> list[tuple[int, bytes, bytes]]:
    """(rec_id, query, body) of `count` signed calcStock calls on random computable ids."""
    rng = random.Random(3)
    calls = []
    for _ in range(count):
        rec_id = rng.choice(ids)
        body = f"[{rec_id},false]".encode()
        calls.append((rec_id, signed_query(CREDENTIALS, CALC, body).encode(), body))
    return calls


def _service_call(app: ServerApp, tid: int) -> Callable[[tuple[int, bytes, bytes]], Any]:
    database = app.database

    def call(request: tuple[int, bytes, bytes]) -> Any:
        with database.fast_read() as conn:
            return calc.calc_listing(conn, tid, request[0]).record

    return call


def _answer_call(app: ServerApp) -> Callable[[tuple[int, bytes, bytes]], Any]:
    def call(request: tuple[int, bytes, bytes]) -> Any:
        answer = app.api.answer(request[1], request[2], "bench")
        assert answer.startswith(b'{"status":0,'), answer[:200]
        return answer

    return call


def _scope(query: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/openapi",
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
    }


async def _asgi_times(app: ServerApp, calls: list[tuple[int, bytes, bytes]]) -> list[int]:
    """ns per request of the ASGI app, and of the CPU it used (interleaved: wall, cpu)."""
    times: list[int] = []
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    for _, query, body in calls:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        sent.clear()
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        await app(_scope(query), receive, send)
        times += [time.perf_counter_ns() - wall, time.process_time_ns() - cpu]
        assert sent[1]["body"].startswith(b'{"status":0,'), sent[1]["body"][:200]
    return times


def _timed(call: Callable[[tuple[int, bytes, bytes]], Any], calls: list[Any]) -> list[int]:
    times: list[int] = []
    for request in calls:
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        call(request)
        times += [time.perf_counter_ns() - wall, time.process_time_ns() - cpu]
    return times


def _run_layer(layer: str, app: ServerApp, tid: int, calls: list[Any]) -> list[int]:
    if layer == "asgi":
        import uvloop

        return uvloop.run(_asgi_times(app, calls))
    call = _service_call(app, tid) if layer == "service" else _answer_call(app)
    return _timed(call, calls)


def _report(layer: str, times: list[int]) -> None:
    walls = sorted(times[0::2])
    cpu = sum(times[1::2]) / len(walls) / 1000
    p50, p99 = walls[len(walls) // 2] / 1000, walls[int(len(walls) * 0.99)] / 1000
    mean = statistics.fmean(walls) / 1000
    print(f"  {layer:<8} p50 {p50:7.1f} µs   p99 {p99:7.1f} µs   mean {mean:7.1f} µs   "
          f"CPU {cpu:7.1f} µs/call   ({len(walls):,} calls)", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calc_hotpath", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--dir", help="where the database is kept (default ~/.cache/...)")
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per layer")
    parser.add_argument("--layers", default=",".join(LAYERS), help="which layers, e.g. asgi")
    parser.add_argument("--profile", choices=LAYERS, help="print a cProfile of one layer")
    parser.add_argument("--sort", default="tottime", help="profile order (default tottime)")
    args = parser.parse_args(argv)
    db = bench_database(args.listings, Path(args.dir) if args.dir else None)
    ids = computable_ids(db, args.listings, 5000)
    calls = _requests(ids, args.calls)
    print(f"calcStock hot path, {args.listings:,} listings; {_load()}", flush=True)
    with create_app(Settings(db_url=f"sqlite:///{db}", credential_ttl=3600)) as app:
        tid = app.api.credentials.lookup(CREDENTIALS.sid, CREDENTIALS.key).tenant_id  # type: ignore[union-attr]
        for layer in args.profile and [args.profile] or args.layers.split(","):
            _run_layer(layer, app, tid, calls[:2000])  # warm the page cache and the code
            if args.profile:
                profiler = cProfile.Profile(time.process_time_ns, 1e-9)
                profiler.runcall(_run_layer, layer, app, tid, calls)
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
            else:
                _report(layer, _run_layer(layer, app, tid, calls))
    print(f"  after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
