"""A byte-for-byte TCP relay that records what a client and the server say to each other.

    python3 wire_tap.py LISTEN_PORT UPSTREAM_HOST:UPSTREAM_PORT LOG_FILE

Point the SDK at http://127.0.0.1:LISTEN_PORT; every connection is relayed unchanged to the
upstream server, and every chunk read in either direction is appended to LOG_FILE as text (bytes
that are not UTF-8 are shown as \\xNN). Standard library only; stop it with SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import socket
import sys
import threading

_lock = threading.Lock()
_ids = itertools.count(1)


def _log(path: str, conn_id: int, direction: str, data: bytes) -> None:
    text = data.decode("utf-8", errors="backslashreplace")
    with _lock, open(path, "a", encoding="utf-8") as log:
        log.write(f"----- #{conn_id} {direction} ({len(data)} bytes)\n{text}\n")


def _pump(src: socket.socket, dst: socket.socket, path: str, conn_id: int, direction: str) -> None:
    try:
        while data := src.recv(65536):
            _log(path, conn_id, direction, data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _serve(client: socket.socket, upstream: tuple[str, int], path: str) -> None:
    conn_id = next(_ids)
    with client, socket.create_connection(upstream) as server:
        back = threading.Thread(
            target=_pump, args=(server, client, path, conn_id, "server -> client")
        )
        back.start()
        _pump(client, server, path, conn_id, "client -> server")
        back.join()


def main() -> None:
    listen_port, upstream_text, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, port = upstream_text.rsplit(":", 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.create_server(("127.0.0.1", listen_port)) as listener:
        while True:
            client, _ = listener.accept()
            threading.Thread(
                target=_serve, args=(client, (host, int(port)), path), daemon=True
            ).start()


if __name__ == "__main__":
    main()
