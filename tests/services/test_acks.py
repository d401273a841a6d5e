"""syncSuccess / syncFail / cancelSync and their sync records (semantics spec §6)."""

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from builders import add_custom_rule, add_listing, add_rule, add_shop
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import CUSTOM_RULE_ID, DELISTED, LISTED, MASK_DELAYED
from stocksync.services.acks import (
    SyncInfo,
    cancel_sync,
    decode_info,
    sync_fail,
    sync_records,
    sync_success,
)
from stocksync.services.clock import to_wdt
from stocksync.services.tracking import bump_listings

NOW = 1_700_000_000.0
NOW_WDT = to_wdt(NOW)
SHOP, HIDDEN_SHOP = 69, 70
PLAIN_RULE, DELISTING_RULE, LISTING_RULE = 10, 11, 12
COUNT = 2  # every listing starts pending at this change count


@pytest.fixture
def tid(engine: Engine, sid: str) -> int:
    """Listings 1-3 under plain / auto-delisting / auto-listing rules, 4 custom (both flags on),
    5 in another shop; all listed and pending at change count 2."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, SHOP)
        add_shop(conn, tid, HIDDEN_SHOP)
        add_rule(conn, tid, PLAIN_RULE)
        add_rule(conn, tid, DELISTING_RULE, is_auto_delisting=True)
        add_rule(conn, tid, LISTING_RULE, is_auto_listing=True)
        add_custom_rule(conn, tid, 4, is_auto_listing=True, is_auto_delisting=True)
        rules = [PLAIN_RULE, DELISTING_RULE, LISTING_RULE, CUSTOM_RULE_ID, PLAIN_RULE]
        for rec_id, rule_id in enumerate(rules, start=1):
            add_listing(
                conn, tid, rec_id, HIDDEN_SHOP if rec_id == 5 else SHOP, f"c{rec_id}",
                rule_id=rule_id, match_target_type=1, match_target_id=rec_id,
                stock_change_count=COUNT, is_stock_changed=True,
            )  # fmt: skip
    return tid


def state(engine: Engine, tid: int, rec_id: int) -> dict[str, Any]:
    c = listing.c
    with read_tx(engine) as conn:
        row = conn.execute(
            select(
                c.stock_change_count, c.is_stock_changed, c.disable_syn_until, c.mask,
                c.fail_count, c.status, c.stock_num, c.last_syn_num, c.last_syn_time,
                c.list_time, c.delist_time,
            ).where(c.tenant_id == tid, c.rec_id == rec_id)
        ).one()  # fmt: skip
    values = dict(row._mapping)
    values["is_stock_changed"] = bool(values["is_stock_changed"])
    return values


def records(engine: Engine, tid: int, rec_id: int | None = None) -> list[dict[str, Any]]:
    with read_tx(engine) as conn:
        return sync_records(conn, tid, rec_id)


def ack(engine: Engine, tid: int, kind: str, rec_id: int, arg: Any, **kwargs: Any) -> None:
    call = {"success": sync_success, "fail": sync_fail, "cancel": cancel_sync}[kind]
    kwargs.setdefault("now", NOW)
    with write_tx(engine) as conn:
        call(conn, tid, rec_id, arg, **kwargs)


def test_success_with_the_current_count_clears_pending_and_records_everything(
    engine: Engine, tid: int
) -> None:
    info = {
        "syn_stock": 12, "stock_change_count": COUNT, "stock_syn_min": Decimal("1.0000"),
        "stock_syn_warehouses": "6", "is_auto_delisting": True, "from_a_newer_client": "x",
    }  # fmt: skip
    ack(engine, tid, "success", 1, info, app_key="key1")
    after = state(engine, tid, 1)
    assert not after["is_stock_changed"]
    assert after["stock_change_count"] == COUNT
    assert (after["stock_num"], after["last_syn_num"]) == (Decimal(12), Decimal(12))
    assert after["last_syn_time"] == int(NOW)
    [record] = records(engine, tid)
    assert record["info"] == info
    assert record["kind"] == "success" and record["applied"] is True
    assert (record["rec_id"], record["shop_id"], record["app_key"]) == (1, SHOP, "key1")
    assert (record["syn_stock"], record["stock_change_count"]) == (Decimal(12), COUNT)
    assert record["created"] == int(NOW)
    assert record["time"] == "2023-11-15 06:13:20"
    assert "done" in record["result"]


@pytest.mark.parametrize("acknowledged", [COUNT - 1, COUNT + 1, None])
def test_success_with_a_stale_or_missing_count_keeps_the_listing_pending(
    engine: Engine, tid: int, acknowledged: int | None
) -> None:
    info: dict[str, Any] = {"syn_stock": 3}
    if acknowledged is not None:
        info["stock_change_count"] = acknowledged
    ack(engine, tid, "success", 1, info)
    after = state(engine, tid, 1)
    assert after["is_stock_changed"]
    assert after["last_syn_num"] == Decimal(3)  # the push itself is still recorded
    [record] = records(engine, tid)
    assert record["applied"] is False
    assert "still pending" in record["result"]


def test_success_accepts_what_real_clients_send(engine: Engine, tid: int) -> None:
    info = {"syn_stock": "0", "stock_change_count": str(COUNT), "is_auto_delisting": "1",
            "stock_syn_warehouses": 6, "is_syn_success": 1}  # fmt: skip
    ack(engine, tid, "success", 1, info)
    after = state(engine, tid, 1)
    assert not after["is_stock_changed"]
    assert (after["status"], after["delist_time"]) == (DELISTED, int(NOW))


def test_success_without_syn_stock_is_refused_and_changes_nothing(engine: Engine, tid: int) -> None:
    before = state(engine, tid, 1)
    with pytest.raises(InvalidArgument, match="syn_stock"):
        ack(engine, tid, "success", 1, {"stock_change_count": COUNT})
    assert state(engine, tid, 1) == before
    assert records(engine, tid) == []


@pytest.mark.parametrize(
    ("rec_id", "info", "status"),
    [
        (2, {}, DELISTED),  # the listing's rule auto-delists
        (1, {}, LISTED),  # its rule does not
        (1, {"is_auto_delisting": True}, DELISTED),  # info (the rule that computed it) wins
        (2, {"is_auto_delisting": False}, LISTED),
        (4, {}, DELISTED),  # custom rule
    ],
)
def test_pushing_zero_delists_per_auto_delisting(
    engine: Engine, tid: int, rec_id: int, info: dict[str, Any], status: int
) -> None:
    ack(engine, tid, "success", rec_id, {"syn_stock": 0, "stock_change_count": COUNT, **info})
    after = state(engine, tid, rec_id)
    assert after["status"] == status
    assert after["delist_time"] == (int(NOW) if status == DELISTED else None)


def test_pushing_stock_relists_a_delisted_listing_with_auto_listing(
    engine: Engine, tid: int
) -> None:
    for rec_id in (1, 3):
        ack(engine, tid, "success", rec_id, {"syn_stock": 0, "is_auto_delisting": True})
    ack(engine, tid, "success", 3, {"syn_stock": 5}, now=NOW + 60)
    ack(engine, tid, "success", 1, {"syn_stock": 5}, now=NOW + 60)
    assert (state(engine, tid, 3)["status"], state(engine, tid, 3)["list_time"]) == (
        LISTED,
        int(NOW) + 60,
    )
    assert state(engine, tid, 1)["status"] == DELISTED


def test_failures_back_off_and_a_later_success_clears_the_delay(engine: Engine, tid: int) -> None:
    delays = []
    for step in range(8):
        now = NOW + 10_000 * step
        ack(engine, tid, "fail", 1, {"syn_stock": 4, "syn_result": "timeout"}, now=now)
        after = state(engine, tid, 1)
        delays.append(after["disable_syn_until"] - to_wdt(now))
        assert after["mask"] & MASK_DELAYED
        assert after["is_stock_changed"] and after["stock_change_count"] == COUNT
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert state(engine, tid, 1)["fail_count"] == 8
    assert {r["kind"] for r in records(engine, tid)} == {"fail"}
    assert records(engine, tid)[0]["info"]["syn_result"] == "timeout"
    ack(engine, tid, "success", 1, {"syn_stock": 4, "stock_change_count": COUNT})
    after = state(engine, tid, 1)
    assert (after["fail_count"], after["mask"], after["disable_syn_until"]) == (0, 0, 0)
    assert not after["is_stock_changed"]


@pytest.mark.parametrize("count", [COUNT, -1])
def test_cancel_with_the_current_count_or_minus_one_clears_pending(
    engine: Engine, tid: int, count: int
) -> None:
    ack(engine, tid, "fail", 1, {})
    ack(engine, tid, "cancel", 1, count, app_key="k")
    after = state(engine, tid, 1)
    assert not after["is_stock_changed"]
    assert after["stock_change_count"] == COUNT
    assert after["last_syn_num"] == Decimal(-1)
    assert (after["fail_count"], after["mask"], after["disable_syn_until"]) == (0, 0, 0)
    cancel = records(engine, tid)[0]
    assert (cancel["kind"], cancel["applied"], cancel["stock_change_count"]) == (
        "cancel",
        True,
        count,
    )
    assert cancel["info"] == {"stock_change_count": count}


def test_cancel_with_a_stale_count_fails_and_changes_nothing(engine: Engine, tid: int) -> None:
    before = state(engine, tid, 1)
    with pytest.raises(BusinessError) as caught:
        ack(engine, tid, "cancel", 1, COUNT - 1)
    assert caught.value.message == "取消失败"
    assert state(engine, tid, 1) == before
    assert records(engine, tid) == []


@pytest.mark.parametrize("kind", ["success", "fail", "cancel"])
@pytest.mark.parametrize("rec_id", [99, 5])
def test_an_unknown_or_invisible_listing_does_not_exist(
    engine: Engine, tid: int, kind: str, rec_id: int
) -> None:
    arg: Any = -1 if kind == "cancel" else {"syn_stock": 1, "stock_change_count": COUNT}
    with pytest.raises(BusinessError) as caught:
        ack(engine, tid, kind, rec_id, arg, shop_ids=frozenset({SHOP}))
    assert caught.value.message == "平台货品不存在"
    assert state(engine, tid, 5)["is_stock_changed"]


def test_another_sellers_listing_cannot_be_acknowledged(engine: Engine, tid: int, sid: str) -> None:
    with write_tx(engine) as conn:
        other = ensure_tenant(conn, sid + "-b")
    with pytest.raises(BusinessError):
        ack(engine, other, "cancel", 1, -1)
    assert state(engine, tid, 1)["is_stock_changed"]


def test_records_come_newest_first_per_listing_and_limited(engine: Engine, tid: int) -> None:
    ack(engine, tid, "fail", 1, {}, now=NOW)
    ack(engine, tid, "fail", 2, {}, now=NOW + 1)
    ack(engine, tid, "success", 1, {"syn_stock": 1}, now=NOW + 2)
    assert [(r["rec_id"], r["kind"]) for r in records(engine, tid)] == [
        (1, "success"),
        (2, "fail"),
        (1, "fail"),
    ]
    assert [r["kind"] for r in records(engine, tid, 1)] == ["success", "fail"]
    with read_tx(engine) as conn:
        assert [r["rec_id"] for r in sync_records(conn, tid, limit=1)] == [1]


def test_an_info_value_json_cannot_hold_is_recorded_readably(engine: Engine, tid: int) -> None:
    ack(engine, tid, "fail", 1, {"odd": complex(1, 2)})
    assert records(engine, tid)[0]["info"] == {"odd": "(1+2j)"}


def test_a_stock_change_racing_an_ack_is_never_lost(engine: Engine, tid: int) -> None:
    """Either order: the change committed first makes the ack stale; committed after, it bumps
    the acknowledged listing again. Both ways the listing ends up pending at COUNT + 1."""

    def in_thread(target: Any) -> threading.Thread:
        thread = threading.Thread(target=target)
        thread.start()
        time.sleep(0.3)  # it blocks on the row lock (or SQLite's write lock) meanwhile
        return thread

    info = {"syn_stock": 7, "stock_change_count": COUNT}
    with write_tx(engine) as conn:
        bump_listings(conn, tid, [1], NOW)
        racer = in_thread(lambda: ack(engine, tid, "success", 1, info))
    racer.join(timeout=30)
    with write_tx(engine) as conn:
        sync_success(conn, tid, 2, info, now=NOW)
        racer = in_thread(lambda: _bump(engine, tid, 2))
    racer.join(timeout=30)
    for rec_id in (1, 2):
        after = state(engine, tid, rec_id)
        assert (after["stock_change_count"], after["is_stock_changed"]) == (COUNT + 1, True)
        assert after["last_syn_num"] == Decimal(7)


def _bump(engine: Engine, tid: int, rec_id: int) -> None:
    with write_tx(engine) as conn:
        bump_listings(conn, tid, [rec_id], NOW)


def test_decode_info_is_liberal_about_types() -> None:
    decoded = decode_info(
        {
            "syn_stock": "12.0000", "stock_change_count": "-1", "stock_syn_rule_id": -10000,
            "stock_syn_warehouses": 6, "stock_syn_percent": "80", "stock_syn_plus": 0.5,
            "stock_syn_min": Decimal("1.0000"), "is_auto_listing": "true", "is_auto_delisting": 0,
            "is_syn_success": "1", "is_manual": False, "syn_result": None, "extra": [1],
        }
    )  # fmt: skip
    assert decoded == SyncInfo(
        syn_stock=12, stock_change_count=-1, stock_syn_rule_id=-10000, stock_syn_warehouses="6",
        stock_syn_percent=Decimal(80), stock_syn_plus=Decimal("0.5"),
        stock_syn_min=Decimal("1.0000"), is_auto_listing=True, is_auto_delisting=False,
        is_syn_success=True, is_manual=False,
    )  # fmt: skip
    assert decode_info({}) == SyncInfo()


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"syn_stock": "1.5"}, "syn_stock"),
        ({"syn_stock": -1}, "syn_stock"),
        ({"syn_stock": "many"}, "syn_stock"),
        ({"syn_stock": True}, "syn_stock"),
        ({"syn_stock": 2**31}, "syn_stock"),
        ({"stock_change_count": "NaN"}, "stock_change_count"),
        ({"is_syn_success": 2}, "is_syn_success"),
        ({"is_auto_listing": "yes"}, "is_auto_listing"),
        ({"stock_syn_percent": "abc"}, "stock_syn_percent"),
        ({"stock_syn_rule_no": [1]}, "stock_syn_rule_no"),
        ({"stock_syn_mask": -2}, "stock_syn_mask"),
    ],
)
def test_decode_info_names_the_field_it_cannot_read(info: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument, match=f"info.{field} "):
        decode_info(info)


def test_decode_info_refuses_something_that_is_not_an_object() -> None:
    with pytest.raises(InvalidArgument, match="info"):
        decode_info([1, 2])  # type: ignore[arg-type]
