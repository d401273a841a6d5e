"""Matching a listing to a spec or a suite by merchant code (semantics spec §2).

Our rule, like the vendor: codes compare exactly and case-sensitively, nothing is trimmed. The
one allowance: a `spec_outer_id` made only of whitespace counts as empty, and a code that is
empty or only whitespace never matches anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, UNBOUND


def match_code(outer_id: str, spec_outer_id: str) -> str:
    """The code a listing matches by: its `spec_outer_id` unless blank, else its `outer_id`."""
    return spec_outer_id if spec_outer_id.strip() else outer_id


def auto_match(
    code: str, spec_ids_by_no: Mapping[str, int], suite_ids_by_no: Mapping[str, int]
) -> tuple[int, int]:
    """(match_target_type, match_target_id) for `code`: a spec first, then a suite, else unbound.

    The maps are keyed by the exact `spec_no` / `suite_no`.
    """
    if not code.strip():
        return UNBOUND, 0
    spec_id = spec_ids_by_no.get(code)
    if spec_id is not None:
        return MATCH_SPEC, spec_id
    suite_id = suite_ids_by_no.get(code)
    if suite_id is not None:
        return MATCH_SUITE, suite_id
    return UNBOUND, 0
