from decimal import Decimal

from sqlalchemy import Engine, select

from stocksync.db import migrate
from stocksync.db.engine import write_tx
from stocksync.db.schema import spec, stock, warehouse
from stocksync.db.tenants import ensure_tenant


def test_migrated_database_is_at_head(engine: Engine) -> None:
    assert migrate.is_current(engine)


def test_quantities_stay_exact_decimals(engine: Engine, sid: str) -> None:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        conn.execute(warehouse.insert().values(tenant_id=tid, warehouse_id=1, warehouse_no="A"))
        conn.execute(spec.insert().values(tenant_id=tid, spec_id=1, spec_no="s"))
        conn.execute(
            stock.insert().values(
                tenant_id=tid,
                spec_id=1,
                warehouse_id=1,
                rec_id=1,
                stock_num=Decimal("0.1"),
                order_num=Decimal("0.2"),
            )
        )
    with engine.connect() as conn:
        query = select(stock.c.stock_num, stock.c.order_num).where(stock.c.tenant_id == tid)
        row = conn.execute(query).one()
    assert row.stock_num + row.order_num == Decimal("0.3")
    assert str(row.stock_num) == "0.1000"


def test_migrations_create_exactly_the_declared_schema(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from stocksync.db.schema import metadata

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
