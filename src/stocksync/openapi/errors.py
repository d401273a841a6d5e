"""Errors of the flagship wire protocol, one class per answer, each with its status and message.

The app turns any `ProtocolError` into `{"status": N, "message": "…"}`; `from_exception` maps the
domain's errors (raised by services) onto the protocol's. Messages are the vendor's, since
clients match some of them (the rate-limit sentence decides whether a client retries).
"""

from __future__ import annotations

from stocksync.domain.errors import DomainError, InvalidArgument


class ProtocolError(Exception):
    """An answer with a non-zero status; `http_status` is 200 except for the transport refusals."""

    status: int = 1
    message: str = "参数错误"
    http_status: int = 200

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class VerificationFailed(ProtocolError):
    """Unknown sid or key, wrong salt or wrong sign: one answer, so as not to say which."""

    message = "验证失败"


class BadArguments(ProtocolError):
    """A required query parameter is missing or malformed, or the body is not a JSON array."""

    message = "参数错误"


class InvalidArgumentCount(ProtocolError):
    """The body has fewer arguments than the method requires or more than it takes."""

    message = "invalid argument count"


class ArgumentTypeMismatch(ProtocolError):
    """An argument cannot be coerced to the kind the method declares."""

    message = "argument type mismatch"


class MethodNotFound(ProtocolError):
    """No method of that name is registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"method not found: {name}")


class BadTimestamp(ProtocolError):
    """`timestamp` is not a number of seconds since 2012-01-01 within the allowed skew."""

    status = 7
    message = "时间戳错误"


class BadVersion(ProtocolError):
    """`v` is not `1.0`."""

    status = 8
    message = "版本错误"


class RateLimited(ProtocolError):
    """Too many calls this minute; clients retry on exactly this sentence."""

    status = 100
    message = "超过每分钟最大调用频率限制，请稍后重试"


class Business(ProtocolError):
    """A business rule refused the call (status 100, the service's message)."""

    status = 100

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Internal(ProtocolError):
    """An unexpected failure; the request id lets an operator find the logged traceback."""

    status = 99

    def __init__(self, request_id: str) -> None:
        super().__init__(f"其他错误 (request id {request_id})")


class NotFound(ProtocolError):
    """A path other than the open-API endpoint (HTTP 404)."""

    message = "not found"
    http_status = 404


class MethodNotAllowed(ProtocolError):
    """An HTTP method other than POST on the endpoint (HTTP 405)."""

    message = "method not allowed"
    http_status = 405


class PayloadTooLarge(ProtocolError):
    """A body above the configured limit (HTTP 413, allowed by the spec's transport rule)."""

    message = "request body too large"
    http_status = 413


def from_exception(exc: Exception, request_id: str) -> ProtocolError:
    """The protocol error to answer for `exc`: domain errors keep their message, others are 99."""
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, InvalidArgument):
        return BadArguments(exc.message)
    if isinstance(exc, DomainError):  # BusinessError and any other business refusal
        return Business(exc.message)
    return Internal(request_id)
