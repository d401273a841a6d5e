"""Which stock-sync rule applies to a listing (semantics spec §3), explained or fast.

`resolve` ranks every strategy rule for one listing and says why each won or lost; `Resolver`
gives the same answer for many listings, memoised by (shop, brand, class).

Our rules, beyond the vendor's documentation:
- a listing's custom rule wins outright (`CUSTOM_RULE_ID`, rule_no "");
- `shop_list` with no tokens (empty, blank, only commas) means every shop; tokens that are not
  integers are ignored, so a list of only junk names no shop;
- ties on priority go to the more specific rule (brand set, then class depth), then the
  smaller rule id. A class's depth is its distance from the root along the listing's class path
  (the length of its own path in an acyclic tree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from stocksync.domain.model import CUSTOM_RULE_ID, NO_RULE_ID, GoodsClass, Rule, RuleParams

#: A rule's place in the ranking: sorts ascending, best first.
_RankKey = tuple[int, int, int, int]


def class_path(class_id: int, classes: Mapping[int, GoodsClass]) -> tuple[int, ...]:
    """The class itself then its ancestors up to the root; () for 0, -1 or an unknown class.

    A parent cycle ends the path at the first repeated class instead of looping.
    """
    path: list[int] = []
    current = classes.get(class_id) if class_id > 0 else None
    while current is not None and current.class_id not in path:
        path.append(current.class_id)
        parent = current.parent_id
        current = classes.get(parent) if parent > 0 else None
    return tuple(path)


@lru_cache(maxsize=4096)
def parse_shop_list(shop_list: str) -> frozenset[int] | None:
    """The shop ids a rule names; None when the list has no tokens at all (every shop)."""
    tokens = [token.strip() for token in shop_list.split(",")]
    tokens = [token for token in tokens if token]
    if not tokens:
        return None
    return frozenset(int(token) for token in tokens if _is_int(token))


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Verdict:
    """One strategy rule's fate for one listing, for the explanation."""

    rule_id: int
    rule_no: str
    priority: int
    candidate: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """The rule a listing syncs with, the parameters it applies, and why."""

    rule_id: int
    rule: Rule | None
    params: RuleParams | None
    rule_no: str
    reason: str
    verdicts: tuple[Verdict, ...]


def _class_depth(rule: Rule, class_ids: tuple[int, ...]) -> int:
    """0 for a rule on any class, else how far the rule's class sits from the root."""
    if rule.class_id == -1:
        return 0
    return len(class_ids) - class_ids.index(rule.class_id)


def _rank_key(rule: Rule, class_ids: tuple[int, ...]) -> _RankKey:
    brand_set = 0 if rule.brand_id == -1 else 1
    return (-rule.priority, -brand_set, -_class_depth(rule, class_ids), rule.rec_id)


def _exclusion(rule: Rule, shop_id: int, brand_id: int, class_ids: tuple[int, ...]) -> str:
    """Why `rule` is not a candidate for the listing, or "" when it is."""
    if rule.is_disabled:
        return "disabled"
    shops = parse_shop_list(rule.shop_list)
    if shops is not None and shop_id not in shops:
        return f"shop {shop_id} not in shop_list {rule.shop_list.strip()}"
    if rule.class_id != -1 and rule.class_id not in class_ids:
        path = ", ".join(str(c) for c in class_ids) or "none"
        return f"class {rule.class_id} not in scope (the listing's class path: {path})"
    if rule.brand_id != -1 and rule.brand_id != brand_id:
        return f"brand {brand_id} is not {rule.brand_id}"
    return ""


def _specificity(rule: Rule) -> str:
    if rule.brand_id != -1:
        return "brand set"
    if rule.class_id != -1:
        return "class set"
    return "neither"


def _lost_reason(loser: Rule, winner: Rule, class_ids: tuple[int, ...]) -> str:
    """Why a candidate ranked below the winner: priority, specificity, then id."""
    if loser.priority != winner.priority:
        return f"lost: priority {loser.priority} < {winner.priority}"
    tie = f"lost tie on priority {winner.priority}"
    won_spec, lost_spec = _specificity(winner), _specificity(loser)
    if won_spec != lost_spec:
        return f"{tie}: less specific ({won_spec} beats {lost_spec})"
    won_depth, lost_depth = _class_depth(winner, class_ids), _class_depth(loser, class_ids)
    if won_depth != lost_depth:
        return f"{tie}: shallower class (depth {lost_depth} < {won_depth})"
    return f"{tie}: larger id ({loser.rec_id} > {winner.rec_id})"


def _won_reason(winner: Rule, runner_up: Rule | None) -> str:
    text = f"won: highest priority {winner.priority}"
    if runner_up is not None and runner_up.priority == winner.priority:
        text += f", beating rule {runner_up.rec_id} on the tie-break"
    if winner.is_disable_syn:
        text += " (this rule forbids syncing)"
    return text


def _resolution_reason(candidates: list[Rule], class_ids: tuple[int, ...]) -> str:
    won = candidates[0]
    reason = f"ranks first of {len(candidates)} candidate rule(s), priority {won.priority}"
    if len(candidates) > 1 and candidates[1].priority == won.priority:
        runner_up = candidates[1]
        reason += f"; runner-up rule {runner_up.rec_id} {_lost_reason(runner_up, won, class_ids)}"
    return reason


def _ranked_verdicts(
    candidates: list[Rule],
    excluded: list[tuple[Rule, str]],
    class_ids: tuple[int, ...],
    custom: bool,
) -> tuple[Verdict, ...]:
    verdicts: list[Verdict] = []
    for place, rule in enumerate(candidates):
        if custom:
            reason = "lost: the listing's custom rule wins outright"
        elif place == 0:
            runner_up = candidates[1] if len(candidates) > 1 else None
            reason = _won_reason(rule, runner_up)
        else:
            reason = _lost_reason(rule, candidates[0], class_ids)
        verdicts.append(Verdict(rule.rec_id, rule.rule_no, rule.priority, True, reason))
    for rule, reason in excluded:
        verdicts.append(Verdict(rule.rec_id, rule.rule_no, rule.priority, False, reason))
    return tuple(verdicts)


def resolve(
    shop_id: int,
    brand_id: int,
    class_ids: tuple[int, ...],
    rules: Iterable[Rule],
    custom: RuleParams | None = None,
) -> Resolution:
    """The full, explained resolution of one listing's rule.

    `class_ids` is `class_path` of the listing's target (spec or suite); `brand_id` 0 = none.
    Verdicts list candidates best first, then the rules that were not candidates, by id.
    """
    candidates: list[Rule] = []
    excluded: list[tuple[Rule, str]] = []
    for rule in rules:
        reason = _exclusion(rule, shop_id, brand_id, class_ids)
        if reason:
            excluded.append((rule, reason))
        else:
            candidates.append(rule)
    candidates.sort(key=lambda r: _rank_key(r, class_ids))
    excluded.sort(key=lambda pair: pair[0].rec_id)
    verdicts = _ranked_verdicts(candidates, excluded, class_ids, custom is not None)
    if custom is not None:
        reason = "the listing carries its own custom rule, which wins outright"
        return Resolution(CUSTOM_RULE_ID, None, custom, "", reason, verdicts)
    if not candidates:
        path = ", ".join(str(c) for c in class_ids) or "none"
        reason = f"no enabled rule covers shop {shop_id}, brand {brand_id}, class path ({path})"
        return Resolution(NO_RULE_ID, None, None, "", reason, verdicts)
    won = candidates[0]
    reason = _resolution_reason(candidates, class_ids)
    return Resolution(won.rec_id, won, won.params, won.rule_no, reason, verdicts)


class Resolver:
    """Fast path for many listings: precomputes per rule, memoises by (shop, brand, class)."""

    def __init__(self, rules: Iterable[Rule], classes: Mapping[int, GoodsClass]) -> None:
        self._rules = [rule for rule in rules if not rule.is_disabled]
        self._shops = [parse_shop_list(rule.shop_list) for rule in self._rules]
        self._classes = classes
        self._memo: dict[tuple[int, int, int], int] = {}

    def rule_id(self, shop_id: int, brand_id: int, class_id: int, has_custom: bool) -> int:
        """The winning rule id; always equal to `resolve(...).rule_id` for the same listing."""
        if has_custom:
            return CUSTOM_RULE_ID
        key = (shop_id, brand_id, class_id)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._compute(shop_id, brand_id, class_id)
        return found

    def _compute(self, shop_id: int, brand_id: int, class_id: int) -> int:
        class_ids = class_path(class_id, self._classes)
        best: _RankKey | None = None
        for rule, shops in zip(self._rules, self._shops, strict=True):
            if shops is not None and shop_id not in shops:
                continue
            if rule.class_id != -1 and rule.class_id not in class_ids:
                continue
            if rule.brand_id != -1 and rule.brand_id != brand_id:
                continue
            key = _rank_key(rule, class_ids)
            if best is None or key < best:
                best = key
        return NO_RULE_ID if best is None else best[3]
