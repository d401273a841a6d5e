"""The `stocksync` command end to end on a SQLite file (the services are tested elsewhere)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stocksync.cli import main
from vendor import vendor_record

#: The vendor's documented calcStock answer for listing 2447 (flagship spec §5).
VENDOR_2447 = vendor_record()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_json(*args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_float=Decimal)


def test_init_creates_the_database_file(db: str) -> None:
    result = run("init", "--db", db)
    assert result.exit_code == 0
    assert Path(db).exists()
    assert "database ready" in result.output


def test_demo_then_calc_json_matches_the_vendor_example_field_by_field(db: str) -> None:
    assert run("demo", "--no-serve", "--db", db).exit_code == 0
    record = run_json("calc", "2447", "--sid", "demo", "--json", "--db", db)
    assert set(record) == set(VENDOR_2447)
    for field, expected in VENDOR_2447.items():
        assert record[field] == expected, field
        assert isinstance(record[field], type(expected)) or isinstance(expected, int), field


def test_calc_json_reports_a_business_error_as_status_100(db: str) -> None:
    run("demo", "--no-serve", "--db", db)
    listings = run_json("listings", "--sid", "demo", "--json", "--errors", "--db", db)
    failing = listings[0]
    answer = run_json("calc", str(failing["rec_id"]), "--sid", "demo", "--json", "--db", db)
    assert answer == {"status": 100, "message": failing["error"]}


def test_calc_of_an_unknown_listing_says_so(db: str) -> None:
    run("demo", "--no-serve", "--db", db)
    assert run_json("calc", "999999", "--sid", "demo", "--json", "--db", db) == {
        "status": 100,
        "message": "平台货品不存在",
    }


def test_calc_explain_names_the_rule_and_the_steps(db: str) -> None:
    run("demo", "--no-serve", "--db", db)
    text = run("calc", "2447", "--sid", "demo", "--explain", "--db", db).output
    assert "-10000" in text
    assert "floor(0 x 100 / 100 + 1) = floor(1) = 1" in text
    assert "syn_stock = 1" in text


def test_listings_json_agrees_with_calc_for_every_listing(db: str) -> None:
    run("demo", "--no-serve", "--db", db)
    listings = run_json("listings", "--sid", "demo", "--json", "--db", db)
    assert len(listings) >= 10
    for item in listings:
        answer = run_json("calc", str(item["rec_id"]), "--sid", "demo", "--json", "--db", db)
        if "error" in item:
            assert answer == {"status": 100, "message": item["error"]}
        else:
            assert answer["syn_stock"] == item["syn_stock"]


def test_demo_twice_changes_nothing(db: str) -> None:
    run("demo", "--no-serve", "--db", db)
    first = run("export", "--sid", "demo", "--db", db).stdout
    counts = run_json("calc", "2447", "--sid", "demo", "--json", "--db", db)
    run("demo", "--no-serve", "--db", db)
    assert run("export", "--sid", "demo", "--db", db).stdout == first
    again = run_json("calc", "2447", "--sid", "demo", "--json", "--db", db)
    assert again["stock_change_count"] == counts["stock_change_count"] == 2


def test_export_then_import_into_a_new_database_round_trips(db: str, tmp_path: Path) -> None:
    run("demo", "--no-serve", "--db", db)
    out = tmp_path / "demo.json"
    assert run("export", "--sid", "demo", "--out", str(out), "--db", db).exit_code == 0
    other = str(tmp_path / "other.db")
    result = run("import", str(out), "--db", other)
    assert result.exit_code == 0, result.output
    assert "imported sid demo" in result.output
    assert run("export", "--sid", "demo", "--db", other).stdout == out.read_text()


def test_import_of_an_invalid_snapshot_reports_paths_and_writes_nothing(
    db: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "stocksync-snapshot/1",
                "sid": "bad",
                "shops": [{"shop_id": 1, "shop_no": "s1", "shop_name": "S"}],
                "listings": [{"rec_id": 1, "shop_id": 70, "goods_id": "g", "spec_id": "s"}],
            }
        )
    )
    result = CliRunner().invoke(main, ["import", str(bad), "--db", db])
    assert result.exit_code == 1
    assert "listings[0].shop_id" in result.output
    assert "nothing was imported" in result.output
    assert run("export", "--sid", "bad", "--db", db).exit_code == 1


def test_unknown_sid_is_a_clear_error(db: str) -> None:
    result = CliRunner().invoke(main, ["listings", "--sid", "nobody", "--db", db])
    assert result.exit_code == 1
    assert "unknown seller (sid): nobody" in result.output
