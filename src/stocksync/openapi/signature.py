"""The flagship request signature, query-string parsing and the timestamp epoch (spec §1–§2).

`sign` = lowercase hex MD5 of `secret + k1 + v1 + … + secret` over every query parameter sent
except `sign`, plus `body` = the raw POST body, keys in ascending order. The body is signed as
the exact bytes received: clients escape JSON differently, so re-serialising would break them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from stocksync.openapi.errors import BadArguments, BadTimestamp

# The epoch lives in `services.clock`; re-exported here for the client and the protocol.
from stocksync.services.clock import WDT_EPOCH as EPOCH
from stocksync.services.clock import to_wdt as to_wdt

#: Longest timestamp accepted as a number: 12 digits is ~31,700 years; 13 digits is milliseconds.
_MAX_TIMESTAMP_DIGITS = 12


def from_wdt(timestamp: int) -> int:
    """The protocol's `timestamp` → Unix seconds."""
    return timestamp + EPOCH


def split_appsecret(appsecret: str) -> tuple[str, str]:
    """Split a vendor appsecret `secret:salt` at the FIRST colon (the salt may contain colons)."""
    secret, colon, salt = appsecret.partition(":")
    if not colon:
        raise ValueError("an appsecret has the form 'secret:salt'")
    return secret, salt


def signing_bytes(params: Mapping[str, str], body: str | bytes, secret: str) -> bytes:
    """The exact bytes whose MD5 is the sign; `body` as bytes is signed byte for byte."""
    # The parameters sorting before and after "body", as text: one encode each side.
    before, after = [secret], []
    for key in sorted(params):
        if key < "body":
            before.append(key + params[key])
        elif key != "body" and key != "sign":
            after.append(key + params[key])
    after.append(secret)
    raw = body if isinstance(body, bytes) else body.encode()
    return "".join(before).encode() + b"body" + raw + "".join(after).encode()


def sign(params: Mapping[str, str], body: str | bytes, secret: str) -> str:
    """The `sign` a client sends for these query parameters and this raw body."""
    return hashlib.md5(signing_bytes(params, body, secret)).hexdigest()


def verify(params: Mapping[str, str], body: str | bytes, secret: str, given: str) -> bool:
    """Whether `given` is the right sign, compared in constant time."""
    return hmac.compare_digest(sign(params, body, secret).encode(), given.encode())


def parse_query(query: bytes) -> dict[str, str]:
    """Decode a form-encoded query string (`+` is a space, %-escapes are UTF-8, any order).

    A parameter sent twice, a parameter named `body` (the signature reserves that name) or bytes
    that are not UTF-8 are refused with `参数错误`: each would make the signed text ambiguous.
    """
    try:
        text = query.decode()
        params: dict[str, str] = {}
        for part in text.split("&"):
            key, _, value = part.partition("=")
            if "%" in part or "+" in part:
                key = unquote_plus(key, errors="strict")
                value = unquote_plus(value, errors="strict")
            if key in params or key == "body":
                raise BadArguments()
            if part:
                params[key] = value
    except UnicodeDecodeError:
        raise BadArguments() from None
    return params


def check_timestamp(timestamp: str, now: float, skew: int) -> None:
    """Refuse (status 7) a timestamp that is not whole seconds within `skew` of `now`."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise BadTimestamp()
    if abs(from_wdt(int(timestamp)) - now) > skew:
        raise BadTimestamp()
