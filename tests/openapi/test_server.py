"""`stocksync demo --no-serve` then `stocksync serve --workers 2`, as a user runs them: the real
client over real HTTP gets the vendor's calcStock example, and the server stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_methods_support import CALC, NOW_METHOD, VENDOR_ANSWER, loads

from stocksync.client import Client
from stocksync.services.demo import DEMO_KEY, DEMO_SALT, DEMO_SECRET, DEMO_SID

STOCKSYNC = [sys.executable, "-c", "from stocksync.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """The direct child processes of `pid`: their pids and command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = command.decode()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return found


def _wait_until_it_answers(client: Client, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            client.call(NOW_METHOD)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}")


@contextmanager
def serve_demo(tmp_path: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`stocksync demo --no-serve` on a new SQLite file, then `stocksync serve --workers N` on a
    free port; the server process and its URL once it answers. Killed on the way out."""
    db = tmp_path / "demo.db"
    env = {**os.environ, "STOCKSYNC_DB": ""}
    subprocess.run([*STOCKSYNC, "demo", "--no-serve", "--db", str(db)], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    port, log = _free_port(), tmp_path / "server.log"
    command = [*STOCKSYNC, "serve", "--db", str(db), "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "--workers", str(workers)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with Client(url, DEMO_SID, DEMO_KEY, f"{DEMO_SECRET}:{DEMO_SALT}") as client:
            _wait_until_it_answers(client, server, log)
        yield server, url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Client]]:
    """`stocksync serve --workers 2` on a free port over a SQLite file holding the demo."""
    with serve_demo(tmp_path, 2) as (server, url):
        client = Client(url, DEMO_SID, DEMO_KEY, f"{DEMO_SECRET}:{DEMO_SALT}")
        try:
            yield server, client
        finally:
            client.close()


def test_serve_with_two_workers_answers_the_vendor_example_over_http(
    demo_server: tuple[subprocess.Popen[bytes], Client],
) -> None:
    server, client = demo_server
    workers = list(_children(server.pid))  # granian's main process supervises its workers
    assert len(workers) == 2
    expected = loads(VENDOR_ANSWER.encode())["data"]
    record = client.call(CALC, 2447, False)
    assert {name: record[name] for name in expected} == expected
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
