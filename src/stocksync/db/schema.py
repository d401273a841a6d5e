"""The SQLAlchemy Core schema: every table of the stock model, one seller per `tenant_id`.

Every business table is keyed by (`tenant_id`, id) so that ids given by a seller are kept as
given and never collide with another seller's. Quantities use `Qty` (scaled BIGINT, see
`types.py`). Times are Unix seconds (BIGINT) except `api_goods_spec.disable_syn_until`, which
counts seconds since 2012-01-01 00:00 China time as the flagship protocol does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from stocksync.db.types import Qty
from stocksync.domain.model import QUANTITY_FIELDS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


#: On MariaDB/MySQL: utf8mb4 with a binary collation, so merchant codes and names compare exactly
#: (case- and trailing-space-sensitive) as they do on SQLite and PostgreSQL.
MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id"], ["tenant.tenant_id"], name=f"fk_{table}_tenant")


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean, nullable=False, server_default=false())


def _qty(name: str, default: str = "0") -> Column[Any]:
    return Column(name, Qty(), nullable=False, server_default=text(default))


def _str(name: str, length: int = 64) -> Column[str]:
    return Column(name, String(length), nullable=False, server_default="")


tenant = Table(
    "tenant",
    metadata,
    Column("tenant_id", Integer, primary_key=True, autoincrement=True),
    Column("sid", String(64), nullable=False, unique=True),
    **MYSQL_OPTIONS,
)

app = Table(
    "app",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("app_key", String(64), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("salt", String(128), nullable=False),
    _str("shop_ids", 1024),  # comma-separated shop ids this key may see; empty = all shops
    Column("rate_limit", Integer, nullable=True),  # calls per minute; NULL = unlimited
    PrimaryKeyConstraint("tenant_id", "app_key"),
    _tenant_fk("app"),
    **MYSQL_OPTIONS,
)

warehouse = Table(
    "warehouse",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("warehouse_id", Integer, nullable=False),
    _str("warehouse_no"),
    _str("name", 128),
    Column("type", Integer, nullable=False, server_default="0"),
    _flag("is_defect"),
    _flag("is_outer_stock"),
    _flag("is_disabled"),
    PrimaryKeyConstraint("tenant_id", "warehouse_id"),
    UniqueConstraint("tenant_id", "warehouse_no"),
    _tenant_fk("warehouse"),
    **MYSQL_OPTIONS,
)

brand = Table(
    "goods_brand",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("brand_id", Integer, nullable=False),
    _str("brand_name", 128),
    PrimaryKeyConstraint("tenant_id", "brand_id"),
    _tenant_fk("goods_brand"),
    **MYSQL_OPTIONS,
)

goods_class = Table(
    "goods_class",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("class_id", Integer, nullable=False),
    _str("class_name", 128),
    Column("parent_id", Integer, nullable=False, server_default="-1"),
    PrimaryKeyConstraint("tenant_id", "class_id"),
    _tenant_fk("goods_class"),
    **MYSQL_OPTIONS,
)

goods = Table(
    "goods_goods",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("goods_id", Integer, nullable=False),
    _str("goods_no"),
    _str("goods_name", 255),
    _str("short_name", 255),
    Column("goods_type", Integer, nullable=False, server_default="1"),
    _str("remark", 255),
    PrimaryKeyConstraint("tenant_id", "goods_id"),
    UniqueConstraint("tenant_id", "goods_no"),
    _tenant_fk("goods_goods"),
    **MYSQL_OPTIONS,
)

spec = Table(
    "goods_spec",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("spec_id", Integer, nullable=False),
    _str("spec_no"),  # merchant code 商家编码
    _str("goods_no"),
    _str("goods_name", 255),
    _str("spec_name", 255),
    _str("spec_code"),
    _str("barcode"),
    Column("brand_id", Integer, nullable=False, server_default="0"),  # 0 = none
    Column("class_id", Integer, nullable=False, server_default="0"),  # 0 = none
    _qty("retail_price"),
    _qty("weight"),
    _str("remark", 255),
    Column("modified", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "spec_id"),
    UniqueConstraint("tenant_id", "spec_no"),
    _tenant_fk("goods_spec"),
    **MYSQL_OPTIONS,
)

suite = Table(
    "goods_suite",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("suite_id", Integer, nullable=False),
    _str("suite_no"),
    _str("suite_name", 255),
    _str("barcode"),
    Column("brand_id", Integer, nullable=False, server_default="0"),
    Column("class_id", Integer, nullable=False, server_default="0"),
    _str("remark", 255),
    Column("modified", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "suite_id"),
    UniqueConstraint("tenant_id", "suite_no"),
    _tenant_fk("goods_suite"),
    **MYSQL_OPTIONS,
)

suite_detail = Table(
    "goods_suite_detail",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("suite_id", Integer, nullable=False),
    Column("spec_id", Integer, nullable=False),
    _qty("num"),
    PrimaryKeyConstraint("tenant_id", "suite_id", "spec_id"),
    Index("ix_goods_suite_detail_spec", "tenant_id", "spec_id"),
    _tenant_fk("goods_suite_detail"),
    **MYSQL_OPTIONS,
)

stock = Table(
    "stock_spec",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("spec_id", Integer, nullable=False),
    Column("warehouse_id", Integer, nullable=False),
    Column("rec_id", Integer, nullable=False),  # row id shown by wms.StockSpec.search
    _qty("stock_num"),
    *[_qty(name) for name in QUANTITY_FIELDS],
    _qty("wms_stock_diff"),
    Column("created", BigInteger, nullable=False, server_default="0"),
    Column("modified", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "spec_id", "warehouse_id"),
    UniqueConstraint("tenant_id", "rec_id"),
    Index("ix_stock_spec_modified", "tenant_id", "modified"),
    _tenant_fk("stock_spec"),
    **MYSQL_OPTIONS,
)

shop = Table(
    "shop",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("shop_id", Integer, nullable=False),
    _str("shop_no"),
    _str("shop_name", 128),
    Column("platform_id", Integer, nullable=False, server_default="127"),
    Column("sub_platform_id", Integer, nullable=False, server_default="0"),
    _flag("is_disabled"),
    PrimaryKeyConstraint("tenant_id", "shop_id"),
    UniqueConstraint("tenant_id", "shop_no"),
    _tenant_fk("shop"),
    **MYSQL_OPTIONS,
)


def _rule_param_columns(prefix: str = "") -> list[Column[Any]]:
    return [
        _str(f"{prefix}warehouse_list", 1024),
        Column(f"{prefix}stock_flag", Integer, nullable=False, server_default="0"),
        _qty(f"{prefix}percent", "1000000"),  # 100.0000
        _qty(f"{prefix}plus_value"),
        _qty(f"{prefix}min_stock"),
        _qty(f"{prefix}max_stock"),
        _flag(f"{prefix}is_auto_listing"),
        _flag(f"{prefix}is_auto_delisting"),
    ]


rule = Table(
    "cfg_stock_sync_rule",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("rec_id", Integer, nullable=False),
    _str("rule_no"),
    _str("rule_name", 128),
    Column("priority", Integer, nullable=False, server_default="0"),
    _str("shop_list", 1024),
    Column("class_id", Integer, nullable=False, server_default="-1"),
    Column("brand_id", Integer, nullable=False, server_default="-1"),
    *_rule_param_columns(),
    _flag("is_disable_syn"),
    _flag("is_disabled"),
    Column("modified", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "rec_id"),
    _tenant_fk("cfg_stock_sync_rule"),
    **MYSQL_OPTIONS,
)

listing = Table(
    "api_goods_spec",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("rec_id", Integer, nullable=False),
    Column("shop_id", Integer, nullable=False),
    _str("goods_id", 40),  # platform ids
    _str("spec_id", 40),
    _str("outer_id", 40),  # platform merchant codes
    _str("spec_outer_id", 40),
    _str("goods_name", 255),
    _str("spec_name", 255),
    _str("pic_url", 1024),
    _qty("price"),
    Column("status", Integer, nullable=False, server_default="1"),  # 0 deleted 1 listed 2 delisted
    _qty("stock_num"),  # quantity last known on the platform
    # match
    _str("match_code", 40),
    Column("match_target_type", Integer, nullable=False, server_default="0"),
    Column("match_target_id", Integer, nullable=False, server_default="0"),
    _flag("is_manual_match"),
    # the listing is switched off for syncing
    _flag("is_disable_syn"),
    # resolved rule: a rule rec_id, -10000 custom rule, -1 none (kept live by services)
    Column("rule_id", Integer, nullable=False, server_default="-1"),
    # sync state (semantics spec §6)
    Column("stock_change_count", Integer, nullable=False, server_default="0"),
    _flag("is_stock_changed"),
    Column("disable_syn_until", BigInteger, nullable=False, server_default="0"),
    Column("mask", Integer, nullable=False, server_default="0"),
    _qty("last_syn_num", "-10000"),  # -1.0000 = never synced
    Column("last_syn_time", BigInteger, nullable=True),
    Column("fail_count", Integer, nullable=False, server_default="0"),
    Column("list_time", BigInteger, nullable=True),
    Column("delist_time", BigInteger, nullable=True),
    _str("reserve_s", 255),
    Column("created", BigInteger, nullable=False, server_default="0"),
    Column("modified", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "rec_id"),
    UniqueConstraint("tenant_id", "shop_id", "goods_id", "spec_id"),
    Index("ix_api_goods_spec_match", "tenant_id", "match_target_type", "match_target_id"),
    Index("ix_api_goods_spec_code", "tenant_id", "match_code"),
    Index("ix_api_goods_spec_rule", "tenant_id", "rule_id"),
    # The wait list (services/waitlist.py) walks this index in the order it serves and finds
    # every column it filters on here, so it never reads the table to choose a page. Where
    # partial indexes exist (not MariaDB) it holds only the pending listings: smaller, and a
    # bump or an ack adds or removes an entry instead of moving it.
    Index(
        "ix_api_goods_spec_wait",
        *("tenant_id", "is_stock_changed", "disable_syn_until", "rec_id"),
        *("is_disable_syn", "status", "match_target_type", "rule_id", "shop_id"),
        sqlite_where=text("is_stock_changed = 1"),
        postgresql_where=text("is_stock_changed"),
    ),
    _tenant_fk("api_goods_spec"),
    # Room on each page so that bumping a listing is an in-place (HOT) update on PostgreSQL.
    postgresql_with={"fillfactor": 85},
    **MYSQL_OPTIONS,
)

custom_rule = Table(
    "api_goods_spec_custom_rule",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("rec_id", Integer, nullable=False),  # the listing
    *_rule_param_columns(),
    PrimaryKeyConstraint("tenant_id", "rec_id"),
    _tenant_fk("api_goods_spec_custom_rule"),
    **MYSQL_OPTIONS,
)

sync_record = Table(
    "api_stock_sync_record",
    metadata,
    Column("record_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("listing_id", Integer, nullable=False),
    Column("shop_id", Integer, nullable=False),
    Column("created", BigInteger, nullable=False),
    _str("app_key"),
    _str("kind", 16),  # success | fail | cancel
    Column("syn_stock", Qty(), nullable=True),
    Column("stock_change_count", Integer, nullable=True),
    Column("applied", Boolean, nullable=False),  # False when the compare-and-set kept it pending
    Column("info", Text, nullable=False),  # every field the client sent, as JSON
    Column("result", Text, nullable=False),
    Index("ix_api_stock_sync_record_listing", "tenant_id", "listing_id", "record_id"),
    _tenant_fk("api_stock_sync_record"),
    **MYSQL_OPTIONS,
)
