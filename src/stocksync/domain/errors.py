"""Domain errors. Services raise them; the protocol layer maps them to status codes."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the operation; `message` is shown to the caller as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BusinessError(DomainError):
    """A business error (flagship status 100)."""


class InvalidArgument(DomainError):
    """The caller's input is invalid (flagship status 1); the message names the field."""


class EmptyWarehouseList(BusinessError):
    """The rule's warehouse list has no usable warehouse left."""

    def __init__(self) -> None:
        super().__init__("仓库列表为空")
