<?php
/*
 * calcStock(2447, false) and calcStockWithAuth(2447, false) through the vendor SDK, compared
 * field by field with the vendor's documented calcStock example (flagship-protocol.md §5).
 * Listing 2447 of the stocksync demo seller is built to reproduce that example.
 *
 *   php 01_calc_stock.php [--rec-id=2447] [settings, see common.php]
 */

require __DIR__ . '/common.php';

$s = wdt_start(['rec-id:']);
$client = wdt_client($s);
$recId = (int) wdt_option($s, 'rec-id', '2447');

// The vendor's documented answer to calcStock [2447,false], verbatim.
const DOCUMENTED = '{"status":0,"data":{"match_code":"lz38","list_time":"","stock_syn_min":1.0000,"stock_num":0,"stock_syn_warehouses":"6","sub_platform_id":0,"outer_id":"lz3","spec_outer_id":"lz38","stock_syn_percent":100,"spec_id":"lz38","is_auto_delisting":1,"stock_syn_plus":1.0000,"is_auto_listing":1,"match_target_id":12581,"match_target_type":1,"mask":0,"syn_stock":1,"reserve_s":"","stock_syn_rule_id":-10000,"stock_syn_mask":0,"goods_id":"lz3","rec_id":2447,"last_syn_num":-1,"shop_id":69,"stock_syn_max":550.0000,"last_syn_time":"","delist_time":"","platform_id":127,"stock_syn_rule_no":"","status":1,"stock_change_count":2}}';

/** Loose equality as a PHP client sees it: numbers by value, booleans against 0/1. */
function same_value($doc, $ours): bool
{
    if (is_bool($doc) || is_bool($ours)) {
        return (bool) $doc === (bool) $ours && (is_bool($doc) || in_array($doc, [0, 1], true))
            && (is_bool($ours) || in_array($ours, [0, 1], true));
    }
    if (is_numeric($doc) && is_numeric($ours) && !is_string($doc) && !is_string($ours)) {
        return $doc == $ours;
    }
    return $doc === $ours;
}

[$record] = attempt("calcStock($recId, false)", fn () => $client->call('sales.StockSync.calcStock', $recId, false));
[$withAuth] = attempt("calcStockWithAuth($recId, false)",
    fn () => $client->call('sales.StockSync.calcStockWithAuth', $recId, false));
echo "\n";

check('calcStock answers a record', is_object($record));
check('calcStockWithAuth answers the same record', is_object($withAuth) && $withAuth == $record);
if (!is_object($record)) {
    finish();
}

$doc = get_object_vars(json_decode(DOCUMENTED)->data);
$ours = get_object_vars($record);
printf("%-22s %-12s %-12s %-14s %s\n", 'field', 'documented', 'stocksync', 'php types', 'verdict');
$valueDiffs = [];
$typeNotes = [];
foreach ($doc as $field => $dv) {
    if (!array_key_exists($field, $ours)) {
        printf("%-22s %-12s %-12s %-14s %s\n", $field, json_encode($dv), '(missing)', '', 'MISSING');
        $valueDiffs[] = $field;
        continue;
    }
    $ov = $ours[$field];
    $types = gettype($dv) . '/' . gettype($ov);
    $same = same_value($dv, $ov);
    $verdict = $same ? (gettype($dv) === gettype($ov) ? 'same' : 'same value, other type') : 'DIFFERENT';
    if (!$same) {
        $valueDiffs[] = $field;
    } elseif (gettype($dv) !== gettype($ov)) {
        $typeNotes[] = "$field ($types)";
    }
    printf("%-22s %-12s %-12s %-14s %s\n", $field,
        json_encode($dv, JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_UNICODE),
        json_encode($ov, JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_UNICODE), $types, $verdict);
}
$extra = array_values(array_diff(array_keys($ours), array_keys($doc)));
foreach ($extra as $field) {
    printf("%-22s %-12s %-12s %-14s %s\n", $field, '(absent)',
        json_encode($ours[$field], JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_UNICODE), gettype($ours[$field]),
        'extra field');
}
echo "\n";
if ($recId === 2447) {
    check('every documented field present with the documented value', !$valueDiffs,
        $valueDiffs ? 'differing: ' . implode(', ', $valueDiffs) : '(' . count($doc) . ' fields)');
}
echo 'NOTE type differences (value equal): ' . ($typeNotes ? implode(', ', $typeNotes) : 'none') . "\n";
echo 'NOTE fields beyond the example: ' . ($extra ? implode(', ', $extra) : 'none') . "\n";
check('syn_stock decodes as a PHP int', is_int($record->syn_stock), gettype($record->syn_stock));
finish();
