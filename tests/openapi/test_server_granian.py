"""`stocksync serve` as a user runs it (granian, RSGI), with 1 and with 2 workers: the vendor's
calcStock example over real HTTP, and the transport rules on the wire (404, 405 with Allow, 413
by header and while streaming, a request id on every answer); malformed HTTP does not take a
worker down. One server per worker count for the whole module."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from test_methods_support import CALC, NOW_METHOD, VENDOR_ANSWER, loads

from stocksync.client import Client
from stocksync.openapi.signature import sign, to_wdt
from stocksync.services.demo import DEMO_KEY, DEMO_SALT, DEMO_SECRET, DEMO_SID

pytestmark = pytest.mark.xdist_group("granian-server")

STOCKSYNC = [sys.executable, "-c", "from stocksync.cli import main; main()"]
#: The servers' body limit: small, so that a streamed body passes it in a few chunks.
MAX_BODY = 4096


class Served:
    """A running `stocksync serve` and what the tests need of it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workers: int) -> None:
        self.process, self.port, self.workers = process, port, workers
        self.client = Client(
            f"http://127.0.0.1:{port}", DEMO_SID, DEMO_KEY, f"{DEMO_SECRET}:{DEMO_SALT}"
        )

    def worker_pids(self) -> set[int]:
        """The processes serving: granian's main process supervises them."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.add(int(stat.parent.name))
            except (OSError, IndexError, ValueError):
                continue  # ended while we looked
        return found

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> http.client.HTTPResponse:
        """One request on a new connection; the response, its body already read."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def raw(self, data: bytes, *, wait: float = 10.0) -> bytes:
        """Send `data` as is on a new connection; the one answer that comes back (head and
        body), or what arrived before the server closed or `wait` seconds passed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=wait) as sock:
            sock.sendall(data)
            received = b""
            with contextlib.suppress(TimeoutError):
                while not _complete(received) and (chunk := sock.recv(65536)):
                    received += chunk
            return received


def _complete(answer: bytes) -> bool:
    """True once `answer` holds a whole HTTP answer (head and its Content-Length of body)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    length = re.search(rb"\r\ncontent-length: (\d+)", head, re.IGNORECASE)
    return length is not None and len(body) >= int(length.group(1))


def _wait_until_it_answers(served: Served, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert served.process.poll() is None, log.read_text()
        try:
            served.client.call(NOW_METHOD)
            if len(served.worker_pids()) == served.workers:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("granian") / "demo.db"
    subprocess.run([*STOCKSYNC, "demo", "--no-serve", "--db", str(db)],
                   env={**os.environ, "STOCKSYNC_DB": ""}, check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    return db


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def served(request: pytest.FixtureRequest, demo_db: Path) -> Iterator[Served]:
    """`stocksync serve --workers N` over the demo, bodies limited to `MAX_BODY`."""
    workers: int = request.param
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log = demo_db.with_name(f"server-{workers}.log")
    env = {**os.environ, "STOCKSYNC_DB": "", "STOCKSYNC_MAX_BODY": str(MAX_BODY)}
    command = [*STOCKSYNC, "serve", "--db", str(demo_db), "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--workers", str(workers)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    served = Served(process, port, workers)
    try:
        _wait_until_it_answers(served, log)
        yield served
    finally:
        served.client.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the group this fixture started
            process.wait(10)


def test_a_signed_calc_stock_answers_the_vendor_record(served: Served) -> None:
    expected = loads(VENDOR_ANSWER.encode())["data"]
    record = served.client.call(CALC, 2447, False)
    assert {name: record[name] for name in expected} == expected


def test_every_answer_has_a_request_id_of_its_own(served: Served) -> None:
    answers = [served.request("POST", "/openapi", body=b"[]") for _ in range(4 * served.workers)]
    ids = [answer.getheader("x-request-id") for answer in answers]
    assert all(ids) and len(set(ids)) == len(ids)
    assert all(answer.status == 200 for answer in answers)


def test_other_paths_answer_404_and_other_methods_405_with_allow(served: Served) -> None:
    missing = served.request("POST", "/elsewhere", body=b"[]")
    assert missing.status == 404 and missing.getheader("x-request-id")
    assert missing.getheader("content-type") == "application/json; charset=utf-8"
    wrong = served.request("GET", "/openapi")
    assert (wrong.status, wrong.getheader("allow")) == (405, "POST")
    assert wrong.getheader("x-request-id")


def test_a_body_announced_over_the_limit_answers_413_at_once(served: Served) -> None:
    head = f"POST /openapi HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    answer = served.raw(head.encode())  # the body is never sent: the answer comes anyway
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nx-request-id: " in answer
    assert answer.endswith(b'{"status":1,"message":"request body too large"}')


def test_a_chunked_body_over_the_limit_answers_413_before_it_ends(served: Served) -> None:
    chunk = b"%x\r\n%s\r\n" % (1024, b" " * 1024)
    head = b"POST /openapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    # Past the limit, and never finished: the server answers without reading the rest.
    answer = served.raw(head + chunk * (MAX_BODY // 1024 + 2))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nx-request-id: " in answer
    assert answer.endswith(b'{"status":1,"message":"request body too large"}')


def _chunked_now(extra_headers: str = "") -> bytes:
    """The head of a signed `system.Core.now` call with body `[]`, sent chunked."""
    params = {"sid": DEMO_SID, "key": DEMO_KEY, "salt": DEMO_SALT, "method": NOW_METHOD}
    params |= {"v": "1.0", "timestamp": str(to_wdt(time.time()))}
    params["sign"] = sign(params, b"[]", DEMO_SECRET)
    head = f"POST /openapi?{urlencode(params)} HTTP/1.1\r\nHost: x\r\n"
    return (head + f"Transfer-Encoding: chunked\r\n{extra_headers}\r\n").encode()


def test_a_chunked_body_within_the_limit_is_answered(served: Served) -> None:
    answer = served.raw(_chunked_now() + b"1\r\n[\r\n1\r\n]\r\n0\r\n\r\n", wait=2)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'\r\n\r\n{"status":0,"data":' in answer


def test_a_chunked_body_with_trailers_answers_bad_arguments_not_500(served: Served) -> None:
    request = _chunked_now("Trailer: X-Check\r\n") + b"2\r\n[]\r\n0\r\nX-Check: 1\r\n\r\n"
    answer = served.raw(request, wait=2)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nx-request-id: " in answer
    assert answer.endswith('{"status":1,"message":"参数错误"}'.encode())


def test_a_request_target_of_64_kib_is_refused_414_by_granian(served: Served) -> None:
    """granian's HTTP layer refuses a request target of 65,535 bytes or more before the app
    sees it (HTTP 414, no body; docs/decisions.md). One byte less reaches the app."""
    query = "a=" + "x" * (65_535 - len("/openapi?a="))
    refused = served.raw(f"POST /openapi?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), wait=2)
    assert refused.startswith(b"HTTP/1.1 414 ")
    answered = served.request("POST", f"/openapi?{query[:-1]}", body=b"[]")
    assert answered.status == 200 and answered.getheader("x-request-id")
    assert served.client.call(NOW_METHOD)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /openapi HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        b"POST /openapi?sid=\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        b"POST /openapi HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[",
    ],
    ids=["not-http", "bad-length", "raw-bytes-in-query", "body-cut-short"],
)
def test_a_malformed_request_does_not_take_a_worker_down(
    served: Served, request_bytes: bytes
) -> None:
    workers = served.worker_pids()
    served.raw(request_bytes, wait=0.5)
    assert served.client.call(NOW_METHOD)
    assert served.worker_pids() == workers  # none died and was started again
