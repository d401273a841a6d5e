"""A server subprocess for tests: started on a free port, waited for, always stopped.

    with ServerProcess(db_url, tmp_path, workers=2, lease=2) as server:
        client = server.client(sid, key, appsecret)
        ...
        server.kill()   # SIGKILL, mid-request if you like

The server runs `python -m support.serve` (the real app under granian, as `stocksync serve`) in
its own process group: granian's main process supervises the worker processes that serve
(`worker_pids`), so stopping or killing the group ends them all; leaving the `with` block (a
failing test included) always ends the group. Its output goes to a log file shown on failure.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from stocksync.client import Client

TESTS_DIR = Path(__file__).resolve().parent.parent
#: Bodies up to this size are accepted (a stocktake of 20,000 specs is about 1 MB).
MAX_BODY = 64 * 1024 * 1024


class ServerDied(RuntimeError):
    """The server process ended before it answered."""


def children(pid: int) -> list[int]:
    """The pids of the direct children of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):  # it ended while we looked
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (a dead one has closed its files)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def support_env(**extra: str) -> dict[str, str]:
    """This environment with `tests/` importable (for `python -m support.…` subprocesses)."""
    env = dict(os.environ)
    paths = [str(TESTS_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


class ServerProcess:
    """`python -m support.serve` on a free port against `db_url` (see the module docstring)."""

    def __init__(
        self,
        db_url: str,
        log_dir: Path,
        *,
        workers: int = 1,
        lease: int = 300,
        clock_offset: float = 0.0,
        sqlite_cache_kib: int = 0,
    ) -> None:
        self.db_url, self.workers, self.lease = db_url, workers, lease
        self.clock_offset, self.sqlite_cache_kib = clock_offset, sqlite_cache_kib
        self.log_path = log_dir / f"server-{time.monotonic_ns()}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def client(self, sid: str, key: str, appsecret: str, **options: Any) -> Client:
        """A `Client` of this server whose clock matches the server's (see `clock_offset`)."""
        offset = self.clock_offset
        return Client(self.url, sid, key, appsecret, clock=lambda: time.time() + offset, **options)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until it answers HTTP; ServerDied (with its log) if not."""
        self.port = free_port()
        command = [sys.executable, "-m", "support.serve", "--db", self.db_url]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        command += ["--lease", str(self.lease), "--clock-offset", str(self.clock_offset)]
        command += ["--sqlite-cache-kib", str(self.sqlite_cache_kib)]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=TESTS_DIR,
            env=support_env(STOCKSYNC_MAX_BODY=str(MAX_BODY)),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: granian's workers end with it
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerDied(f"server exited early:\n{self.log()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.kill()
        raise ServerDied(f"server did not answer within {timeout} s:\n{self.log()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("POST", "/openapi", body=b"[]")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def alive(self) -> bool:
        """True while the server's main process runs."""
        return self.process is not None and self.process.poll() is None

    def worker_pids(self) -> list[int]:
        """The worker processes that serve (the main process's children)."""
        return [] if self.process is None else children(self.process.pid)

    def log(self) -> str:
        """What the server printed so far."""
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and its workers at once (no shutdown, no rollback by the app);
        returns once the workers that were serving are gone too."""
        workers = self.worker_pids()
        self._signal(signal.SIGKILL)
        self._reap(10.0)
        deadline = time.monotonic() + 10.0
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to shut down (SIGTERM); SIGKILL it if it takes longer than `timeout`."""
        self._signal(signal.SIGTERM)
        if not self._reap(timeout):
            self.kill()

    def _signal(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # the group this object started, by its id

    def _reap(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._log is not None:
            self._log.close()
            self._log = None
        return True

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self.alive():
            self.stop()
        self._signal(signal.SIGKILL)  # leftover workers of a killed or stopped main process
