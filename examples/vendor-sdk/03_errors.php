<?php
/*
 * How the SDK surfaces the server's errors: every non-zero status becomes a WdtErpException
 * whose getCode() is the status and getMessage() the message.
 *
 *   php 03_errors.php [--unknown-id=999999] [--disabled-id=1007] [settings, see common.php]
 */

require __DIR__ . '/common.php';

$s = wdt_start(['unknown-id:', 'disabled-id:']);
$client = wdt_client($s);
$unknownId = (int) wdt_option($s, 'unknown-id', '999999');
$disabledId = (int) wdt_option($s, 'disabled-id', '1007');
[$secret, $salt] = explode(':', $s['appsecret'], 2);

// Business errors: status 100.
expect_error("calcStock of an unknown listing $unknownId",
    fn () => $client->call('sales.StockSync.calcStock', $unknownId, false), 100);
expect_error("calcStock of the disabled listing $disabledId (the vendor's documented message)",
    fn () => $client->call('sales.StockSync.calcStock', $disabledId, false), 100,
    $disabledId === 1007 ? '货品id:jitx002规格Id:jitx002 已停用或者未开启同步' : null);
echo "\n";

// Verification failures: status 1 验证失败, whichever part is wrong.
$bad = [
    'wrong secret' => [$secret . 'x:' . $salt, null, null],
    'wrong salt' => [$secret . ':' . $salt . 'x', null, null],
    'wrong sid' => [null, $s['sid'] . 'x', null],
    'wrong appkey' => [null, null, $s['appkey'] . 'x'],
];
foreach ($bad as $what => [$appsecret, $sid, $appkey]) {
    $other = wdt_client($s, $appsecret, $sid, $appkey);
    expect_error("calcStock with a $what", fn () => $other->call('sales.StockSync.calcStock', 2447, false), 1, '验证失败');
}
echo "\n";

// Protocol errors: status 1.
expect_error('an unknown method', fn () => $client->call('sales.StockSync.noSuchMethod', 1), 1,
    'method not found: sales.StockSync.noSuchMethod');
expect_error('calcStock without arguments', fn () => $client->call('sales.StockSync.calcStock'), 1,
    'invalid argument count');
expect_error('calcStock with a non-numeric id', fn () => $client->call('sales.StockSync.calcStock', 'abc', false), 1,
    'argument type mismatch');
echo "\n";

// Liberal decoding (spec §4): the id and the flag as strings, as some PHP callers send them.
[$rec] = attempt('calcStock("2447", "false")', fn () => $client->call('sales.StockSync.calcStock', '2447', 'false'));
check('numeric-string id and "false" accepted', is_object($rec) && $rec->rec_id === 2447);
finish();
