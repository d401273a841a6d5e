"""The one place where adapters meet ports: settings, the database-backed credential store,
the method registry bound to the services, the app factory, and the granian server that
`stocksync serve` runs."""

from __future__ import annotations

import copy
import importlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.engine import make_url

from stocksync.db.engine import make_engine, resolve_url
from stocksync.db.schema import app as app_table
from stocksync.db.schema import tenant
from stocksync.openapi.app import OpenApiApp, Receive, Scope, Send, create_openapi_app
from stocksync.openapi.methods import Database, DatabaseError, build_registry, database_errors
from stocksync.openapi.ports import AppCredential
from stocksync.openapi.rsgi import RsgiEntry

if TYPE_CHECKING:
    from granian._granian import RSGIHTTPProtocol
    from granian.rsgi import Scope as RsgiScope

_log = logging.getLogger("stocksync")
#: Credentials kept in memory at most; past it the cache starts again empty.
_MAX_CACHED = 10_000
_SQLITE_STATEMENTS = 1024


def _env_int(name: str, default: int | None, *, zero_ok: bool = False) -> int | None:
    """A positive int from the environment (0 too with `zero_ok`); else `default`/None."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    return value if value > 0 or (zero_ok and value == 0) else None


@dataclass(frozen=True)
class Settings:
    """Server settings; every field has an environment variable (see docs/operations.md)."""

    db_url: str = field(default_factory=resolve_url)
    max_body: int = 4 * 1024 * 1024  # STOCKSYNC_MAX_BODY, bytes
    lease: int = 300  # STOCKSYNC_LEASE, seconds a wait-list id stays handed out
    skew: int = 120  # STOCKSYNC_SKEW, allowed timestamp skew in seconds
    rate_limit: int | None = None  # STOCKSYNC_RATE_LIMIT, default calls/minute per key
    credential_ttl: int = 5  # STOCKSYNC_CREDENTIAL_TTL, seconds an app key is cached (0 = off)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from `STOCKSYNC_*` environment variables."""
        ttl = _env_int("STOCKSYNC_CREDENTIAL_TTL", 5, zero_ok=True)
        return cls(
            db_url=resolve_url(os.environ.get("STOCKSYNC_DB")),
            max_body=_env_int("STOCKSYNC_MAX_BODY", 4 * 1024 * 1024) or 4 * 1024 * 1024,
            lease=_env_int("STOCKSYNC_LEASE", 300) or 300,
            skew=_env_int("STOCKSYNC_SKEW", 120) or 120,
            rate_limit=_env_int("STOCKSYNC_RATE_LIMIT", None),
            credential_ttl=5 if ttl is None else ttl,
        )


class DbCredentialStore:
    """App keys from the `app` table, looked up by seller and key.

    Answers (unknown keys included) are kept for `ttl` seconds, so the hot path reads no
    credential from the database: a key created, changed or deleted takes effect within `ttl`.
    A database failure answers `DatabaseError` (status 5).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine, self._ttl, self._clock = engine, ttl, clock
        self._errors = database_errors(engine)
        self._cache: dict[tuple[str, str], tuple[float, AppCredential | None]] = {}
        self._query = (
            select(
                tenant.c.tenant_id,
                app_table.c.secret,
                app_table.c.salt,
                app_table.c.shop_ids,
                app_table.c.rate_limit,
            )
            .join(app_table, app_table.c.tenant_id == tenant.c.tenant_id)
            .where(tenant.c.sid == bindparam("sid"), app_table.c.app_key == bindparam("key"))
        )

    def lookup(self, sid: str, app_key: str) -> AppCredential | None:
        """The credential of (sid, key), or None when either is unknown.

        A sid or key holding NUL is unknown without asking the database: no stored one can
        hold it, and PostgreSQL refuses such text outright (which would read as a database
        failure)."""
        if "\x00" in sid or "\x00" in app_key:
            return None
        now = self._clock()
        cached = self._cache.get((sid, app_key))
        if cached is not None and cached[0] > now:
            return cached[1]
        credential = self._load(sid, app_key)
        if self._ttl > 0:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[(sid, app_key)] = (now + self._ttl, credential)
        return credential

    def _load(self, sid: str, app_key: str) -> AppCredential | None:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(self._query, {"sid": sid, "key": app_key}).first()
        except self._errors:
            _log.exception("database error while looking up an app key")
            raise DatabaseError() from None
        if row is None:
            return None
        shops = frozenset(int(s) for s in row.shop_ids.split(",") if s.strip()) or None
        return AppCredential(
            sid, row.tenant_id, app_key, row.secret, row.salt, shops, row.rate_limit
        )


class ServerApp:
    """The open-API app over a database, owning the connections its handlers keep.

    It serves both interfaces: RSGI (`__rsgi__`, what granian calls under `stocksync serve`)
    and ASGI (`__call__`, used in process by tests and tools). `api` is the protocol app
    (`api.answer(query, body, request_id)` answers without a transport). `close()` releases the
    kept connections (and the engine when the app made it); granian's worker shutdown
    (`__rsgi_del__`) and the ASGI lifespan shutdown do the same.
    """

    def __init__(self, api: OpenApiApp, database: Database, owns_engine: bool) -> None:
        self.api, self.database, self._owns_engine = api, database, owns_engine
        self._rsgi = RsgiEntry(api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.api(scope, receive, send)
        if scope["type"] == "lifespan":  # the server is shutting down
            self.close()

    def __rsgi__(self, scope: RsgiScope, protocol: RSGIHTTPProtocol) -> Awaitable[None]:
        """One RSGI request (`stocksync.openapi.rsgi`)."""
        return self._rsgi(scope, protocol)

    def __rsgi_del__(self, loop: object) -> None:
        """granian stops this worker process: close the kept connections."""
        self.close()

    def close(self) -> None:
        """Close the kept connections; dispose of the engine if `create_app` made it."""
        self.database.close()
        if self._owns_engine:
            self.database.engine.dispose()

    def __enter__(self) -> ServerApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> ServerApp:
    """The open-API ASGI app over the database named by `settings` (or the given engine)."""
    settings = settings or Settings.from_env()
    database = Database(engine or _server_engine(settings.db_url))
    api = create_openapi_app(
        build_registry(database, lease=settings.lease),
        DbCredentialStore(database.engine, ttl=settings.credential_ttl),
        max_body=settings.max_body,
        skew=settings.skew,
        default_rate_limit=settings.rate_limit,
    )
    return ServerApp(api, database, owns_engine=engine is None)


def _server_engine(url: str) -> Engine:
    """The server's engine. On SQLite each connection keeps up to `_SQLITE_STATEMENTS`
    prepared statements (the driver's default is 128): calcStock's stock query has one shape
    per count of specs and warehouses and per rule mask, and a statement prepared again costs
    more than the read itself."""
    if make_url(resolve_url(url)).get_backend_name() == "sqlite":
        return make_engine(url, connect_args={"cached_statements": _SQLITE_STATEMENTS})
    return make_engine(url)


def create_app_from_env() -> ServerApp:
    """Factory for server worker processes: settings come from the environment."""
    return create_app(Settings.from_env())


def serve(db_url: str, *, host: str, port: int, workers: int = 1) -> None:
    """Run the open API (`create_app_from_env`) under granian; see `run_server`."""
    os.environ["STOCKSYNC_DB"] = db_url
    run_server("stocksync.bootstrap:create_app_from_env", host=host, port=port, workers=workers)


def run_server(
    factory: str, *, host: str, port: int, workers: int = 1, log_level: str = "info"
) -> None:
    """Serve the app that `factory` ("module:function") builds, under granian's RSGI interface,
    until SIGTERM or SIGINT.

    granian's main process binds the socket and supervises `workers` worker processes (a
    worker that dies is started again); each worker builds its own app, so its own
    connections, credential cache and rate-limit counters, and runs it on one uvloop event
    loop beside one Rust thread that does the HTTP/1 work. On shutdown each worker finishes its
    calls and closes the app (`ServerApp.__rsgi_del__`); one still running 30 s later is
    killed. No access log, no HTTP/2, no WebSocket: the protocol is small one-shot HTTP/1.1
    POSTs. Logs go to stderr.
    """
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    server = Server(
        factory,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_access=False,
        log_level=LogLevels(log_level),
        log_dictconfig=_log_config(log_level),
        respawn_failed_workers=True,
        workers_kill_timeout=30,
    )
    server.serve(target_loader=_worker_app)


def _worker_app(factory: str) -> Any:
    """The app of one worker process, built by `factory` before the worker serves.

    SIGTERM and SIGINT first get their default action back: a forked worker inherits the main
    process's handlers, which would swallow a shutdown arriving before granian installs the
    worker's own, and the main process would then wait for that worker in vain.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)()


def _log_config(level: str) -> dict[str, Any]:
    """granian's logging configuration, with one format and stderr for its lines and the
    app's (the root logger at `level`), in the main process and in every worker."""
    from granian.log import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["generic"] = {
        "()": "logging.Formatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    }
    config["handlers"]["console"]["stream"] = "ext://sys.stderr"
    config["root"] = {"handlers": ["console"], "level": level.upper()}
    return config
