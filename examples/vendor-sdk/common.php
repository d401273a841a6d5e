<?php
/*
 * Shared set-up for the vendor-SDK check scripts: load the vendor's wdtsdk.php (unchanged),
 * read the target and credentials, build a WdtErpClient, print results.
 *
 * Settings, each from a command-line option or else the environment (else the default):
 *   --sdk=PATH        WDT_SDK        path of the vendor's wdtsdk.php   (./wdtsdk.php next to the
 *                                                                      scripts, else in the cwd)
 *   --url=BASE        WDT_URL        server base URL; the SDK itself   (http://127.0.0.1:8000)
 *                                    appends "/openapi"
 *   --sid=SID         WDT_SID        seller id                          (demo)
 *   --appkey=KEY      WDT_APPKEY     app key                            (demo-key)
 *   --appsecret=S     WDT_APPSECRET  "secret:salt"                      (demo-secret:demo-salt)
 *
 * Each script prints what it sent and got, then one line per check:
 *   CHECK <name>: PASS|FAIL <detail>
 * and exits 1 if any check failed.
 */

error_reporting(E_ALL);

const WDT_OPTIONS = ['sdk', 'url', 'sid', 'appkey', 'appsecret'];

function wdt_settings(array $extra = []): array
{
    $opts = getopt('', array_merge(array_map(fn ($o) => "$o:", WDT_OPTIONS), $extra));
    $pick = function (string $opt, string $env, ?string $default) use ($opts): ?string {
        if (isset($opts[$opt])) {
            return (string) $opts[$opt];
        }
        $value = getenv($env);
        return ($value === false || $value === '') ? $default : $value;
    };
    $sdk = $pick('sdk', 'WDT_SDK', null);
    if ($sdk === null) {
        $sdk = is_file(__DIR__ . '/wdtsdk.php') ? __DIR__ . '/wdtsdk.php' : getcwd() . '/wdtsdk.php';
    }
    return [
        'sdk' => $sdk,
        'url' => $pick('url', 'WDT_URL', 'http://127.0.0.1:8000'),
        'sid' => $pick('sid', 'WDT_SID', 'demo'),
        'appkey' => $pick('appkey', 'WDT_APPKEY', 'demo-key'),
        'appsecret' => $pick('appsecret', 'WDT_APPSECRET', 'demo-secret:demo-salt'),
        'options' => $opts,
    ];
}

function wdt_load_sdk(array $s): void
{
    if (!is_file($s['sdk'])) {
        fwrite(STDERR, "vendor SDK not found at {$s['sdk']} (give --sdk=PATH or WDT_SDK)\n");
        exit(2);
    }
    require_once $s['sdk'];
    echo "PHP " . PHP_VERSION . ", SDK " . realpath($s['sdk'])
        . " (sha256 " . hash_file('sha256', $s['sdk']) . ")\n";
    echo "server base {$s['url']}, sid {$s['sid']}, appkey {$s['appkey']}\n\n";
}

/** Every script's start: its settings (common and `$extra` options), the SDK loaded. */
function wdt_start(array $extra = []): array
{
    $s = wdt_settings($extra);
    wdt_load_sdk($s);
    return $s;
}

/** A script's own option `--$name=VALUE`, else `$default`. */
function wdt_option(array $s, string $name, string $default): string
{
    return (string) ($s['options'][$name] ?? $default);
}

/** The client exactly as the vendor's demos build it: new WdtErpClient($url, $sid, $appkey, $appsecret). */
function wdt_client(array $s, ?string $appsecret = null, ?string $sid = null, ?string $appkey = null)
{
    return new WdtErpClient($s['url'], $sid ?? $s['sid'], $appkey ?? $s['appkey'],
        $appsecret ?? $s['appsecret']);
}

function show(string $label, $value): void
{
    echo $label . ': ' . json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES
        | JSON_PRESERVE_ZERO_FRACTION) . "\n";
}

/** Run $fn; return [result, null] or [null, exception]; print either. */
function attempt(string $label, callable $fn): array
{
    try {
        $result = $fn();
        show("$label -> ok", $result);
        return [$result, null];
    } catch (Throwable $e) {
        echo "$label -> " . get_class($e) . ' code=' . var_export($e->getCode(), true)
            . ' message=' . json_encode($e->getMessage(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)
            . "\n";
        return [null, $e];
    }
}

$GLOBALS['wdt_failed'] = 0;

function check(string $name, bool $ok, string $detail = ''): void
{
    echo "CHECK $name: " . ($ok ? 'PASS' : 'FAIL') . ($detail === '' ? '' : " $detail") . "\n";
    if (!$ok) {
        $GLOBALS['wdt_failed']++;
    }
}

function finish(): void
{
    $failed = $GLOBALS['wdt_failed'];
    echo $failed ? "\n$failed check(s) failed\n" : "\nall checks passed\n";
    exit($failed ? 1 : 0);
}

/** Expect $fn to throw WdtErpException with $status (and $message if given). */
function expect_error(string $name, callable $fn, int $status, ?string $message = null): void
{
    [, $e] = attempt($name, $fn);
    $ok = $e instanceof WdtErpException && $e->getCode() === $status
        && ($message === null || $e->getMessage() === $message);
    check($name, $ok, "expected WdtErpException $status" . ($message === null ? '' : " \"$message\""));
}
