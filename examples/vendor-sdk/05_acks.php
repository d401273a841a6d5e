<?php
/*
 * The acknowledgements with the arguments the vendor documents: syncSuccess with the full
 * documented info object, syncFail (which delays the listing), cancelSync with -1 and with a
 * stale counter.
 *
 *   php 05_acks.php [--success-id=2447] [--fail-id=1001] [settings, see common.php]
 *
 * Run it after 04_sync_loop.php (nothing pending): syncFail puts --fail-id on hold for 60 s,
 * and the cancelSync at the end releases it again.
 */

require __DIR__ . '/common.php';

$s = wdt_start(['success-id:', 'fail-id:']);
$client = wdt_client($s);
$okId = (int) wdt_option($s, 'success-id', '2447');
$failId = (int) wdt_option($s, 'fail-id', '1001');

// syncSuccess with every field of the vendor's documented example, values from calcStock.
$rec = $client->call('sales.StockSync.calcStock', $okId, false);
$info = new stdClass();
foreach (['stock_syn_min', 'stock_syn_rule_id', 'stock_syn_mask', 'stock_syn_warehouses', 'stock_syn_max',
    'stock_syn_percent', 'is_auto_delisting', 'stock_syn_plus', 'is_auto_listing', 'stock_syn_rule_no',
    'syn_stock', 'stock_change_count'] as $field) {
    $info->$field = $rec->$field;
}
echo 'syncSuccess body as the SDK encodes it: ' . json_encode([$okId, $info]) . "\n";
[$ack, $e] = attempt("syncSuccess($okId, documented info)", fn () => $client->call('sales.StockSync.syncSuccess', $okId, $info));
check('syncSuccess with the documented info answers {"status":0} (SDK returns null)', $e === null && $ack === null);
$after = $client->call('sales.StockSync.calcStock', $okId, false);
check('syncSuccess recorded the push', $after->last_syn_num == $rec->syn_stock && $after->last_syn_time !== '',
    "last_syn_num={$after->last_syn_num} last_syn_time={$after->last_syn_time}");
echo "\n";

// syncFail: info as real clients send it (is_syn_success 1/0, warehouses as a number, a message
// with non-ASCII text and a slash).
$rec = $client->call('sales.StockSync.calcStock', $failId, false);
$fail = [
    'syn_stock' => $rec->syn_stock,
    'stock_change_count' => $rec->stock_change_count,
    'is_syn_success' => 0,
    'stock_syn_warehouses' => 1,
    'syn_result' => '平台接口超时 timeout/502',
];
echo 'syncFail body as the SDK encodes it: ' . json_encode([$failId, $fail]) . "\n";
[$ack, $e] = attempt("syncFail($failId, info)", fn () => $client->call('sales.StockSync.syncFail', $failId, $fail));
check('syncFail answers {"status":0}', $e === null && $ack === null);
[, $e] = attempt("calcStock($failId) while the failure delay runs",
    fn () => $client->call('sales.StockSync.calcStock', $failId, false));
check('a failed listing is held back (status 100) during its delay', $e instanceof WdtErpException && $e->getCode() === 100);
echo "\n";

// cancelSync: a stale counter is refused with 取消失败; -1 always cancels and lifts the delay.
expect_error("cancelSync($failId, stale counter 999)",
    fn () => $client->call('sales.StockSync.cancelSync', $failId, 999), 100, '取消失败');
[$ack, $e] = attempt("cancelSync($failId, -1)", fn () => $client->call('sales.StockSync.cancelSync', $failId, -1));
check('cancelSync(-1) answers {"status":0}', $e === null && $ack === null);
[$rec, $e] = attempt("calcStock($failId) after the cancel", fn () => $client->call('sales.StockSync.calcStock', $failId, false));
check('the cancel lifted the delay', $e === null && is_object($rec));
finish();
