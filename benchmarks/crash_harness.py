"""The crash harness at scale: `livegate testnet`, `livegate go-live` (stage 4.1a) and
`livegate trade` (production trading; both on the sandbox's step clock) killed with SIGKILL right after the venue accepted an order, KILLS times
each, every time resumed with the same command; then the venue's own order and fill record is
compared with the ledger. Prints one row per flow, side by side with the target (all zeros).

    python benchmarks/crash_harness.py [KILLS]      # default 12 per flow (36 kill points)

It runs the crash tests of the suite (tests/crash, tests/live/test_go_live_crash.py,
tests/live/test_trade_crash.py) with a longer kill sequence; they assert the same figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("kills", "venue_orders", "venue_fills", "adopted_after_kill", "doubled", "missing_fills", "phantom_fills",
           "differing_fills", "unapplied_fills", "resting")


def main() -> int:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    cycle = (1, 2, 3, 1, 4, 2, 5, 1, 3, 2, 6, 1)
    testnet = ",".join(str(min(n, 6)) for n in (cycle * 4)[:kills])
    golive = ",".join(str(n) for n in (cycle * 4)[:kills])
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "figures.jsonl"
        t0 = time.perf_counter()
        for tests, points in (("tests/crash/test_testnet_crash.py", testnet), ("tests/live/test_go_live_crash.py", golive),
                              ("tests/live/test_trade_crash.py", golive)):
            env = {**os.environ, "CRASH_HARNESS_KILLS": points, "CRASH_HARNESS_REPORT": str(report)}
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-4000:], done.stderr[-2000:])
                print(f"FAILED: {tests} with kills {points}")
                return 1
        rows = [json.loads(line) for line in report.read_text().splitlines()]
        elapsed = time.perf_counter() - t0
    print(f"{'flow':<14}" + "".join(f"{c:>19}" for c in COLUMNS))
    for row in rows:
        print(f"{row['flow']:<14}" + "".join(f"{row[c]:>19}" for c in COLUMNS))
    print(f"{'target':<14}" + "".join(f"{'-' if c in COLUMNS[:4] else 0:>19}" for c in COLUMNS))
    total = sum(r["kills"] for r in rows)
    bad = sum(r[c] for r in rows for c in COLUMNS[4:])
    print(f"\n{total} kill points in {elapsed:.0f} s; {bad} defects (doubled + missing + phantom + differing + unapplied + resting)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
