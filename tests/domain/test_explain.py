"""Explanations of a listing's number: the rendered text and the JSON-ready dict."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from domain_builders import NAMES, row, view

from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.explain import CalcStory, render, story_to_dict
from stocksync.domain.formula import Explanation, Target, syn_stock
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, Rule, RuleParams, SuiteComponent
from stocksync.domain.rules import resolve

P, Q = 21, 22
SPEC_NOS = {P: "P-RED", Q: "Q-SOCK", 10: "lz38"}
SUITE = Target(MATCH_SUITE, 7, (SuiteComponent(P, Decimal(2)), SuiteComponent(Q, Decimal(1))))
SUITE_PARAMS = RuleParams(
    "1,2,3", stock_flag=128, percent=Decimal(80), plus_value=Decimal("0.5"),
    max_stock=Decimal(500), min_stock=Decimal(1),
)  # fmt: skip
RULES = [
    Rule(3, "R-MAIN", priority=10, params=SUITE_PARAMS),
    Rule(4, "R-LOW", priority=5),
    Rule(5, "R-BRAND", priority=10, brand_id=9),
]


def _story(target: Target, rules: list[Rule], stock: list[Any], target_no: str) -> CalcStory:
    res = resolve(69, 0, (), rules)
    explanation = Explanation()
    error = None
    assert res.params is not None
    try:
        syn_stock(target, res.params, view(stock), explanation)
    except EmptyWarehouseList as exc:
        error = exc.message
    return CalcStory(2447, target, target_no, res, explanation, error, SPEC_NOS, NAMES)


@pytest.fixture
def suite_story() -> CalcStory:
    # A: P 9 - 1 ordered = 8 -> 8/2 = 4, Q 3 -> 3/1 = 3: Q limits, 3
    # B: P 3 -> 1.5, Q has no row -> 0: Q limits, 0;  D (defect) is dropped
    stock = [row(P, 1, 9, order_num="1"), row(Q, 1, 3), row(P, 2, 3), row(P, 3, 50), row(Q, 3, 50)]
    return _story(SUITE, RULES, stock, "KIT-1")


def test_rendered_suite_names_the_limiting_component_per_warehouse(suite_story: CalcStory) -> None:
    text = render(suite_story)
    assert "listing 2447 -> suite KIT-1 (#7) = 2 x P-RED + 1 x Q-SOCK: syn_stock = 2" in text
    assert "P-RED: +9 stock_num -1 order_num = 8; avail 8 / num 2 = 4" in text
    assert "contributes 3 = floor(min ratio 3), limited by Q-SOCK" in text
    assert "Q-SOCK: no stock row -> 0; avail 0 / num 1 = 0" in text
    assert "contributes 0 = floor(min ratio 0), limited by Q-SOCK" in text


def test_rendered_text_shows_dropped_defect_warehouse_and_each_step(suite_story: CalcStory) -> None:
    text = render(suite_story)
    assert "dropped 3 D: defect warehouse" in text
    assert "used 1 A" in text and "used 2 B" in text
    assert "X = 3" in text
    assert "linear: floor(3 x 80 / 100 + 0.5) = floor(2.9) = 2" in text
    assert "max 500: 2 is within, kept" in text
    assert "min 1: 2 is not below min, kept" in text
    assert text.endswith("syn_stock = 2")


def test_rendered_text_says_why_the_rule_beat_the_others(suite_story: CalcStory) -> None:
    text = render(suite_story)
    assert "rule applied: 3 R-MAIN: ranks first of 2 candidate rule(s), priority 10" in text
    assert "rule 4 R-LOW (priority 5): lost: priority 5 < 10" in text
    assert "rule 5 R-BRAND (priority 10): brand 0 is not 9" in text


def test_story_dict_is_json_ready_with_decimals_as_strings(suite_story: CalcStory) -> None:
    data = story_to_dict(suite_story)
    assert json.loads(json.dumps(data)) == data
    formula = data["formula"]
    assert isinstance(formula, dict)
    assert formula["warehouses_dropped"] == [{"token": "3", "reason": "defect warehouse"}]
    assert [(s["contribution"], s["limiting_spec_no"]) for s in formula["steps"]] == [
        ("3", "Q-SOCK"),
        ("0", "Q-SOCK"),
    ]
    first_p = formula["steps"][0]["specs"][0]
    assert first_p["terms"] == [
        {"field": "stock_num", "sign": 1, "value": "9"},
        {"field": "order_num", "sign": -1, "value": "1"},
    ]
    assert (first_p["avail"], first_p["num"], first_p["ratio"]) == ("8", "2", "4")
    assert (formula["raw"], formula["linear_exact"], formula["linear"]) == ("3", "2.9", 2)
    assert data["syn_stock"] == 2


def test_story_dict_lists_every_rule_verdict(suite_story: CalcStory) -> None:
    rule = story_to_dict(suite_story)["rule"]
    assert isinstance(rule, dict)
    assert rule["rule_id"] == 3
    assert rule["params"]["percent"] == "80"
    assert [(v["rule_id"], v["candidate"]) for v in rule["verdicts"]] == [
        (3, True), (4, True), (5, False),
    ]  # fmt: skip


def test_spec_explanation_shows_outer_diff_and_capped_max() -> None:
    params = RuleParams("4", max_stock=Decimal(10), min_stock=Decimal(1))
    story = _story(
        Target(MATCH_SPEC, 10), [Rule(1, "R1", params=params)], [row(10, 4, 20, wms=-3)], "lz38"
    )
    text = render(story)
    assert "lz38: +20 stock_num +(-3) wms_stock_diff = 17" in text
    assert "max 10: 17 capped to 10" in text
    assert story_to_dict(story)["syn_stock"] == 10


def test_custom_and_missing_rules_are_labelled() -> None:
    spec = Target(MATCH_SPEC, 10)
    custom = resolve(69, 0, (), RULES, RuleParams("1"))
    none = resolve(69, 0, (), [])
    custom_text = render(CalcStory(1, spec, "lz38", custom, None, None, SPEC_NOS, NAMES))
    none_text = render(CalcStory(1, spec, "lz38", none, None, "disabled", SPEC_NOS, NAMES))
    assert (
        "rule applied: -10000 (custom rule): the listing carries its own custom rule" in custom_text
    )
    assert (
        "rule 3 R-MAIN (priority 10): lost: the listing's custom rule wins outright" in custom_text
    )
    assert "rule applied: -1 (no rule): no enabled rule covers shop 69" in none_text
    assert "error: disabled" in none_text


def test_held_at_min_and_delisted_are_told_apart() -> None:
    hold = RuleParams("1", min_stock=Decimal(5))
    delist = RuleParams("1", min_stock=Decimal(5), is_auto_delisting=True)
    spec = Target(MATCH_SPEC, 10)
    held = render(_story(spec, [Rule(1, params=hold)], [row(10, 1, 3)], "lz38"))
    gone = render(_story(spec, [Rule(1, params=delist)], [row(10, 1, 3)], "lz38"))
    assert "min 5: 3 is below min, auto-delist off -> held at 5" in held
    assert "min 5: 3 is below min, auto-delist on -> 0 (delisted)" in gone


def test_empty_warehouse_list_story_shows_the_error_and_the_dropped_warehouses() -> None:
    params = RuleParams("3,9")
    story = _story(Target(MATCH_SPEC, 10), [Rule(1, params=params)], [], "lz38")
    text = render(story)
    assert "no syn_stock (仓库列表为空)" in text
    assert "dropped 3 D: defect warehouse" in text and "dropped 9: unknown warehouse" in text
    assert "X =" not in text
    assert "rule 1 (priority 0): won: highest priority 0" in text
    data = story_to_dict(story)
    assert (data["error"], data["syn_stock"]) == ("仓库列表为空", None)
