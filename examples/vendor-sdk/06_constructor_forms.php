<?php
/*
 * Which ways of constructing WdtErpClient reach the server. The vendor's wdtsdk.php takes
 * (url, sid, appkey, appsecret) and appends "/openapi" to url itself ("/openapi" after a
 * trailing "/"). Each form is tried with one calcStock call.
 *
 *   php 06_constructor_forms.php [--rec-id=2447] [settings, see common.php]
 *
 * --url must be the server's base (e.g. http://127.0.0.1:8000), without /openapi.
 */

require __DIR__ . '/common.php';

$s = wdt_start(['rec-id:']);
$recId = (int) wdt_option($s, 'rec-id', '2447');
$base = rtrim($s['url'], '/');
[$sid, $key, $secret] = [$s['sid'], $s['appkey'], $s['appsecret']];

$forms = [
    // label => [constructor arguments, expected to work]
    "base URL ('$base')" => [[$base, $sid, $key, $secret], true],
    "base URL with a trailing slash ('$base/')" => [["$base/", $sid, $key, $secret], true],
    "URL ending in /openapi, which the SDK doubles ('$base/openapi')" => [["$base/openapi", $sid, $key, $secret], true],
    "URL last, as some third-party demos write it (sid, appkey, appsecret, url)" => [[$sid, $key, $secret, $base], false],
];
foreach ($forms as $label => [$args, $works]) {
    echo "-- $label\n";
    $client = new WdtErpClient(...$args);
    $url = (fn () => $this->url)->call($client);   // read the SDK's private $url, for the record
    echo "   SDK request URL: $url\n";
    // Silence PHP's warning for a URL that is not one; the SDK's exception says enough.
    $previous = set_error_handler(function (int $no, string $msg) {
        echo "   PHP warning: $msg\n";
        return true;
    });
    [$rec, $e] = attempt('   calcStock', fn () => $client->call('sales.StockSync.calcStock', $recId, false));
    set_error_handler($previous);
    $reached = is_object($rec) && $rec->rec_id === $recId;
    check($label . ($works ? ' works' : ' does not reach the server'), $reached === $works);
}
finish();
