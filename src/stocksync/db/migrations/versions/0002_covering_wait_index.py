"""covering wait index: the wait list's filter columns, pending listings only

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:30:00.000000

`ix_api_goods_spec_wait` gains the columns the wait list filters on (after the ones it walks),
so choosing a page never reads the table; on SQLite and PostgreSQL it holds only the pending
listings (a partial index; MariaDB has none and keeps every listing).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NAME, _TABLE = "ix_api_goods_spec_wait", "api_goods_spec"
_WALKED = ["tenant_id", "is_stock_changed", "disable_syn_until", "rec_id"]
_FILTERED = ["is_disable_syn", "status", "match_target_type", "rule_id", "shop_id"]


def upgrade() -> None:
    op.drop_index(_NAME, table_name=_TABLE)
    op.create_index(
        _NAME,
        _TABLE,
        _WALKED + _FILTERED,
        unique=False,
        sqlite_where=text("is_stock_changed = 1"),
        postgresql_where=text("is_stock_changed"),
    )


def downgrade() -> None:
    op.drop_index(_NAME, table_name=_TABLE)
    op.create_index(_NAME, _TABLE, _WALKED, unique=False)
