"""Fixtures of the protocol tests: an app over fake methods, driven in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openapi_harness import Harness


@pytest.fixture
def harness() -> Iterator[Harness]:
    """An app with the fake methods and one credential (`openapi_harness.credential()`)."""
    with Harness() as h:
        yield h
