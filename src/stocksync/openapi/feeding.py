"""The methods that feed the engine (flagship protocol §6): goods, suites, listings, stocktake,
and the paged reads of shops, warehouses and stock.

Handlers decode their object arguments field by field, liberally (§4: numbers as strings, bools
as 1/0, missing optional fields absent) and name the field that cannot be read
(`specInfoList[2].new_num: not a decimal …`); the services check the values. Each write runs
in one write transaction, so a refused call writes nothing. Ids are allocated as the tenant's
largest + 1, so the feeding writes of one tenant take turns (see `_Feeding._serialised`); a
write that still loses a race with another writer (a duplicate key, a deadlock) is run again
as a whole, up to `ATTEMPTS` times. Database failures answer status 5 (`Database.guard`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from stocksync.db.engine import WRITE_OPTION
from stocksync.db.schema import tenant
from stocksync.domain.errors import InvalidArgument
from stocksync.domain.model import LISTED
from stocksync.openapi.arguments import Kind, Param, to_bool, to_decimal, to_int, to_str
from stocksync.openapi.errors import Business, ProtocolError
from stocksync.openapi.methods import Database
from stocksync.openapi.ports import CallContext, Handler
from stocksync.openapi.registry import MethodRegistry
from stocksync.services import goods, listings, queries, stocktake

#: How many times a write whose transaction lost a race is tried in all.
ATTEMPTS = 3
#: Seconds a feeding write waits for another write of the same seller (MariaDB's named lock).
LOCK_WAIT = 60
_T = TypeVar("_T")
# Deadlock / serialisation failure: PostgreSQL SQLSTATEs, MySQL/MariaDB error numbers.
_RETRY_STATES = frozenset({"40P01", "40001"})
_RETRY_ERRNOS = frozenset({1213, 1205})


def register_feeding(registry: MethodRegistry, database: Engine | Database) -> None:
    """Register the feeding methods and paged reads, bound to `database` (or a bare engine).

    Database failures answer status 5 like the other methods (`Database.guard`).
    """
    if isinstance(database, Engine):
        database = Database(database)
    _Feeding(database).register(registry)


class Fields:
    """The fields of one JSON object argument, decoded with the protocol's coercers.

    `path` prefixes field names in messages (`"goodsInfo."`, `"specList[3]."`, or `""`).
    A missing field or a JSON null reads as absent (the default).
    """

    def __init__(self, value: Any, path: str) -> None:
        if value == []:  # PHP encodes an empty array so
            value = {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"{path.rstrip('.') or 'argument'}: not an object")
        self.value, self.path = value, path

    def _read(self, name: str, coerce: Callable[[Any], _T], expected: str) -> _T | None:
        raw = self.value.get(name)
        if raw is None:
            return None
        try:
            return coerce(raw)
        except ProtocolError:
            raise InvalidArgument(f"{self.path}{name}: not {expected}: {raw!r}") from None

    def text(self, name: str) -> str:
        """A string ("" when absent); numbers are taken as their text."""
        return self._read(name, to_str, "a string") or ""

    def decimal(self, name: str) -> Decimal | None:
        return self._read(name, to_decimal, "a decimal with at most 4 places")

    def flag(self, name: str, default: bool = False) -> bool:
        found = self._read(name, to_bool, "a boolean (true/false, 1/0)")
        return default if found is None else found

    def integer(self, name: str, default: int | None = None) -> int | None:
        found = self._read(name, to_int, "a 32-bit integer")
        return default if found is None else found

    def items(self, name: str) -> list[Fields]:
        """A list of objects, each as `Fields` with path `name[i].`."""
        raw = self._read(name, _to_list, "a list")
        return [Fields(value, f"{self.path}{name}[{i}].") for i, value in enumerate(raw or [])]

    def texts(self, name: str) -> tuple[str, ...] | None:
        """A list of strings, or None when absent."""
        raw = self._read(name, _to_list, "a list")
        if raw is None:
            return None
        return tuple(
            Fields({"v": v}, f"{self.path}{name}[{i}]").text("v") for i, v in enumerate(raw)
        )


def _to_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError()
    return value


def _elements(raw: list[Any], name: str) -> list[Fields]:
    """The objects of a list argument, as `Fields` with path `name[i].`."""
    return [Fields(value, f"{name}[{i}].") for i, value in enumerate(raw)]


class _Feeding:
    """The handlers, bound to one engine (and one stocktake numbering)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._numbers = stocktake.PdNumbers()

    def register(self, registry: MethodRegistry) -> None:
        obj: Kind = "object"
        params = (Param("params", obj, required=False, default={}),)
        methods: list[tuple[str, Handler, tuple[Param, ...]]] = [
            ("goods.Goods.push", self.push_goods,
             (Param("goodsInfo", obj), Param("specInfoList", "list"))),
            ("goods.Suite.upload2", self.upload_suite,
             (Param("suite", obj), Param("suite_detail_list", "list"))),
            ("goods.ApiGoods.upload", self.upload_listings, (Param("param", obj),)),
            ("wms.StockPd.stockSyncByPd", self.stock_pd,
             (Param("pdOrder", obj), Param("specList", "list", required=False, default=[]))),
            ("setting.Shop.queryShop", self.query_shop, params),
            ("setting.Warehouse.queryWarehouse", self.query_warehouse, params),
            ("wms.StockSpec.search", self.search_stock, params),
        ]  # fmt: skip
        for name, handler, spec in methods:
            registry.register(name, self._db.guard(handler), spec)

    # -- writes ---------------------------------------------------------------------------

    def _write(self, tid: int, work: Callable[[Connection], _T]) -> _T:
        """`work` in a write transaction, one feeding write of the tenant at a time, run again
        when it lost a race with another writer anyway."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._serialised(tid) as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not _lost_race(exc):
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _serialised(self, tid: int) -> Iterator[Connection]:
        """A write transaction holding the tenant's feeding lock until it ends.

        Ids are the largest + 1, so two feeding writes of one tenant must not overlap. SQLite's
        write transactions are exclusive already; PostgreSQL locks the tenant row FOR NO KEY
        UPDATE (foreign-key checks of other writers pass); MariaDB takes a named lock, because a
        row lock on the tenant would block the foreign-key checks of concurrent acks and could
        deadlock with them. Other writers never wait for these locks, so no cycle can form.
        """
        engine = self._db.engine
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            name = f"stocksync-feed-{int(tid)}" if conn.dialect.name == "mysql" else None
            if name is not None:
                got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, LOCK_WAIT)).scalar()
                conn.commit()
                if got != 1:
                    raise Business(f"another write of this seller is still running ({LOCK_WAIT} s)")
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        mine = select(tenant.c.tenant_id).where(tenant.c.tenant_id == tid)
                        conn.execute(mine.with_for_update(key_share=True))
                    yield conn
            finally:
                if name is not None:
                    _release(conn, name)

    def push_goods(self, ctx: CallContext, args: list[Any]) -> Any:
        head = Fields(args[0], "goodsInfo.")
        info = goods.GoodsInfo(
            goods_no=head.text("goods_no"),
            goods_name=head.text("goods_name"),
            class_name=head.text("class_name"),
            brand_name=head.text("brand_name"),
            auto_create_bc=head.flag("auto_create_bc"),
            goods_type=head.integer("goods_type", 0) or 0,
            short_name=head.text("short_name"),
            remark=head.text("remark"),
        )
        specs = [_spec_info(item) for item in _elements(args[1], "specInfoList")]
        tid = ctx.credential.tenant_id
        return self._write(tid, lambda conn: goods.push_goods(conn, tid, info, specs, ctx.now).id)

    def upload_suite(self, ctx: CallContext, args: list[Any]) -> Any:
        head = Fields(args[0], "suite.")
        info = goods.SuiteInfo(
            suite_no=head.text("suite_no"),
            suite_name=head.text("suite_name"),
            class_name=head.text("class_name"),
            brand_name=head.text("brand_name"),
            auto_create_bc=head.flag("auto_create_bc"),
            barcode=head.text("barcode"),
            remark=head.text("remark"),
        )
        details = [
            goods.SuiteItem(item.text("spec_no"), item.decimal("num"))
            for item in _elements(args[1], "suite_detail_list")
        ]
        tid = ctx.credential.tenant_id
        return self._write(
            tid, lambda conn: goods.upload_suite(conn, tid, info, details, ctx.now).id
        )

    def upload_listings(self, ctx: CallContext, args: list[Any]) -> Any:
        """Our rule: the data is `{"status": 0, "rec_ids": [...]}`, as the vendor answers."""
        param = Fields(args[0], "")
        shop_no = param.text("shop_no")
        if param.value.get("goods_list") is None:
            raise InvalidArgument("goods_list: required")
        items = [_listing_info(item) for item in param.items("goods_list")]
        cred = ctx.credential

        def work(conn: Connection) -> listings.Uploaded:
            return listings.upload_listings(
                conn, cred.tenant_id, shop_no, items, shop_ids=cred.shop_ids, now=ctx.now
            )

        return {"status": 0, "rec_ids": self._write(cred.tenant_id, work).rec_ids}

    def stock_pd(self, ctx: CallContext, args: list[Any]) -> Any:
        head = Fields(args[0], "pdOrder.")
        order = stocktake.PdOrder(
            warehouse_no=head.text("warehouse_no"),
            defect_mode=head.integer("defect_mode", 0) or 0,
            remark=head.text("remark"),
            is_post_error=head.flag("is_post_error"),
        )
        items = [
            stocktake.PdItem(
                item.text("spec_no"), item.decimal("new_num"), item.text("remark"),
                item.flag("defect"),
            )
            for item in _elements(args[1], "specList")
        ]  # fmt: skip
        tid = ctx.credential.tenant_id
        done = self._write(
            tid, lambda conn: stocktake.stocktake(conn, tid, order, items, ctx.now, self._numbers)
        )
        data: dict[str, Any] = {"pd_no": done.pd_no, str(done.pd_id): "ok"}
        if done.skipped:
            data["skip_spec_no"] = ",".join(done.skipped)
        return data

    # -- paged reads -------------------------------------------------------------------------

    def query_shop(self, ctx: CallContext, args: list[Any]) -> Any:
        params, page = Fields(args[0], "params."), _page(ctx)
        shop_no = params.text("shop_no") or None
        platform_id = params.integer("platform_id")
        with self._db.read() as conn:
            return queries.query_shops(
                conn,
                ctx.credential.tenant_id,
                page,
                shop_no=shop_no,
                platform_id=platform_id,
                shop_ids=ctx.credential.shop_ids,
            )

    def query_warehouse(self, ctx: CallContext, args: list[Any]) -> Any:
        params, page = Fields(args[0], "params."), _page(ctx)
        warehouse_no = params.text("warehouse_no") or None
        warehouse_name = params.text("warehouse_name") or None
        type_, hide = params.integer("type"), params.flag("hide_delete", True)
        with self._db.read() as conn:
            return queries.query_warehouses(
                conn,
                ctx.credential.tenant_id,
                page,
                warehouse_no=warehouse_no,
                warehouse_name=warehouse_name,
                type_=type_,
                hide_delete=hide,
            )

    def search_stock(self, ctx: CallContext, args: list[Any]) -> Any:
        params, page = Fields(args[0], "params."), _page(ctx)
        wanted = queries.StockFilter(
            spec_nos=params.texts("spec_nos") or None,  # [] = no filter, like absent
            warehouse_no=params.text("warehouse_no"),
            start_time=params.text("start_time"),
            end_time=params.text("end_time"),
        )
        with self._db.read() as conn:
            return queries.search_stock(conn, ctx.credential.tenant_id, page, wanted)


def _page(ctx: CallContext) -> queries.Page:
    return queries.Page.of(ctx.page_size, ctx.page_no, ctx.calc_total)


def _spec_info(item: Fields) -> goods.SpecInfo:
    return goods.SpecInfo(
        spec_no=item.text("spec_no"),
        spec_name=item.text("spec_name"),
        spec_code=item.text("spec_code"),
        barcode=item.text("barcode"),
        retail_price=item.decimal("retail_price") or Decimal(0),
        weight=item.decimal("weight") or Decimal(0),
        remark=item.text("remark"),
    )


def _listing_info(item: Fields) -> listings.ListingInfo:
    status = item.integer("status")
    return listings.ListingInfo(
        goods_id=item.text("goods_id"),
        spec_id=item.text("spec_id"),
        outer_id=item.text("goods_no"),
        spec_outer_id=item.text("spec_no"),
        status=LISTED if status is None else status,
        goods_name=item.text("goods_name"),
        spec_name=item.text("spec_name"),
        pic_url=item.text("pic_url"),
        price=item.decimal("price") or Decimal(0),
        stock_num=item.decimal("stock_num") or Decimal(0),
    )


def _release(conn: Connection, name: str) -> None:
    # A connection that broke has ended its session, and the named lock with it: the error
    # that broke it is the one to report.
    with suppress(DBAPIError):
        conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
        conn.commit()


def _lost_race(exc: DBAPIError) -> bool:
    """A duplicate key from a concurrent insert, or a deadlock / serialisation failure."""
    if isinstance(exc, IntegrityError):
        return True
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_STATES:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _RETRY_ERRNOS
