"""Matching a listing to a spec or suite by merchant code (semantics §2)."""

from __future__ import annotations

from stocksync.domain.matching import auto_match, match_code
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, UNBOUND

SPECS = {"lz38": 12581, "A-1": 3}
SUITES = {"KIT-1": 7, "lz38": 8}


def test_match_code_prefers_spec_outer_id() -> None:
    assert match_code("lz3", "lz38") == "lz38"


def test_match_code_falls_back_to_outer_id_when_spec_outer_id_is_empty_or_blank() -> None:
    assert match_code("lz3", "") == "lz3"
    assert match_code("lz3", "   ") == "lz3"


def test_match_code_keeps_codes_exactly_as_given() -> None:
    assert match_code("lz3", " lz38 ") == " lz38 "


def test_auto_match_finds_a_spec_before_a_suite_with_the_same_code() -> None:
    assert auto_match("lz38", SPECS, SUITES) == (MATCH_SPEC, 12581)


def test_auto_match_finds_a_suite_when_no_spec_has_the_code() -> None:
    assert auto_match("KIT-1", SPECS, SUITES) == (MATCH_SUITE, 7)


def test_auto_match_leaves_an_unknown_code_unbound() -> None:
    assert auto_match("nope", SPECS, SUITES) == (UNBOUND, 0)


def test_auto_match_compares_exactly_and_case_sensitively() -> None:
    assert auto_match("a-1", SPECS, SUITES) == (UNBOUND, 0)
    assert auto_match("A-1 ", SPECS, SUITES) == (UNBOUND, 0)


def test_an_empty_or_blank_code_never_matches() -> None:
    assert auto_match("", {"": 1}, {"": 2}) == (UNBOUND, 0)
    assert auto_match("  ", {"  ": 1}, {}) == (UNBOUND, 0)
