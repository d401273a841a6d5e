<?php
/*
 * system.Core.now, the paged reads through the SDK's Pager (setting.Shop.queryShop,
 * setting.Warehouse.queryWarehouse, wms.StockSpec.search) and sales.StockSync.batchCalcStock.
 *
 *   php 02_reads.php [--batch=2447,1001,1007,999999] [--spec-nos=lz38,lz39,P]
 *                    [settings, see common.php]
 */

require __DIR__ . '/common.php';

$s = wdt_start(['batch:', 'spec-nos:']);
$client = wdt_client($s);
$batchIds = array_map('intval', explode(',', wdt_option($s, 'batch', '2447,1001,1007,999999')));
$specNos = explode(',', wdt_option($s, 'spec-nos', 'lz38,lz39,P'));

// --- system.Core.now: called with no arguments, so the SDK sends the body "[]".
[$now] = attempt('system.Core.now', fn () => $client->call('system.Core.now'));
$local = time() - 1325347200;
check('system.Core.now answers the protocol clock', is_int($now) && abs($now - $local) <= 2,
    "server $now, local time()-1325347200 = $local");
echo "\n";

/**
 * Read every page of a paged method the way the SDK's demos do: new Pager(size, page_no, true)
 * returns the whole answer (status + data with total_count); new Pager(size, page_no) (calc_total
 * 0) returns only data. Returns [total_count, rows].
 */
function read_all_pages($client, string $method, $params, int $size): array
{
    [$first] = attempt("$method page_no=0 calc_total=1", fn () => $client->pageCall($method, new Pager($size, 0, true), $params));
    if (!is_object($first) || !isset($first->data->total_count)) {
        return [null, []];
    }
    $total = $first->data->total_count;
    $rows = $first->data->details ?? [];
    for ($page = 1; $page * $size < $total; $page++) {
        [$data] = attempt("$method page_no=$page calc_total=0", fn () => $client->pageCall($method, new Pager($size, $page), $params));
        $rows = array_merge($rows, $data->details ?? []);
    }
    return [$total, $rows];
}

// --- setting.Shop.queryShop, one shop a page.
$params = new stdClass();
$params->platform_id = 127;
[$total, $shops] = read_all_pages($client, 'setting.Shop.queryShop', $params, 1);
check('queryShop pages through every shop', $total !== null && count($shops) === $total
    && count(array_unique(array_column($shops, 'shop_id'))) === $total,
    "total_count=" . json_encode($total) . ', rows=' . count($shops)
    . ', shop_nos=' . implode(',', array_column($shops, 'shop_no')));
echo "\n";

// --- setting.Warehouse.queryWarehouse, two a page.
[$total, $warehouses] = read_all_pages($client, 'setting.Warehouse.queryWarehouse', new stdClass(), 2);
check('queryWarehouse pages through every warehouse', $total !== null && count($warehouses) === $total
    && count(array_unique(array_column($warehouses, 'warehouse_id'))) === $total,
    "total_count=" . json_encode($total) . ', warehouse_nos=' . implode(',', array_column($warehouses, 'warehouse_no')));
echo "\n";

// --- wms.StockSpec.search, two rows a page.
$params = new stdClass();
$params->spec_nos = $specNos;
[$total, $rows] = read_all_pages($client, 'wms.StockSpec.search', $params, 2);
$seen = array_map(fn ($r) => "{$r->spec_no}@{$r->warehouse_no}={$r->stock_num}", $rows);
check('StockSpec.search pages through every row', $total !== null && count($rows) === $total
    && count(array_unique($seen)) === $total, "total_count=" . json_encode($total) . ', rows: ' . implode(' ', $seen));
echo "\n";

// --- batchCalcStock: a list of {api_goods_id, force_sync}.
$items = array_map(fn ($id) => ['api_goods_id' => $id, 'force_sync' => false], $batchIds);
[$batch] = attempt('batchCalcStock(' . implode(',', $batchIds) . ')',
    fn () => $client->call('sales.StockSync.batchCalcStock', $items));
$ok = is_object($batch) && isset($batch->success_date, $batch->error_date);
check('batchCalcStock answers success_date and error_date', $ok);
if ($ok) {
    $good = array_column($batch->success_date, 'syn_stock', 'rec_id');
    $bad = array_column($batch->error_date, 'err_msg', 'rec_id');
    echo 'success_date syn_stock by rec_id: ' . json_encode($good) . "\n";
    echo 'error_date err_msg by rec_id: ' . json_encode($bad, JSON_UNESCAPED_UNICODE) . "\n";
    check('batchCalcStock accounts for every item once',
        count($good) + count($bad) === count($batchIds)
        && !array_diff($batchIds, array_merge(array_keys($good), array_keys($bad))));
    // Each success record must equal what calcStock answers for that listing.
    foreach ($batch->success_date as $rec) {
        $single = $client->call('sales.StockSync.calcStock', $rec->rec_id, false);
        $diff = array_keys(array_diff_assoc(array_map('json_encode', get_object_vars($single)),
            array_map('json_encode', array_intersect_key(get_object_vars($rec), get_object_vars($single)))));
        check("batch record {$rec->rec_id} agrees with calcStock", !$diff, $diff ? 'differs in ' . implode(',', $diff) : '');
    }
}
finish();
