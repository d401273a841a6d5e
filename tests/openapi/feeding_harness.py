"""Driving the feeding methods through the real app and client, on a real database.

`Feed` builds the open-API app over `engine` (the registry of `openapi/methods.py` plus
`register_feeding`), adds an app key for the tenant and calls methods through
`stocksync.client.Client` over `AsgiTransport`. `everything(conn, tid)` reads every row of the
tenant, so a test can show that a refused call wrote nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from stocksync.bootstrap import DbCredentialStore
from stocksync.client import ApiError, Client
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.openapi.app import create_openapi_app
from stocksync.openapi.methods import Database, build_registry
from stocksync.openapi.ports import AppCredential
from stocksync.openapi.testing import AsgiTransport

KEY, SECRET, SALT = "feedkey", "feedsecret", "feedsalt"


class Feed:
    """The app over `engine` with one key of seller `sid` (seeing `shop_ids`, "" = all)."""

    def __init__(self, engine: Engine, sid: str, tid: int, shop_ids: str = "") -> None:
        self.engine, self.tid = engine, tid
        with write_tx(engine) as conn:
            conn.execute(
                insert(schema.app).values(
                    tenant_id=tid, app_key=KEY, secret=SECRET, salt=SALT, shop_ids=shop_ids
                )
            )
        self.database = Database(engine)
        self.registry = registry = build_registry(self.database)
        self.transport = AsgiTransport(create_openapi_app(registry, DbCredentialStore(engine)))
        self.client = Client("http://stocksync.test", sid, KEY, f"{SECRET}:{SALT}",
                             transport=self.transport)  # fmt: skip

    def client_credential(self) -> AppCredential:
        """The credential the app finds for this key (for calling handlers directly)."""
        found = DbCredentialStore(self.engine).lookup(self.client.sid, KEY)
        assert found is not None
        return found

    def call(self, method: str, *args: Any) -> Any:
        """The data of a successful call."""
        return self.client.call(method, *args)

    def page(self, method: str, params: Any, size: int = 40, number: int = 0) -> Any:
        """A paged call with calc_total=1."""
        return self.client.page_call(method, size, number, params, calc_total=True)

    def refused(
        self, method: str, *args: Any, paging: tuple[int, int] | None = None
    ) -> tuple[int, str]:
        """(status, message) of a call that must fail; asserts that it wrote nothing."""
        before = self.everything()
        try:
            if paging is None:
                self.client.call(method, *args)
            else:
                self.client.page_call(method, paging[0], paging[1], *args)
        except ApiError as exc:
            assert self.everything() == before, "a refused call changed the database"
            return exc.status, exc.message
        raise AssertionError(f"{method} succeeded")

    def everything(self) -> dict[str, list[tuple[Any, ...]]]:
        with read_tx(self.engine) as conn:
            return everything(conn, self.tid)

    def close(self) -> None:
        self.transport.close()
        self.database.close()


def everything(conn: Connection, tid: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the tenant, sorted: equal before and after = nothing written."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for table in schema.metadata.sorted_tables:
        if "tenant_id" in table.c and table.name != "tenant":
            rows = conn.execute(select(table).where(table.c.tenant_id == tid)).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found
