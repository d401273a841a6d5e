<?php
/*
 * The vendor's stock-sync loop through the SDK, twice:
 *   1. drain the wait list: getSelfWaitSyncIdListOpen(count, position) -> calcStock(id, false)
 *      -> syncSuccess(id, {syn_stock, stock_change_count}); an id whose calcStock answers an
 *      error is skipped without an ack (as the vendor's clients do); repeat with the returned
 *      position until id_list comes back empty;
 *   2. feed one change, a stocktake (wms.StockPd.stockSyncByPd), and drain again: the wait list
 *      must hand out exactly the listings the stocktake affected, with their new numbers.
 *
 *   php 04_sync_loop.php [--count=100] [--pd-warehouse=A] [--pd-specs=P=7,lz39=9]
 *                        [--pd-unknown=NO-SUCH] [--expect=1005,1015,1016,1019]
 *                        [settings, see common.php]
 *
 * The defaults fit the stocksync demo seller: spec P is in suite KIT-PQ (listings 1005 and
 * 1019), spec lz39 is listing 1015 and, matched by code, listing 1016; the unknown code
 * NO-SUCH must be skipped and listed in skip_spec_no. Run it on a freshly created demo
 * (`stocksync demo` refreshes the demo seller); ids skipped in the first drain are leased for
 * 300 s, so they do not come back within one run.
 */

require __DIR__ . '/common.php';

$s = wdt_start(['count:', 'pd-warehouse:', 'pd-specs:', 'pd-unknown:', 'expect:']);
$client = wdt_client($s);
$count = (int) wdt_option($s, 'count', '100');
$pdWarehouse = wdt_option($s, 'pd-warehouse', 'A');
$pdSpecs = [];
foreach (explode(',', wdt_option($s, 'pd-specs', 'P=7,lz39=9')) as $pair) {
    [$code, $num] = explode('=', $pair, 2);
    $pdSpecs[$code] = $num;
}
$pdUnknown = wdt_option($s, 'pd-unknown', 'NO-SUCH');   // a code the server does not know
if ($pdUnknown !== '') {
    $pdSpecs[$pdUnknown] = '1';
}
$expect = array_map('intval', explode(',', wdt_option($s, 'expect', '1005,1015,1016,1019')));
sort($expect);

/** One full drain; returns ['synced' => [id => syn_stock], 'skipped' => [id => "status message"], ...]. */
function drain($client, int $count): array
{
    $synced = [];
    $skipped = [];
    $rounds = 0;
    $position = 0;
    while (true) {
        $page = $client->call('sales.StockSync.getSelfWaitSyncIdListOpen', $count, $position);
        $rounds++;
        show("getSelfWaitSyncIdListOpen($count, $position)", $page);
        if (empty($page->id_list)) {
            return ['synced' => $synced, 'skipped' => $skipped, 'rounds' => $rounds, 'last' => $page];
        }
        foreach ($page->id_list as $id) {
            try {
                $record = $client->call('sales.StockSync.calcStock', $id, false);
            } catch (WdtErpException $e) {
                $skipped[$id] = $e->getCode() . ' ' . $e->getMessage();
                echo "  calcStock($id) -> WdtErpException {$e->getCode()} {$e->getMessage()}: skipped, no ack\n";
                continue;
            }
            // ... here a storefront publishes $record->syn_stock ...
            $info = ['syn_stock' => $record->syn_stock, 'stock_change_count' => $record->stock_change_count];
            $ack = $client->call('sales.StockSync.syncSuccess', $id, $info);
            $synced[$id] = $record->syn_stock;
            echo "  calcStock($id) -> syn_stock {$record->syn_stock}, stock_change_count "
                . "{$record->stock_change_count}; syncSuccess -> " . json_encode($ack) . "\n";
        }
        $position = $page->position;
    }
}

echo "== 1. drain the wait list\n";
$first = drain($client, $count);
echo "\nsynced " . count($first['synced']) . ' listing(s) ' . json_encode($first['synced'])
    . ', skipped ' . count($first['skipped']) . ' ' . json_encode($first['skipped'], JSON_UNESCAPED_UNICODE)
    . ", {$first['rounds']} wait-list call(s)\n";
check('the first drain ends on an empty id_list', is_array($first['last']->id_list) && !$first['last']->id_list,
    'final answer ' . json_encode($first['last']));
$again = $client->call('sales.StockSync.getSelfWaitSyncIdListOpen', $count, 0);
check('the wait list stays empty', !$again->id_list, json_encode($again));

echo "\n== 2. stocktake in warehouse $pdWarehouse: " . json_encode($pdSpecs) . "\n";
$before = [];
foreach ($expect as $id) {
    $before[$id] = $client->call('sales.StockSync.calcStock', $id, false)->syn_stock;
}
echo 'syn_stock before, by rec_id: ' . json_encode($before) . "\n";
$order = new stdClass();
$order->warehouse_no = $pdWarehouse;
$order->defect_mode = 0;
$order->remark = '盘点 check/PHP SDK "vendor"';   // non-ASCII, a slash and quotes: the SDK escapes them
$order->is_post_error = false;
$specList = [];
foreach ($pdSpecs as $code => $num) {
    $specList[] = ['spec_no' => (string) $code, 'new_num' => (string) $num, 'remark' => "复盘 $code/1"];
}
echo 'request body as the SDK encodes it: ' . json_encode([$order, $specList]) . "\n";
[$pd] = attempt('wms.StockPd.stockSyncByPd', fn () => $client->call('wms.StockPd.stockSyncByPd', $order, $specList));
check('stocktake accepted', is_object($pd) && isset($pd->pd_no));
if ($pdUnknown !== '') {
    check('the unknown code is skipped and listed', is_object($pd) && ($pd->skip_spec_no ?? null) === $pdUnknown,
        'skip_spec_no=' . json_encode($pd->skip_spec_no ?? null));
}

echo "\n== 3. drain again\n";
$second = drain($client, $count);
$ids = array_keys($second['synced'] + $second['skipped']);
sort($ids);
echo "\nhanded out " . json_encode($ids) . ', new syn_stock by rec_id ' . json_encode($second['synced']) . "\n";
check('the wait list returns exactly the affected listings', $ids === $expect,
    'expected ' . json_encode($expect) . ', got ' . json_encode($ids));
check('the second drain ends on an empty id_list', !$second['last']->id_list, 'final answer ' . json_encode($second['last']));
finish();
