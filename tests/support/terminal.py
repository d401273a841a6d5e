"""A subprocess whose output goes to a pseudo-terminal, read as it comes.

Commands draw progress bars only on a terminal (`stocksync import` draws one bar per snapshot
section); under a pty with a real window size they do, and a test can watch the progress of a
long operation as a user would, e.g. to kill it once it has reached a given section.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
from collections.abc import Sequence

#: Rows and columns of the pretend terminal (a size of 0 makes progress bars draw nothing).
WINDOW = (24, 160)


class TerminalProcess:
    """`command` with stdout and stderr on a pty; `output()` is everything printed so far."""

    def __init__(self, command: Sequence[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *WINDOW, 0, 0))
        try:
            self.process = subprocess.Popen(
                list(command), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
            )
        finally:
            os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._master, 65536):
                self._chunks.append(chunk)
        except OSError:  # EIO: the command closed the terminal (it ended)
            pass
        finally:
            os.close(self._master)

    def output(self) -> str:
        """What the command printed so far (progress bar redraws included)."""
        return b"".join(self._chunks).decode(errors="replace")

    def finished(self) -> bool:
        """True once the command has ended."""
        return self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL the command (this object's own process) and wait for it."""
        if not self.finished():
            self.process.kill()
        self.process.wait()
        self._reader.join(5)
