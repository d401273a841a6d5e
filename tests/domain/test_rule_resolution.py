"""Which rule applies to a listing (semantics §3), explained and on the fast path."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.domain.model import CUSTOM_RULE_ID, NO_RULE_ID, GoodsClass, Rule, RuleParams
from stocksync.domain.rules import Resolver, class_path, parse_shop_list, resolve

# class tree: 1 Clothes > 2 Shoes > 3 Running shoes; 4 Food (a separate root)
CLASSES = {
    1: GoodsClass(1, "Clothes"),
    2: GoodsClass(2, "Shoes", 1),
    3: GoodsClass(3, "Running", 2),
    4: GoodsClass(4, "Food"),
}
RUNNING = class_path(3, CLASSES)


def _rule(rec_id: int, priority: int = 0, **kw: object) -> Rule:
    return Rule(rec_id, f"R{rec_id}", priority=priority, **kw)  # type: ignore[arg-type]


def _winner(
    *rules: Rule, shop: int = 69, brand: int = 5, classes: tuple[int, ...] = RUNNING
) -> int:
    return resolve(shop, brand, classes, rules).rule_id


def test_class_path_lists_the_class_then_its_ancestors() -> None:
    assert class_path(3, CLASSES) == (3, 2, 1)
    assert class_path(4, CLASSES) == (4,)


def test_class_path_is_empty_for_none_any_or_unknown_class() -> None:
    assert class_path(0, CLASSES) == class_path(-1, CLASSES) == class_path(99, CLASSES) == ()


def test_class_path_stops_at_a_parent_cycle() -> None:
    looped = {1: GoodsClass(1, parent_id=2), 2: GoodsClass(2, parent_id=1)}
    assert class_path(1, looped) == (1, 2)
    assert class_path(5, {5: GoodsClass(5, parent_id=5)}) == (5,)


def test_custom_rule_wins_outright_with_id_minus_10000_and_empty_rule_no() -> None:
    custom = RuleParams(warehouse_list="6", plus_value=Decimal(1))
    res = resolve(69, 5, RUNNING, [_rule(1, 99)], custom)
    assert (res.rule_id, res.rule_no, res.params, res.rule) == (CUSTOM_RULE_ID, "", custom, None)
    assert res.verdicts[0].reason == "lost: the listing's custom rule wins outright"


def test_disabled_rule_is_ignored() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 9, is_disabled=True), _rule(2, 1)])
    assert res.rule_id == 2
    assert [(v.rule_id, v.candidate, v.reason) for v in res.verdicts][1] == (1, False, "disabled")


def test_empty_shop_list_means_every_shop() -> None:
    assert _winner(_rule(1, shop_list=""), shop=70) == 1
    assert _winner(_rule(1, shop_list="  "), shop=70) == 1


def test_shop_list_that_excludes_the_shop_is_not_a_candidate() -> None:
    res = resolve(70, 5, RUNNING, [_rule(1, shop_list="69")])
    assert res.rule_id == NO_RULE_ID
    assert res.verdicts[0].reason == "shop 70 not in shop_list 69"


def test_shop_list_tolerates_spaces_and_junk_tokens() -> None:
    assert parse_shop_list(" 69 , x, 70,,") == frozenset({69, 70})
    assert _winner(_rule(1, shop_list=" 69 , x, 70,,"), shop=70) == 1
    assert parse_shop_list(",") is None
    assert _winner(_rule(1, shop_list="junk"), shop=70) == NO_RULE_ID


def test_rule_on_an_ancestor_class_matches() -> None:
    assert _winner(_rule(1, class_id=1)) == 1
    res = resolve(69, 5, class_path(4, CLASSES), [_rule(1, class_id=1)])
    assert res.rule_id == NO_RULE_ID
    assert res.verdicts[0].reason.startswith("class 1 not in scope")


def test_brand_must_equal_the_listing_brand() -> None:
    assert _winner(_rule(1, brand_id=5), brand=5) == 1
    res = resolve(69, 6, RUNNING, [_rule(1, brand_id=5)])
    assert (res.rule_id, res.verdicts[0].reason) == (NO_RULE_ID, "brand 6 is not 5")


def test_highest_priority_wins() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 5, brand_id=5), _rule(2, 10)])
    assert res.rule_id == 2
    assert [v.reason for v in res.verdicts] == ["won: highest priority 10", "lost: priority 5 < 10"]


def test_tie_brand_set_beats_class_set() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 3, class_id=3), _rule(2, 3, brand_id=5)])
    assert res.rule_id == 2
    assert (
        res.verdicts[1].reason
        == "lost tie on priority 3: less specific (brand set beats class set)"
    )


def test_tie_class_set_beats_neither() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 3), _rule(2, 3, class_id=1)])
    assert res.rule_id == 2
    assert (
        res.verdicts[1].reason == "lost tie on priority 3: less specific (class set beats neither)"
    )


def test_tie_deeper_class_beats_shallower() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 3, class_id=1), _rule(2, 3, class_id=2)])
    assert res.rule_id == 2
    assert res.verdicts[1].reason == "lost tie on priority 3: shallower class (depth 1 < 2)"


def test_tie_with_brand_on_both_goes_to_the_deeper_class() -> None:
    assert _winner(_rule(1, 3, brand_id=5), _rule(2, 3, brand_id=5, class_id=3)) == 2


def test_full_tie_goes_to_the_smaller_id() -> None:
    res = resolve(69, 5, RUNNING, [_rule(8, 3), _rule(4, 3)])
    assert res.rule_id == 4
    assert res.verdicts[1].reason == "lost tie on priority 3: larger id (8 > 4)"


def test_no_candidate_gives_minus_one_and_no_params() -> None:
    res = resolve(69, 5, RUNNING, [])
    assert (res.rule_id, res.rule, res.params, res.rule_no) == (NO_RULE_ID, None, None, "")


def test_a_rule_that_forbids_syncing_can_still_win() -> None:
    res = resolve(69, 5, RUNNING, [_rule(1, 9, is_disable_syn=True), _rule(2, 1)])
    assert res.rule_id == 1
    assert res.rule is not None and res.rule.is_disable_syn
    assert "forbids syncing" in res.verdicts[0].reason


def test_winning_rule_supplies_its_params_and_rule_no() -> None:
    params = RuleParams(warehouse_list="1,2", percent=Decimal(80))
    res = resolve(69, 5, RUNNING, [_rule(7, params=params)])
    assert (res.rule_no, res.params) == ("R7", params)


def test_resolver_memoises_and_reports_custom() -> None:
    resolver = Resolver([_rule(1, 1, class_id=2), _rule(2, 2, brand_id=6)], CLASSES)
    assert resolver.rule_id(69, 5, 3, False) == 1
    assert resolver.rule_id(69, 6, 3, False) == 2
    assert resolver.rule_id(69, 5, 3, False) == 1
    assert resolver.rule_id(69, 5, 4, False) == NO_RULE_ID
    assert resolver.rule_id(69, 5, 3, True) == CUSTOM_RULE_ID


_classes_st = st.dictionaries(
    st.integers(1, 6),
    st.integers(-1, 7),
    max_size=6,
).map(lambda parents: {cid: GoodsClass(cid, parent_id=p) for cid, p in parents.items()})

_rule_fields_st = st.fixed_dictionaries(
    {
        "priority": st.integers(0, 3),
        "shop_list": st.sampled_from(["", " ", "1", "1,2", " 2 , x", ",", "junk", "3"]),
        "class_id": st.integers(-1, 7),
        "brand_id": st.sampled_from([-1, 0, 1, 2]),
        "is_disabled": st.booleans(),
        "is_disable_syn": st.booleans(),
    }
)
_rules_st = st.lists(_rule_fields_st, max_size=7).flatmap(
    lambda fields: st.permutations(range(1, len(fields) + 1)).map(
        lambda ids: [Rule(i, f"R{i}", **f) for i, f in zip(ids, fields, strict=True)]  # type: ignore[arg-type]
    )
)
_listing_st = st.tuples(st.integers(1, 3), st.integers(0, 2), st.integers(-1, 7), st.booleans())


def _reference_winner(shop: int, brand: int, path: tuple[int, ...], rules: list[Rule]) -> int:
    """An independent ranking: priority, brand set, class depth, smaller id."""

    def shops(rule: Rule) -> set[int] | None:
        tokens = [t.strip() for t in rule.shop_list.split(",") if t.strip()]
        return {int(t) for t in tokens if t.isdigit()} if tokens else None

    best: tuple[int, int, int, int] | None = None
    for rule in rules:
        allowed = shops(rule)
        if rule.is_disabled or (allowed is not None and shop not in allowed):
            continue
        if rule.class_id not in (-1, *path) or rule.brand_id not in (-1, brand):
            continue
        depth = 0 if rule.class_id == -1 else len(path) - path.index(rule.class_id)
        key = (rule.priority, rule.brand_id != -1, depth, -rule.rec_id)
        best = key if best is None or key > best else best
    return NO_RULE_ID if best is None else -best[3]


@settings(max_examples=300, deadline=None)
@given(_rules_st, _classes_st, st.lists(_listing_st, min_size=1, max_size=8))
def test_resolver_always_agrees_with_resolve(
    rules: list[Rule],
    classes: dict[int, GoodsClass],
    listings: list[tuple[int, int, int, bool]],
) -> None:
    resolver = Resolver(rules, classes)
    for shop, brand, class_id, has_custom in listings * 2:  # twice: the memoised hit too
        custom = RuleParams() if has_custom else None
        expected = resolve(shop, brand, class_path(class_id, classes), rules, custom).rule_id
        assert resolver.rule_id(shop, brand, class_id, has_custom) == expected
        if not has_custom:
            path = class_path(class_id, classes)
            assert expected == _reference_winner(shop, brand, path, rules)
