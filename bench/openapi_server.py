"""`stocksync serve` as a benchmark subprocess: started, waited for, measured, stopped.

The server runs in its own process group so that stopping it also ends its workers: granian's
main process only supervises, the worker processes (its children) serve, each on one Python
thread (the event loop, running the app) beside granian's Rust threads (HTTP and sockets).
`RssSampler` reads `VmRSS` from `/proc/<pid>/status` of the server's processes (the main
process and its workers) a few times a second while the load runs, and keeps each one's peak.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from stocksync.client import Client

STOCKSYNC = [sys.executable, "-c", "from stocksync.cli import main; main()"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """The pids of the direct children of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def python_thread_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes' main threads (in a granian worker: the Python
    event loop that runs the app), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def python_thread_switches(pids: list[int]) -> int:
    """Context switches (voluntary and not) of the processes' main threads so far: in a granian
    worker the event loop's thread, which blocks when it waits for the GIL another thread holds
    (granian's Rust thread handing over a request) or for I/O."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def _kib_field_mib(path: str, name: str) -> float:
    """The `name:` line (in kB) of a /proc file, in MiB; 0 when the process is gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (`VmRSS`), 0 when it is gone."""
    return _kib_field_mib(f"/proc/{pid}/status", "VmRSS")


def pss_mib(pid: int) -> float:
    """Proportional memory of a process in MiB (`Pss` of `smaps_rollup`): its private pages plus
    its share of the pages it shares (a forked worker shares most of its parent's), so the sum
    over a server's processes is the memory they take together. 0 when it is gone."""
    return _kib_field_mib(f"/proc/{pid}/smaps_rollup", "Pss")


class BenchServer:
    """`stocksync serve --db DB --workers N` on a free port of 127.0.0.1."""

    def __init__(self, db: Path, workers: int, log: Path) -> None:
        self.db, self.workers, self.log = db, workers, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchServer:
        command = [*STOCKSYNC, "serve", "--db", str(self.db), "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def wait_ready(self, client: Client, timeout: float = 120.0) -> None:
        """Wait until every worker is up and the server answers `client`."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.log.read_text()}")
            try:
                client.call("system.Core.now")
                if len(self.worker_pids()) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer within {timeout} s:\n{self.log.read_text()}")

    def pids(self) -> list[int]:
        """The main process and its children (the workers)."""
        assert self.process is not None
        return [self.process.pid, *children(self.process.pid)]

    def worker_pids(self) -> list[int]:
        """The processes serving requests: granian's workers, children of the main process."""
        assert self.process is not None
        return children(self.process.pid)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class RssSampler:
    """Samples the memory of a server's processes in a thread: RSS `peaks` per pid, the peak of
    their RSS sum (`total_peak`, shared pages counted in every process) and of their PSS sum
    (`pss_peak`, shared pages counted once)."""

    def __init__(self, server: BenchServer, every: float = 0.25) -> None:
        self.server, self.every = server, every
        self.peaks: dict[int, float] = {}
        self.total_peak = 0.0
        self.pss_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            sizes = {pid: rss_mib(pid) for pid in self.server.pids()}
            for pid, size in sizes.items():
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), size)
            self.total_peak = max(self.total_peak, sum(sizes.values()))
            pss = sum(pss_mib(pid) for pid in sizes)
            self.pss_peak = max(self.pss_peak, pss)
