"""The vendor's own PHP SDK, unchanged, against a fresh demo served by `stocksync serve`:
`examples/vendor-sdk/run_all.sh` (calcStock against the documented example, the paged reads,
the error answers, the whole loop and a stocktake, the acks) must pass every check.

The SDK (`wdtsdk.php`) is the vendor's and is not shipped with stocksync: the test runs when
`WDT_SDK` names a copy of it and `php` is installed, and is skipped (with the reason) otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_server import serve_demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "vendor-sdk"
SDK = os.environ.get("WDT_SDK", "")


@pytest.mark.skipif(
    not (SDK and Path(SDK).is_file() and shutil.which("php")),
    reason="needs php and the vendor's wdtsdk.php named by WDT_SDK (not shipped)",
)
def test_the_vendor_php_sdk_passes_every_check(tmp_path: Path) -> None:
    with serve_demo(tmp_path, 1) as (_server, url):
        run = subprocess.run(
            ["sh", str(EXAMPLES / "run_all.sh")],
            env={**os.environ, "WDT_SDK": SDK, "WDT_URL": url},
            capture_output=True,
            text=True,
            timeout=300,
        )
    checks = [line for line in run.stdout.splitlines() if line.startswith("CHECK ")]
    failed = [line for line in checks if ": PASS" not in line]
    assert run.returncode == 0 and not failed, run.stdout[-4000:] + run.stderr[-2000:]
    assert len(checks) >= 35, run.stdout[-4000:]
    assert "0 script(s) with failed checks" in run.stdout
