"""The vendor's documented calcStock answer for listing 2447 (flagship protocol §5), written once.

The demo seller reproduces it (`stocksync.services.demo`); the CLI, service and open-API tests
compare their answers with it field by field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

#: The record (`data`) as the vendor's documentation prints it: exact decimals like 1.0000.
VENDOR_RECORD_TEXT = (
    '{"match_code":"lz38","list_time":"","stock_syn_min":1.0000,"stock_num":0,'
    '"stock_syn_warehouses":"6","sub_platform_id":0,"outer_id":"lz3","spec_outer_id":"lz38",'
    '"stock_syn_percent":100,"spec_id":"lz38","is_auto_delisting":1,"stock_syn_plus":1.0000,'
    '"is_auto_listing":1,"match_target_id":12581,"match_target_type":1,"mask":0,"syn_stock":1,'
    '"reserve_s":"","stock_syn_rule_id":-10000,"stock_syn_mask":0,"goods_id":"lz3",'
    '"rec_id":2447,"last_syn_num":-1,"shop_id":69,"stock_syn_max":550.0000,"last_syn_time":"",'
    '"delist_time":"","platform_id":127,"stock_syn_rule_no":"","status":1,'
    '"stock_change_count":2}'
)
#: The whole answer, envelope included.
VENDOR_ANSWER = '{"status":0,"data":' + VENDOR_RECORD_TEXT + "}"


def vendor_record() -> dict[str, Any]:
    """The documented record, fractions as `Decimal` and integers as `int`."""
    record: dict[str, Any] = json.loads(VENDOR_RECORD_TEXT, parse_float=Decimal)
    return record
