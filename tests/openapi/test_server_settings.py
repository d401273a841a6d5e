"""Server settings from the environment, and the credential cache of `DbCredentialStore`."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update
from test_methods_support import app_key, demo_tenant

from stocksync.bootstrap import DbCredentialStore, Settings
from stocksync.db import schema
from stocksync.db.engine import write_tx


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"STOCKSYNC_DB": "sqlite:////tmp/x.db", "STOCKSYNC_MAX_BODY": "1000",
              "STOCKSYNC_LEASE": "60", "STOCKSYNC_SKEW": "30", "STOCKSYNC_RATE_LIMIT": "90",
              "STOCKSYNC_CREDENTIAL_TTL": "0"}  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == Settings("sqlite:////tmp/x.db", 1000, 60, 30, 90, 0)


def test_settings_default_when_the_environment_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKSYNC_DB", "sqlite:////tmp/x.db")
    for name in ("MAX_BODY", "LEASE", "SKEW", "RATE_LIMIT", "CREDENTIAL_TTL"):
        monkeypatch.delenv(f"STOCKSYNC_{name}", raising=False)
    assert Settings.from_env() == Settings(
        "sqlite:////tmp/x.db", 4 * 1024 * 1024, 300, 120, None, 5
    )


def _set_salt(engine: Engine, tid: int, salt: str) -> None:
    with write_tx(engine) as conn:
        conn.execute(update(schema.app).where(schema.app.c.tenant_id == tid).values(salt=salt))


def _salt(store: DbCredentialStore, sid: str) -> str:
    found = store.lookup(sid, "demo-key")
    assert found is not None
    return found.salt


def test_a_credential_is_kept_for_its_ttl_then_read_again(sqlite_engine: Engine, sid: str) -> None:
    tid = demo_tenant(sqlite_engine, sid, apps=[app_key(salt="old")])
    now = [1000.0]
    store = DbCredentialStore(sqlite_engine, ttl=5, clock=lambda: now[0])
    assert _salt(store, sid) == "old"
    _set_salt(sqlite_engine, tid, "new")
    now[0] += 4.9
    assert _salt(store, sid) == "old"
    now[0] += 0.2
    assert _salt(store, sid) == "new"


def test_an_unknown_key_is_kept_for_its_ttl_too(sqlite_engine: Engine, sid: str) -> None:
    now = [1000.0]
    store = DbCredentialStore(sqlite_engine, ttl=5, clock=lambda: now[0])
    assert store.lookup(sid, "demo-key") is None
    demo_tenant(sqlite_engine, sid)
    assert store.lookup(sid, "demo-key") is None
    now[0] += 6
    assert store.lookup(sid, "demo-key") is not None


def test_a_ttl_of_zero_reads_every_time(sqlite_engine: Engine, sid: str) -> None:
    tid = demo_tenant(sqlite_engine, sid, apps=[app_key(salt="old")])
    store = DbCredentialStore(sqlite_engine, ttl=0)
    assert _salt(store, sid) == "old"
    _set_salt(sqlite_engine, tid, "new")
    assert _salt(store, sid) == "new"


def test_a_limited_key_carries_its_shops_and_rate_limit(sqlite_engine: Engine, sid: str) -> None:
    tid = demo_tenant(sqlite_engine, sid, apps=[app_key(shop_ids=[70, 69])])
    with write_tx(sqlite_engine) as conn:
        conn.execute(update(schema.app).where(schema.app.c.tenant_id == tid).values(rate_limit=7))
    found = DbCredentialStore(sqlite_engine).lookup(sid, "demo-key")
    assert found is not None
    assert (found.tenant_id, found.shop_ids, found.rate_limit) == (tid, frozenset({69, 70}), 7)


@pytest.mark.parametrize("where", ["sid", "key"])
def test_a_sid_or_key_holding_nul_is_unknown_on_every_backend(
    engine: Engine, sid: str, where: str
) -> None:
    """PostgreSQL refuses text with NUL; the store must answer "unknown" (验证失败), not fail."""
    demo_tenant(engine, sid, apps=[app_key()])
    store = DbCredentialStore(engine, ttl=0)
    assert store.lookup(sid, "demo-key") is not None
    if where == "sid":
        assert store.lookup(sid + "\x00", "demo-key") is None
    else:
        assert store.lookup(sid, "demo-\x00key") is None
