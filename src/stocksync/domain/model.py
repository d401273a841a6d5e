"""The stock model in the vendor's vocabulary: plain, immutable values, no I/O.

Quantities are `Decimal` with at most 4 decimal places. Ids are ints within signed 32 bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)

#: The 16 stock quantities selectable by a rule's mask (`stock_flag`), in bit order.
QUANTITY_FIELDS: tuple[str, ...] = (
    "purchase_num",  # bit 0, +  purchase in transit
    "to_purchase_num",  # bit 1, +  to be purchased
    "transfer_num",  # bit 2, +  transfer in transit
    "purchase_arrive_num",  # bit 3, +  purchase arrived
    "return_onway_num",  # bit 4, +  purchase exchange in transit
    "refund_onway_num",  # bit 5, +  sales exchange in transit
    "subscribe_num",  # bit 6, -  pre-orders
    "order_num",  # bit 7, -  awaiting review
    "unpay_num",  # bit 8, -  unpaid
    "sending_num",  # bit 9, -  awaiting shipment
    "return_num",  # bit 10, - purchase return
    "refund_num",  # bit 11, - sales return
    "return_exch_num",  # bit 12, - purchase exchange
    "refund_exch_num",  # bit 13, - sales exchange
    "lock_num",  # bit 14, - locked stock
    "to_transfer_num",  # bit 15, - to be transferred out
)
#: Sign of each quantity when its mask bit is set.
QUANTITY_SIGNS: tuple[int, ...] = (1,) * 6 + (-1,) * 10
#: Every bit a mask may carry.
FULL_MASK = (1 << len(QUANTITY_FIELDS)) - 1

#: `stock_syn_rule_id` reported for a listing that carries its own custom rule.
CUSTOM_RULE_ID = -10000
#: `stock_syn_rule_id` reported when no rule applies.
NO_RULE_ID = -1

# match_target_type
UNBOUND, MATCH_SPEC, MATCH_SUITE = 0, 1, 2
# listing status
DELETED, LISTED, DELISTED = 0, 1, 2
#: listing `mask` bit meaning "sync temporarily delayed after a failure".
MASK_DELAYED = 2


@dataclass(frozen=True, slots=True)
class Warehouse:
    warehouse_id: int
    warehouse_no: str = ""
    name: str = ""
    is_defect: bool = False
    is_outer_stock: bool = False
    is_disabled: bool = False


@dataclass(frozen=True, slots=True)
class StockRow:
    """One spec in one warehouse: on hand, the 16 mask quantities, and the outside-WMS diff."""

    spec_id: int
    warehouse_id: int
    stock_num: Decimal = ZERO
    quantities: tuple[Decimal, ...] = (ZERO,) * 16
    wms_stock_diff: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class SuiteComponent:
    spec_id: int
    num: Decimal


@dataclass(frozen=True, slots=True)
class RuleParams:
    """The parameters of the formula, from a strategy rule or a listing's custom rule."""

    warehouse_list: str = ""
    stock_flag: int = 0
    percent: Decimal = Decimal(100)
    plus_value: Decimal = ZERO
    min_stock: Decimal = ZERO
    max_stock: Decimal = ZERO
    is_auto_listing: bool = False
    is_auto_delisting: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A stock-sync strategy rule (`cfg_stock_sync_rule`)."""

    rec_id: int
    rule_no: str = ""
    rule_name: str = ""
    priority: int = 0
    shop_list: str = ""  # comma-separated shop ids; empty = every shop
    class_id: int = -1  # -1 = any class
    brand_id: int = -1  # -1 = any brand
    params: RuleParams = field(default_factory=RuleParams)
    is_disable_syn: bool = False
    is_disabled: bool = False


@dataclass(frozen=True, slots=True)
class GoodsClass:
    class_id: int
    class_name: str = ""
    parent_id: int = -1
