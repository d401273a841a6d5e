"""upload_listings / set_listing_disabled: new listings settled as live services would, bumps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, select

from builders import (
    add_brand,
    add_custom_rule,
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_suite,
    listing_state,
    settle,
)
from stocksync.db import schema
from stocksync.db.engine import write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.domain.model import CUSTOM_RULE_ID
from stocksync.services.listings import ListingInfo, set_listing_disabled, upload_listings
from stocksync.services.tracking import refresh_matches, refresh_rules

NOW = 1_700_000_000.0


@pytest.fixture
def conn(engine: Engine, sid: str) -> Iterator[Connection]:
    """A transaction on a tenant with shops 1 "S1" and 2 "S2" (disabled), brand 5; specs 10 "P"
    (brand 5), 11 "Q"; suite 20 "K"; rules 1 (every listing) and 2 (brand 5, shop 1,
    priority 9); rolled back afterwards."""
    with write_tx(engine) as c:
        tid = ensure_tenant(c, sid)
    connection = engine.connect()
    transaction = connection.begin()
    connection.info["tid"] = tid
    add_shop(connection, tid, 1)
    add_shop(connection, tid, 2, is_disabled=True)
    add_brand(connection, tid, 5, "B")
    add_spec(connection, tid, 10, "P", brand_id=5)
    add_spec(connection, tid, 11, "Q")
    add_suite(connection, tid, 20, "K", {10: 1})
    add_rule(connection, tid, 1)
    add_rule(connection, tid, 2, brand_id=5, shop_list="1", priority=9)
    yield connection
    transaction.rollback()
    connection.close()


def _upload(conn: Connection, *items: ListingInfo, shop_no: str = "S1") -> list[int]:
    tid = int(conn.info["tid"])
    return upload_listings(conn, tid, shop_no, items, shop_ids=None, now=NOW).rec_ids


def test_new_listings_get_the_match_and_rule_live_resolution_would_give(
    conn: Connection,
) -> None:
    tid = int(conn.info["tid"])
    items = [
        ListingInfo("g1", "a", spec_outer_id="P"),
        ListingInfo("g1", "b", outer_id="K"),
        ListingInfo("g2", outer_id="Q", spec_outer_id=" "),
        ListingInfo("g3", outer_id="nothing"),
    ]
    assert _upload(conn, *items) == [1, 2, 3, 4]
    assert _upload(conn, ListingInfo("g1", "a", spec_outer_id="P"), shop_no="S2") == [5]
    state = listing_state(conn, tid)
    assert state == {
        1: (1, True, 2, 1, 10),
        2: (1, True, 1, 2, 20),
        3: (1, True, 1, 1, 11),
        4: (1, True, 1, 0, 0),
        5: (1, True, 1, 1, 10),  # rule 2 names shop 1 only
    }
    assert refresh_matches(conn, tid) == set() and refresh_rules(conn, tid) == set()


def test_a_new_listing_takes_a_custom_rule_already_stored_for_its_id(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    add_custom_rule(conn, tid, 1, warehouse_list="1")
    _upload(conn, ListingInfo("g1", spec_outer_id="Q"))
    assert listing_state(conn, tid)[1][2] == CUSTOM_RULE_ID


def test_a_manual_match_survives_a_code_change_without_a_bump(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    add_listing(conn, tid, 7, 1, "Q", goods_id="g", spec_id="s", is_manual_match=True,
                match_target_type=1, match_target_id=10)  # fmt: skip
    settle(conn, tid)
    assert _upload(conn, ListingInfo("g", "s", spec_outer_id="K")) == [7]
    assert listing_state(conn, tid)[7] == (0, False, 2, 1, 10)


def test_status_changes_bump_and_stamp_list_and_delist_times(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    [rec_id] = _upload(conn, ListingInfo("g", spec_outer_id="P"))
    _upload(conn, ListingInfo("g", spec_outer_id="P", status=2))
    _upload(conn, ListingInfo("g", spec_outer_id="P", status=2, goods_name="same status"))
    c = schema.listing.c
    times = select(c.stock_change_count, c.status, c.list_time, c.delist_time).where(
        c.tenant_id == tid, c.rec_id == rec_id
    )
    assert tuple(conn.execute(times).one()) == (2, 2, None, int(NOW))
    _upload(conn, ListingInfo("g", spec_outer_id="P", status=1))
    assert tuple(conn.execute(times).one()) == (3, 1, int(NOW), int(NOW))


def test_disabling_a_listing_bumps_it_once_and_repeating_changes_nothing(
    conn: Connection,
) -> None:
    tid = int(conn.info["tid"])
    [rec_id] = _upload(conn, ListingInfo("g", spec_outer_id="P"))
    assert set_listing_disabled(conn, tid, rec_id, True, NOW) is True
    assert set_listing_disabled(conn, tid, rec_id, True, NOW) is False
    c = schema.listing.c
    query = select(c.is_disable_syn, c.stock_change_count).where(c.rec_id == rec_id)
    assert tuple(conn.execute(query.where(c.tenant_id == tid)).one()) == (True, 2)
    assert set_listing_disabled(conn, tid, rec_id, False, NOW) is True
    assert tuple(conn.execute(query.where(c.tenant_id == tid)).one()) == (False, 3)
    with pytest.raises(BusinessError, match="unknown listing 99"):
        set_listing_disabled(conn, tid, 99, True, NOW)


def test_a_key_limited_to_other_shops_may_not_upload(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    with pytest.raises(BusinessError, match="^权限不足$"):
        upload_listings(conn, tid, "S1", [ListingInfo("g")], shop_ids=frozenset({2}), now=NOW)
