"""The Python client's CPU per call, the old way and the new, against a real server.

    python -m bench.client_hotpath                          # a copy of the cached bench tenant
    python -m bench.client_hotpath --db /tmp/mycopy.db      # a copy you made (it is written)
    python -m bench.client_hotpath --rounds 6 --pairs 1000

Starts `stocksync serve` (one worker) on a private copy of the open-API benchmark's SQLite file
(built by `python -m bench.openapi` and cached; the cache itself is only read), then runs the
sync loop's two per-listing calls, calcStock(id, false) → syncSuccess(id, info), from this
process: in each round one client of each kind does `--pairs` listings of the wait list, old and
new alternately, on its own kept-alive connection. It prints this process's CPU µs per call
(`time.process_time` around each call: user + system, so the socket's system calls count) for
each method, per round and the median. "old" is the client before the lean path: generic
`sign` and `_query`, `http.client` request and response, `loads_exact`. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.loop_clients import CALC, SUCCESS, WAIT, info_of
from bench.openapi_data import KEY, SALT, SECRET, SID, tenant_copy
from bench.openapi_server import BenchServer
from stocksync import jsoncodec
from stocksync.client import ApiError, Client, _query
from stocksync.openapi.arguments import loads_exact
from stocksync.openapi.signature import sign, to_wdt

APPSECRET = f"{SECRET}:{SALT}"


class OldTransport:
    """The transport before the lean path: every request and answer through `http.client`."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        self.conn.request(method, target, body=body, headers=dict(headers))
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


class OldClient(Client):
    """`Client.call` as it was: params dict, generic sign and query, `loads_exact`."""

    def __init__(self, url: str) -> None:
        super().__init__(url, SID, KEY, APPSECRET, transport=OldTransport(url, 120))

    def call(self, method: str, *args: Any) -> Any:
        body = jsoncodec.dumps(list(args))
        params = {"sid": self.sid, "key": self.key, "salt": SALT, "method": method}
        params |= {"v": "1.0", "timestamp": str(to_wdt(self.clock()))}
        params["sign"] = sign(params, body, SECRET)
        target = f"{self.path}?{_query(params)}"
        return old_unwrap(
            *self.transport("POST", target, {"Content-Type": "application/json"}, body)
        )


def old_unwrap(http_status: int, payload: bytes) -> Any:
    """`client._unwrap` as it was, on `loads_exact`."""
    try:
        answer = loads_exact(payload)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or type(answer.get("status")) is not int:
        text = payload[:200].decode(errors="replace")
        raise ApiError(99, f"not a flagship answer (HTTP {http_status}): {text}", http_status)
    if answer["status"] != 0:
        raise ApiError(answer["status"], str(answer.get("message", "")), http_status)
    return answer.get("data")


def run_pairs(client: Client, ids: list[int]) -> tuple[list[int], list[int]]:
    """calcStock then syncSuccess for each id: the CPU ns of each call, per method."""
    clock: Callable[[], int] = time.process_time_ns
    calc_ns, ack_ns = [], []
    for rec_id in ids:
        started = clock()
        try:
            record = client.call(CALC, rec_id, False)
        except ApiError:
            continue  # refused (no number): a real client does not ack it
        middle = clock()
        info = info_of(record)
        resumed = clock()
        client.call(SUCCESS, rec_id, info)
        calc_ns.append(middle - started)
        ack_ns.append(clock() - resumed)
    return calc_ns, ack_ns


def private_copy(listings: int, directory: Path) -> Path:
    """A copy of the cached tenant that the server may write to (the cache is only read)."""
    return tenant_copy(listings, None, "client-hotpath", into=directory)


def measure(url: str, rounds: int, pairs: int) -> dict[str, dict[str, list[float]]]:
    """Alternate old and new clients over fresh wait-list ids; µs per call per round."""
    kinds: dict[str, Client] = {"old": OldClient(url), "new": Client(url, SID, KEY, APPSECRET)}
    figures: dict[str, dict[str, list[float]]] = {k: {CALC: [], SUCCESS: []} for k in kinds}
    for round_no in range(rounds):
        for name in kinds if round_no % 2 == 0 else reversed(kinds):
            client = kinds[name]
            ids = client.call(WAIT, pairs, 0)["id_list"]
            calc_ns, ack_ns = run_pairs(client, ids)
            figures[name][CALC].append(sum(calc_ns) / len(calc_ns) / 1000)
            figures[name][SUCCESS].append(sum(ack_ns) / len(ack_ns) / 1000)
        line = "  ".join(
            f"{name} calc {figures[name][CALC][-1]:6.1f} ack {figures[name][SUCCESS][-1]:6.1f}"
            for name in kinds
        )
        print(f"round {round_no + 1}: {line}  (µs CPU per call)", flush=True)
    for client in kinds.values():
        client.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a writable copy of the bench tenant to serve")
    parser.add_argument("--listings", type=int, default=1_000_000, help="cached tenant's size")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pairs", type=int, default=1000, help="listings per client per round")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        db = args.db or private_copy(args.listings, Path(work))
        with BenchServer(db, 1, Path(work) / "server.log") as server:
            server.wait_ready(Client(server.url, SID, KEY, APPSECRET))
            figures = measure(server.url, args.rounds, args.pairs)
    print("median µs CPU per call (this process):")
    for method in (CALC, SUCCESS):
        old, new = (statistics.median(figures[k][method]) for k in ("old", "new"))
        print(f"  {method.rsplit('.', 1)[1]:12s} old {old:6.1f}  new {new:6.1f}  ×{old / new:.2f}")
    both = {k: statistics.median(figures[k][CALC]) + statistics.median(figures[k][SUCCESS])
            for k in figures}  # fmt: skip
    print(f"  pair average old {both['old'] / 2:6.1f}  new {both['new'] / 2:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
