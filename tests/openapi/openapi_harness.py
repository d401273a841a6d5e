"""Shared test helpers: fake methods that record their calls, and a signed-request harness."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.openapi.app import OpenApiApp, create_openapi_app
from stocksync.openapi.arguments import Param
from stocksync.openapi.ports import NO_DATA, AppCredential, CallContext
from stocksync.openapi.registry import MethodRegistry
from stocksync.openapi.signature import EPOCH, sign
from stocksync.openapi.testing import AsgiTransport, InMemoryCredentials

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "flagship_sign_vectors.json").read_text("utf-8")
)["cases"]

SID, KEY, SECRET, SALT = "wdtapi3", "appkey", "testsecret", "testsalt"
TIMESTAMP = 470524606
NOW = float(EPOCH + TIMESTAMP)
JSON_HEADERS = {"Content-Type": "application/json"}


def credential(
    sid: str = SID,
    key: str = KEY,
    secret: str = SECRET,
    salt: str = SALT,
    rate_limit: int | None = None,
) -> AppCredential:
    """A credential of tenant 7 that sees every shop."""
    return AppCredential(sid, 7, key, secret, salt, None, rate_limit)


@dataclass
class Recorder:
    """The calls the fake handlers received: (method, decoded args, context)."""

    calls: list[tuple[str, list[Any], CallContext]] = field(default_factory=list)

    def echo(self, context: CallContext, args: list[Any]) -> Any:
        self.calls.append((context.method, args, context))
        return {"method": context.method, "args": args}

    def ack(self, context: CallContext, args: list[Any]) -> Any:
        self.calls.append((context.method, args, context))
        return NO_DATA

    def clock(self, context: CallContext, args: list[Any]) -> Any:
        self.calls.append((context.method, args, context))
        return context.now

    def page(self, context: CallContext, args: list[Any]) -> Any:
        self.calls.append((context.method, args, context))
        return {"total_count": 42, "details": [], "page": [context.page_size, context.page_no]}


def fake_registry(recorder: Recorder) -> MethodRegistry:
    """The vector methods with their real argument specs, plus methods that fail on purpose."""
    registry = MethodRegistry()
    ids = (Param("api_goods_id", "int"),)
    registry.register("sales.StockSync.calcStock", recorder.echo, ids + (Param("force", "bool"),))
    registry.register("sales.StockSync.batchCalcStock", recorder.echo, (Param("items", "list"),))
    wait = (Param("count", "int"), Param("position", "int"))
    registry.register("sales.StockSync.getSelfWaitSyncIdListOpen", recorder.echo, wait)
    for name in ("syncSuccess", "syncFail"):
        registry.register(f"sales.StockSync.{name}", recorder.ack, ids + (Param("info", "object"),))
    count = (Param("stock_change_count", "int"),)
    registry.register("sales.StockSync.cancelSync", recorder.ack, ids + count)
    optional = (Param("params", "object", required=False, default={}),)
    registry.register("setting.Shop.queryShop", recorder.page, optional)
    registry.register("system.Core.now", recorder.clock)
    registry.register("test.decimal", lambda context, args: args[0], (Param("qty", "decimal"),))
    registry.register("test.boom", _boom)
    registry.register("test.business", _business)
    registry.register("test.invalid", _invalid)
    return registry


def _boom(context: CallContext, args: list[Any]) -> Any:
    raise RuntimeError("kaboom")


def _business(context: CallContext, args: list[Any]) -> Any:
    raise BusinessError("取消失败")


def _invalid(context: CallContext, args: list[Any]) -> Any:
    raise InvalidArgument("shop_no 不存在")


class Harness:
    """An app over fake methods and credentials, driven through `AsgiTransport`."""

    def __init__(self, credentials: Iterable[AppCredential] = (), **app_options: Any) -> None:
        self.recorder = Recorder()
        self.now = NOW
        self.store = InMemoryCredentials(credentials or [credential()])
        self.app: OpenApiApp = create_openapi_app(
            fake_registry(self.recorder), self.store, clock=lambda: self.now, **app_options
        )
        self.transport = AsgiTransport(self.app)

    def post(
        self,
        target: str,
        body: bytes | Iterable[bytes],
        headers: Mapping[str, str] = JSON_HEADERS,
        http_method: str = "POST",
    ) -> tuple[int, Any]:
        """Send a raw request; the HTTP status and the parsed JSON answer."""
        status, payload = self.transport(http_method, target, headers, body)
        return status, json.loads(payload)

    def raw(self, method: str, body: bytes, /, **overrides: str | None) -> bytes:
        """The answer bytes of a correctly signed call (see `call`)."""
        target = f"/openapi?{signed_query(method, body, **overrides)}"
        return self.transport("POST", target, JSON_HEADERS, body)[1]

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, body: bytes, /, **overrides: str | None) -> tuple[int, Any]:
        """A correctly signed call, then `overrides` applied (None drops a parameter)."""
        return self.post(f"/openapi?{signed_query(method, body, **overrides)}", body)


def signed_query(
    method: str, body: bytes, /, *, secret: str = SECRET, **overrides: str | None
) -> str:
    """The query string of a call signed with `secret`, then `overrides` (None = not sent).

    Overriding `sign` replaces the computed sign; other overrides are signed as sent.
    """
    params = {"sid": SID, "key": KEY, "salt": SALT, "method": method, "v": "1.0"}
    params["timestamp"] = str(TIMESTAMP)
    forced = {"sign": overrides.pop("sign")} if "sign" in overrides else {}
    sent = {k: v for k, v in (params | overrides).items() if v is not None}
    sent["sign"] = sign(sent, body, secret)
    final = sent | forced
    return urlencode({k: v for k, v in final.items() if v is not None})
