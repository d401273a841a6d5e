"""What an app key may see: only its shops (when limited) and only its own seller, in
calcStock, batchCalcStock and the wait list, over the wire on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from test_methods_support import (
    BATCH,
    CALC,
    DEMO_SHOPS,
    NOT_FOUND,
    WAIT,
    app_key,
    client_for,
    demo_tenant,
    server_app,
)

from stocksync.bootstrap import ServerApp
from stocksync.client import ApiError, Client
from stocksync.db.engine import write_tx
from stocksync.services.snapshot import import_snapshot
from stocksync.services.stock import StockChange, set_stock

OUTLET = 70  # the demo's second shop
OUTLET_IDS = sorted(rec for rec, shop in DEMO_SHOPS.items() if shop == OUTLET)
OWN_STORE_IDS = sorted(rec for rec, shop in DEMO_SHOPS.items() if shop != OUTLET)


@pytest.fixture
def app(engine: Engine) -> Iterator[ServerApp]:
    with server_app(engine) as app:
        yield app


def _refusal(client: Client, method: str, *args: object) -> tuple[int, str]:
    with pytest.raises(ApiError) as refused:
        client.call(method, *args)
    return refused.value.status, refused.value.message


def _drain(client: Client) -> list[int]:
    """Every id the wait list hands out to this key (each call leases what it returns)."""
    seen: list[int] = []
    while ids := client.call(WAIT, 100, 0)["id_list"]:
        seen.extend(ids)
    return seen


@pytest.fixture
def outlet_client(engine: Engine, sid: str, app: ServerApp) -> Client:
    """A key of the demo seller limited to the outlet shop."""
    demo_tenant(engine, sid, apps=[app_key(), app_key("outlet-key", shop_ids=[OUTLET])])
    return client_for(app, sid, "outlet-key")


def test_a_shop_limited_key_reads_its_shops_listings(outlet_client: Client) -> None:
    assert outlet_client.call(CALC, 1003, False)["shop_id"] == OUTLET


def test_a_shop_limited_key_sees_other_shops_listings_as_unknown(outlet_client: Client) -> None:
    for rec_id in (2447, 1001, 1007):
        assert _refusal(outlet_client, CALC, rec_id, True) == (100, NOT_FOUND), rec_id


def test_a_shop_limited_key_gets_other_shops_listings_as_unknown_in_a_batch(
    outlet_client: Client,
) -> None:
    items = [{"api_goods_id": rec, "force_sync": True} for rec in (2447, 1003, 1001, 1009)]
    answer = outlet_client.call(BATCH, items)
    assert [r["rec_id"] for r in answer["success_date"]] == [1003, 1009]
    assert answer["error_date"] == [
        {"rec_id": 2447, "err_msg": NOT_FOUND},
        {"rec_id": 1001, "err_msg": NOT_FOUND},
    ]


def test_a_shop_limited_key_is_handed_only_its_shops_ids(
    engine: Engine, sid: str, app: ServerApp, outlet_client: Client
) -> None:
    outlet_ids = _drain(outlet_client)
    assert outlet_ids and set(outlet_ids) <= set(OUTLET_IDS)
    everything = _drain(client_for(app, sid))  # the unlimited key: the rest is still waiting
    assert everything and set(everything) <= set(OWN_STORE_IDS)


@pytest.fixture
def two_sellers(engine: Engine, sid: str, app: ServerApp) -> tuple[Client, Client]:
    """Sellers A and B, both the demo (same ids everywhere, same key name, other secrets);
    B has 7 more on hand for 2447's spec and a listing 4242 that A does not have."""
    demo_tenant(engine, sid)
    other = f"{sid}-b"
    tid_b = demo_tenant(engine, other, apps=[app_key(secret="b-secret", salt="b-salt")])
    with write_tx(engine) as conn:
        set_stock(conn, tid_b, [StockChange(12581, 6, {"stock_num": Decimal(7)})], 1.7e9)
    _add_listing(engine, other)
    return client_for(app, sid), client_for(app, other, secret="b-secret", salt="b-salt")


def _add_listing(engine: Engine, sid: str) -> None:
    listing = {"rec_id": 4242, "shop_id": 69, "goods_id": "b-only", "spec_id": "b-only",
               "outer_id": "lz3", "spec_outer_id": "lz38", "status": 1}  # fmt: skip
    import_snapshot(engine, {"format": "stocksync-snapshot/1", "sid": sid, "listings": [listing]})


def test_each_seller_reads_its_own_listing_behind_the_same_id(
    two_sellers: tuple[Client, Client],
) -> None:
    seller_a, seller_b = two_sellers
    assert seller_a.call(CALC, 2447, False)["syn_stock"] == 1
    assert seller_b.call(CALC, 2447, False)["syn_stock"] == 8


def test_a_key_never_reads_another_sellers_listing_by_guessing_its_id(
    two_sellers: tuple[Client, Client],
) -> None:
    seller_a, seller_b = two_sellers
    assert seller_b.call(CALC, 4242, True)["goods_id"] == "b-only"
    assert _refusal(seller_a, CALC, 4242, True) == (100, NOT_FOUND)
    answer = seller_a.call(BATCH, [{"api_goods_id": 4242, "force_sync": True}])
    assert answer == {"success_date": [], "error_date": [{"rec_id": 4242, "err_msg": NOT_FOUND}]}
    assert 4242 not in _drain(seller_a)
    assert 4242 in _drain(seller_b)


def test_a_key_of_one_seller_does_not_sign_for_another_seller(
    app: ServerApp, two_sellers: tuple[Client, Client]
) -> None:
    seller_a, seller_b = two_sellers
    posing = client_for(app, seller_b.sid)  # B's sid, with A's secret and salt
    assert _refusal(posing, CALC, 2447, False) == (1, "验证失败")
