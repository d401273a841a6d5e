"""The method registry: method name → handler and the positional params it takes.

The app decodes the body against a method's params before calling its handler, so handlers
receive typed values (`int`, `bool`, `Decimal`, `str`, `dict`, `list`) and never see raw JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stocksync.openapi.arguments import ArgSpec, Param
from stocksync.openapi.ports import Handler


@dataclass(frozen=True, slots=True)
class Method:
    """A registered method: its handler and argument spec."""

    name: str
    handler: Handler
    spec: ArgSpec

    def decode(self, raw: list[Any]) -> list[Any]:
        """The handler's arguments from the body's JSON array (raises protocol errors)."""
        return self.spec.decode(raw)


class MethodRegistry:
    """Maps method names to handlers; built once by the app factory, read-only while serving."""

    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def register(self, name: str, handler: Handler, params: Sequence[Param] = ()) -> None:
        """Add `name`; a name registered twice is a wiring mistake and raises ValueError."""
        if name in self._methods:
            raise ValueError(f"method already registered: {name}")
        self._methods[name] = Method(name, handler, ArgSpec(params))

    def method(self, name: str, *params: Param) -> Callable[[Handler], Handler]:
        """Decorator form of `register`: `@registry.method("x.Y.z", Param("id", "int"))`."""

        def decorate(handler: Handler) -> Handler:
            self.register(name, handler, params)
            return handler

        return decorate

    def alias(self, name: str, existing: str) -> None:
        """Register `name` as another name of `existing` (e.g. calcStockWithAuth)."""
        method = self._methods[existing]
        self.register(name, method.handler, method.spec.params)

    def get(self, name: str) -> Method | None:
        """The method called `name`, or None."""
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._methods))

    def __len__(self) -> int:
        return len(self._methods)
