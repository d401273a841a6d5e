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
#: The parameters of a call without paging, with and without its `sign`: all sort after "body".
_USUAL = frozenset({"key", "method", "salt", "sid", "timestamp", "v"})
_USUAL_SIGNED = _USUAL | {"sign"}


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
    raw = body if isinstance(body, bytes) else body.encode()
    keys = params.keys()
    if keys in (_USUAL_SIGNED, _USUAL):  # every key sorts after "body": no sorting
        after = (
            f"key{params['key']}method{params['method']}salt{params['salt']}sid{params['sid']}"
            f"timestamp{params['timestamp']}v{params['v']}{secret}"
        )
        return b"".join((secret.encode(), b"body", raw, after.encode()))
    # The parameters sorting before and after "body", as text: one encode each side.
    before, after_parts = [secret], []
    for key in sorted(params):
        if key < "body":
            before.append(key + params[key])
        elif key != "body" and key != "sign":
            after_parts.append(key + params[key])
    after_parts.append(secret)
    return "".join(before).encode() + b"body" + raw + "".join(after_parts).encode()


def sign(params: Mapping[str, str], body: str | bytes, secret: str) -> str:
    """The `sign` a client sends for these query parameters and this raw body."""
    return hashlib.md5(signing_bytes(params, body, secret)).hexdigest()


def verify(params: Mapping[str, str], body: str | bytes, secret: str, given: str) -> bool:
    """Whether `given` is the right sign, compared in constant time (as ASCII text: a sign
    that is not ASCII is wrong)."""
    digest = hashlib.md5(signing_bytes(params, body, secret)).hexdigest()  # `sign`, inline
    return given.isascii() and hmac.compare_digest(digest, given)


def parse_query(query: str | bytes) -> dict[str, str]:
    """Decode a form-encoded query string (`+` is a space, %-escapes are UTF-8, any order).

    `query` is the raw bytes (ASGI) or the same text already decoded (granian's RSGI scope).
    A parameter sent twice, a parameter named `body` (the signature reserves that name) or bytes
    that are not UTF-8 are refused with `参数错误`: each would make the signed text ambiguous.
    """
    try:
        text = query if isinstance(query, str) else query.decode()
        escaped = "%" in text or "+" in text  # the SDKs' usual query has neither
        params: dict[str, str] = {}
        for part in text.split("&"):
            key, _, value = part.partition("=")
            if escaped and ("%" in part or "+" in part):
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
    if abs(int(timestamp) + EPOCH - now) > skew:  # `from_wdt`, inline
        raise BadTimestamp()
