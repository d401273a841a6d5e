"""Sellers (`sid`): every business row belongs to exactly one tenant."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from stocksync.db.schema import tenant


def tenant_id(conn: Connection, sid: str) -> int | None:
    """The tenant id of seller `sid`, or None when the seller is unknown."""
    return conn.execute(select(tenant.c.tenant_id).where(tenant.c.sid == sid)).scalar_one_or_none()


def ensure_tenant(conn: Connection, sid: str) -> int:
    """The tenant id of seller `sid`, creating the seller if needed."""
    found = tenant_id(conn, sid)
    if found is not None:
        return found
    result = conn.execute(insert(tenant).values(sid=sid))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_sids(conn: Connection) -> list[str]:
    """Every seller in this database, sorted."""
    return list(conn.execute(select(tenant.c.sid).order_by(tenant.c.sid)).scalars())
