"""Explaining one listing's `syn_stock`: as JSON-ready data and as readable text.

Both views are built from a `CalcStory`: the listing's target, the rule resolution (why this
rule beat each other one) and the formula's `Explanation` (every warehouse, signed quantity,
the raw X, the exact linear value before the floor, and the max/min clamps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from stocksync.domain.formula import Explanation, SpecInWarehouse, Target, Term, WarehouseStep
from stocksync.domain.model import (
    CUSTOM_RULE_ID,
    MATCH_SPEC,
    MATCH_SUITE,
    NO_RULE_ID,
    QUANTITY_FIELDS,
    RuleParams,
)
from stocksync.domain.rules import Resolution

_TARGET_KINDS = {MATCH_SPEC: "spec", MATCH_SUITE: "suite"}


@dataclass(frozen=True, slots=True)
class CalcStory:
    """Everything needed to explain one listing's number (or why there is none)."""

    rec_id: int
    target: Target
    target_no: str
    resolution: Resolution
    explanation: Explanation | None
    error: str | None
    spec_nos: Mapping[int, str]
    warehouse_names: Mapping[int, str]


def dec(value: Decimal) -> str:
    """A quantity as plain text without trailing zeros or exponent: 10.0000 -> "10"."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def mask_fields(mask: int) -> list[str]:
    """The names of the quantities a mask selects, in bit order."""
    return [name for bit, name in enumerate(QUANTITY_FIELDS) if mask >> bit & 1]


# ---------------------------------------------------------------- data


def _params_dict(params: RuleParams) -> dict[str, object]:
    return {
        "warehouse_list": params.warehouse_list,
        "stock_flag": params.stock_flag,
        "mask_fields": mask_fields(params.stock_flag),
        "percent": dec(params.percent),
        "plus_value": dec(params.plus_value),
        "min_stock": dec(params.min_stock),
        "max_stock": dec(params.max_stock),
        "is_auto_listing": params.is_auto_listing,
        "is_auto_delisting": params.is_auto_delisting,
    }


def _rule_dict(res: Resolution) -> dict[str, object]:
    return {
        "rule_id": res.rule_id,
        "rule_no": res.rule_no,
        "reason": res.reason,
        "is_disable_syn": res.rule.is_disable_syn if res.rule is not None else False,
        "params": _params_dict(res.params) if res.params is not None else None,
        "verdicts": [
            {"rule_id": v.rule_id, "rule_no": v.rule_no, "priority": v.priority,
             "candidate": v.candidate, "reason": v.reason}
            for v in res.verdicts
        ],
    }  # fmt: skip


def _spec_dict(seen: SpecInWarehouse, story: CalcStory) -> dict[str, object]:
    return {
        "spec_id": seen.spec_id,
        "spec_no": story.spec_nos.get(seen.spec_id, ""),
        "has_row": seen.has_row,
        "terms": [{"field": t.field, "sign": t.sign, "value": dec(t.value)} for t in seen.terms],
        "avail": dec(seen.avail),
        "num": dec(seen.num),
        "ratio": dec(seen.ratio) if story.target.target_type == MATCH_SUITE else None,
    }


def _step_dict(step: WarehouseStep, story: CalcStory) -> dict[str, object]:
    limiting = step.limiting_spec_id
    return {
        "warehouse_id": step.warehouse_id,
        "name": story.warehouse_names.get(step.warehouse_id, ""),
        "contribution": dec(step.contribution),
        "limiting_spec_id": limiting,
        "limiting_spec_no": story.spec_nos.get(limiting, "") if limiting is not None else None,
        "specs": [_spec_dict(seen, story) for seen in step.specs],
    }


def _formula_dict(ex: Explanation, story: CalcStory) -> dict[str, object]:
    names = story.warehouse_names
    used = [{"warehouse_id": w, "name": names.get(w, "")} for w in ex.warehouses_used]
    return {
        "warehouses_used": used,
        "warehouses_dropped": [{"token": t, "reason": r} for t, r in ex.warehouses_dropped],
        "steps": [_step_dict(step, story) for step in ex.steps],
        "raw": dec(ex.raw),
        "linear_exact": dec(ex.linear_exact),
        "linear": ex.linear,
        "max_applied": ex.max_applied,
        "after_max": ex.after_max,
        "min_action": ex.min_action,
        "after_min": ex.after_min,
        "syn_stock": ex.syn_stock,
    }  # fmt: skip


def story_to_dict(story: CalcStory) -> dict[str, object]:
    """The whole story as JSON-ready data (Decimals as plain strings), for APIs and tests."""
    target = story.target
    return {
        "rec_id": story.rec_id,
        "target": {
            "type": _TARGET_KINDS.get(target.target_type, "unbound"),
            "target_type": target.target_type,
            "target_id": target.target_id,
            "target_no": story.target_no,
            "components": [
                {"spec_id": c.spec_id, "spec_no": story.spec_nos.get(c.spec_id, ""),
                 "num": dec(c.num)}
                for c in target.components
            ],
        },
        "rule": _rule_dict(story.resolution),
        "error": story.error,
        "syn_stock": _published(story),
        "formula": _formula_dict(story.explanation, story) if story.explanation else None,
    }  # fmt: skip


def _published(story: CalcStory) -> int | None:
    if story.error is not None or story.explanation is None:
        return None
    return story.explanation.syn_stock


# ---------------------------------------------------------------- text


def render(story: CalcStory) -> str:
    """Readable multi-line text for `stocksync calc --explain`."""
    lines = [_headline(story), *_rule_lines(story.resolution)]
    ex = story.explanation
    if ex is not None:
        lines += _warehouse_lines(ex, story)
        if ex.steps:
            lines += _stock_lines(ex, story)
        if story.error is None:
            lines += _tail_lines(ex, story.resolution.params)
    if story.error is not None:
        lines.append(f"error: {story.error}")
    return "\n".join(lines)


def _headline(story: CalcStory) -> str:
    target = story.target
    kind = _TARGET_KINDS.get(target.target_type, "unbound")
    what = f"{kind} {story.target_no} (#{target.target_id})" if kind != "unbound" else kind
    if target.target_type == MATCH_SUITE:
        parts = [f"{dec(c.num)} x {_spec_name(c.spec_id, story)}" for c in target.components]
        what += " = " + (" + ".join(parts) if parts else "no components")
    if story.error is not None:
        return f"listing {story.rec_id} -> {what}: no syn_stock ({story.error})"
    published = _published(story)
    if published is None:
        return f"listing {story.rec_id} -> {what}: not computed"
    return f"listing {story.rec_id} -> {what}: syn_stock = {published}"


def _rule_lines(res: Resolution) -> list[str]:
    label = _rule_label(res.rule_id, res.rule_no)
    if res.rule is not None and res.rule.is_disable_syn:
        label += " (forbids syncing)"
    lines = [f"rule applied: {label}: {res.reason}"]
    lines += [
        f"  rule {_rule_label(v.rule_id, v.rule_no)} (priority {v.priority}): {v.reason}"
        for v in res.verdicts
    ]
    if res.params is not None:
        lines.append("  " + _params_text(res.params))
    return lines


def _rule_label(rule_id: int, rule_no: str) -> str:
    if rule_id == CUSTOM_RULE_ID:
        return f"{rule_id} (custom rule)"
    if rule_id == NO_RULE_ID:
        return f"{rule_id} (no rule)"
    return f"{rule_id} {rule_no}".rstrip()


def _params_text(params: RuleParams) -> str:
    fields = ", ".join(mask_fields(params.stock_flag)) or "none"
    return (
        f'parameters: warehouses "{params.warehouse_list}", mask {params.stock_flag} ({fields}), '
        f"percent {dec(params.percent)}, plus {dec(params.plus_value)}, "
        f"max {dec(params.max_stock)}, min {dec(params.min_stock)}, "
        f"auto-delist {'on' if params.is_auto_delisting else 'off'}"
    )


def _warehouse_name(wid: int, story: CalcStory) -> str:
    name = story.warehouse_names.get(wid, "")
    return f"{wid} {name}".rstrip()


def _spec_name(spec_id: int, story: CalcStory) -> str:
    return story.spec_nos.get(spec_id) or f"#{spec_id}"


def _warehouse_lines(ex: Explanation, story: CalcStory) -> list[str]:
    lines = ["warehouses:"]
    lines += [f"  used {_warehouse_name(wid, story)}" for wid in ex.warehouses_used]
    for token, reason in ex.warehouses_dropped:
        shown = _warehouse_name(int(token), story) if token.lstrip("-").isdigit() else token
        lines.append(f"  dropped {shown}: {reason}")
    return lines


def _terms_text(seen: SpecInWarehouse) -> str:
    if not seen.has_row:
        return "no stock row -> 0"
    signed = " ".join(_term_text(t) for t in seen.terms)
    return f"{signed} = {dec(seen.avail)}"


def _term_text(term: Term) -> str:
    value = dec(term.value)
    shown = f"({value})" if term.value < 0 else value
    return f"{'+' if term.sign > 0 else '-'}{shown} {term.field}"


def _stock_lines(ex: Explanation, story: CalcStory) -> list[str]:
    lines = ["stock per warehouse:"]
    suite = story.target.target_type == MATCH_SUITE
    for step in ex.steps:
        lines.append(f"  warehouse {_warehouse_name(step.warehouse_id, story)}:")
        for seen in step.specs:
            text = f"    {_spec_name(seen.spec_id, story)}: {_terms_text(seen)}"
            if suite:
                text += f"; avail {dec(seen.avail)} / num {dec(seen.num)} = {dec(seen.ratio)}"
            lines.append(text)
        lines.append(f"    contributes {dec(step.contribution)}{_limit_text(step, story)}")
    return lines


def _limit_text(step: WarehouseStep, story: CalcStory) -> str:
    if story.target.target_type != MATCH_SUITE:
        return ""
    if step.limiting_spec_id is None:
        return " (suite has no components)"
    lowest = min(seen.ratio for seen in step.specs)
    limiting = _spec_name(step.limiting_spec_id, story)
    return f" = floor(min ratio {dec(lowest)}), limited by {limiting}"


def _tail_lines(ex: Explanation, params: RuleParams | None) -> list[str]:
    lines = [f"X = {dec(ex.raw)}"]
    if params is None:
        return lines
    lines.append(
        f"linear: floor({dec(ex.raw)} x {dec(params.percent)} / 100 + {dec(params.plus_value)})"
        f" = floor({dec(ex.linear_exact)}) = {ex.linear}"
    )
    lines += [_max_text(ex, params), _min_text(ex, params), f"syn_stock = {ex.syn_stock}"]
    return lines


def _max_text(ex: Explanation, params: RuleParams) -> str:
    if params.max_stock <= 0:
        return "max: 0, no cap"
    if ex.max_applied:
        return f"max {dec(params.max_stock)}: {ex.linear} capped to {ex.after_max}"
    return f"max {dec(params.max_stock)}: {ex.linear} is within, kept"


def _min_text(ex: Explanation, params: RuleParams) -> str:
    head = f"min {dec(params.min_stock)}: {ex.after_max}"
    if ex.min_action == "delist":
        return f"{head} is below min, auto-delist on -> 0 (delisted)"
    if ex.min_action == "hold":
        return f"{head} is below min, auto-delist off -> held at {ex.after_min}"
    return f"{head} is not below min, kept"
