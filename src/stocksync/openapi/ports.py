"""What the open-API app needs from the outside world, as plain types and protocols.

The app never touches the database: credentials come from a `CredentialStore` and methods are
`Handler`s registered by name. `bootstrap.py` wires them to the services; tests use fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol


@dataclass(frozen=True, slots=True)
class AppCredential:
    """One app key of one seller: what signs its calls and what it may see."""

    sid: str
    tenant_id: int
    app_key: str
    secret: str
    salt: str
    shop_ids: frozenset[int] | None  # None = every shop of the seller
    rate_limit: int | None  # calls per minute for this key; None = the app's default


class CredentialStore(Protocol):
    """Finds the credential of an app key; None when the seller or the key is unknown."""

    def lookup(self, sid: str, app_key: str) -> AppCredential | None: ...


class CallContext(NamedTuple):
    """What a method handler gets besides its decoded arguments (a named tuple: one is made
    per call, at a fifth of a frozen dataclass's cost)."""

    credential: AppCredential
    method: str
    page_size: int | None  # paged calls only (query string); None when not sent
    page_no: int | None  # 0-based
    calc_total: bool
    now: float  # server time (unix seconds) of this request
    request_id: str


class _NoData:
    """The type of `NO_DATA`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DATA"


#: Returned by a handler whose method has no result: the answer is `{"status":0}`.
NO_DATA: Final = _NoData()

#: A method implementation: gets the context and the decoded positional arguments, returns the
#: `data` value of the answer (anything orjson encodes, Decimals included) or `NO_DATA`.
Handler = Callable[[CallContext, list[Any]], Any]
