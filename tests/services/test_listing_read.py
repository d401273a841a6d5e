"""`records.read_listing` on SQLite reads the listing as one JSON array (`json_array`, decoded
with orjson): the row must be the very values the plain 35-column read returns, whatever the
listing's text, quantities and times hold, NULLs (times, a missing custom rule) included."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from builders import add_custom_rule, add_listing, add_rule, add_shop, settle
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.services import records
from stocksync.services.records import RawReader, read_listing

_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['a"b', "a\\b", "\x00", "\x7f", "卖家", "😀", "</script>", "1e5", "null"]),
)
_SCALED = st.integers(min_value=-(10**17), max_value=10**17)
_TIME = st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40))
_REC_IDS = itertools.count(1)


def _plain(reader: RawReader, tid: int, rec_id: int) -> tuple[object, ...]:
    return tuple(reader.rows(records._LISTING_SQL, (tid, rec_id))[0])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(_TEXT, min_size=5, max_size=5),
    quantities=st.tuples(_SCALED, _SCALED),
    times=st.lists(_TIME, min_size=3, max_size=3),
    counters=st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1)),
    custom=st.booleans(),
)
def test_the_packed_read_is_the_plain_read(
    sqlite_engine: Engine,
    texts: list[str],
    quantities: tuple[int, int],
    times: list[int | None],
    counters: tuple[int, int],
    custom: bool,
) -> None:
    rec_id = next(_REC_IDS)
    outer_id, spec_outer_id, match_code, reserve_s, goods_id = texts
    with write_tx(sqlite_engine) as conn:
        tid = ensure_tenant(conn, "packed")
        if not conn.exec_driver_sql("SELECT 1 FROM shop WHERE tenant_id = ?", (tid,)).all():
            add_shop(conn, tid, 1)
            add_rule(conn, tid, 1, rule_no='R"1\\', warehouse_list="1, 2", stock_flag=5)
        add_listing(
            conn, tid, rec_id, 1, spec_outer_id,
            goods_id=goods_id + str(rec_id), outer_id=outer_id, match_code=match_code,
            reserve_s=reserve_s, stock_num=Decimal(quantities[0]).scaleb(-4),
            last_syn_num=Decimal(quantities[1]).scaleb(-4), last_syn_time=times[0],
            list_time=times[1], delist_time=times[2], stock_change_count=counters[0],
            mask=counters[1],
        )  # fmt: skip
        if custom:
            add_custom_rule(conn, tid, rec_id, warehouse_list="7", percent=Decimal("12.5"))
        settle(conn, tid)
    with read_tx(sqlite_engine) as conn, RawReader(conn) as reader:
        assert reader.packed
        found = read_listing(reader, tid, rec_id)
        assert found is not None
        raw, entry = found
        plain = _plain(reader, tid, rec_id)
        assert raw == plain
        assert [type(value) for value in raw] == [type(value) for value in plain]
        assert entry is records._rule_entry(plain[records._RULE_AT :])
        assert read_listing(reader, tid, rec_id + 10**9) is None


def test_text_that_is_not_utf8_fails_as_the_plain_read_does(sqlite_engine: Engine) -> None:
    """Bytes that are not UTF-8 in a text column (written by another program) make the packed
    JSON undecodable: the read falls back to the plain one, which refuses them as before."""
    with write_tx(sqlite_engine) as conn:
        tid = ensure_tenant(conn, "bad-utf8")
        add_shop(conn, tid, 1)
        add_listing(conn, tid, 5, 1, "c")
        conn.exec_driver_sql(
            "UPDATE api_goods_spec SET outer_id = CAST(X'FF41' AS TEXT) WHERE rec_id = 5"
        )
    with read_tx(sqlite_engine) as conn, RawReader(conn) as reader:
        try:
            _plain(reader, tid, 5)
        except Exception as plain_error:  # pysqlite: "Could not decode to UTF-8 column"
            expected: type[BaseException] = type(plain_error)
        else:  # pragma: no cover - the driver would have to accept it
            raise AssertionError("the plain read accepted text that is not UTF-8")
        try:
            read_listing(reader, tid, 5)
        except Exception as packed_error:
            assert type(packed_error) is expected
        else:
            raise AssertionError("the packed read accepted text that is not UTF-8")


def test_without_json_functions_the_plain_read_serves(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite library without the JSON functions (older than 3.38, or built without them)
    reads the listing in 35 columns: the same row."""
    with write_tx(sqlite_engine) as conn:
        tid = ensure_tenant(conn, "no-json")
        add_shop(conn, tid, 1)
        add_rule(conn, tid, 1, warehouse_list="1", stock_flag=5)
        add_listing(conn, tid, 9, 1, "c", reserve_s='a"\\b')
        settle(conn, tid)
    with read_tx(sqlite_engine) as conn, RawReader(conn) as reader:
        packed = read_listing(reader, tid, 9)
    monkeypatch.setattr(records, "SQLITE_PACKED", False)
    with read_tx(sqlite_engine) as conn, RawReader(conn) as reader:
        assert not reader.packed
        assert read_listing(reader, tid, 9) == packed
    assert packed is not None and packed[0][19] == 'a"\\b'
