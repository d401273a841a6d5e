#!/bin/sh
# Run every check in order against a freshly created demo seller; stop at nothing, report all.
#   WDT_SDK=/path/to/wdtsdk.php WDT_URL=http://127.0.0.1:8000 sh run_all.sh [OUT_DIR]
# Each script's output goes to the terminal and, given OUT_DIR, to OUT_DIR/<script>.txt.
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-}
[ -n "$out" ] && mkdir -p "$out"
failed=0
for script in 01_calc_stock 02_reads 03_errors 04_sync_loop 05_acks 06_constructor_forms; do
    echo "===== $script.php"
    if [ -n "$out" ]; then
        php "$here/$script.php" > "$out/$script.txt" 2>&1; rc=$?
        cat "$out/$script.txt"
    else
        php "$here/$script.php"; rc=$?
    fi
    echo "===== $script.php exit $rc"
    [ $rc -eq 0 ] || failed=$((failed + 1))
done
echo "$failed script(s) with failed checks"
[ $failed -eq 0 ]
