"""A small run (`paper-run --days 1 --replay builtin:btc-1m`, in-process) the first time in a
workspace — when the 203-scenario stress test runs — beside the next run under the same
configuration, which reuses the recorded stress result; interleaved, a fresh workspace per
round, the minimum of --runs rounds. A result that can count for the paper gate (a forward run,
`paper-import --as-paper-result`) always runs the scenarios itself.

    python benchmarks/bench_stress_reuse.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def small_run(root: Path) -> tuple[float, bool]:
    from livegate.config.workspace import Workspace
    from livegate.phases.paper.report import run_report
    from livegate.phases.paper.run import PaperRunner, RunPlan

    ws = Workspace(root)
    start = time.perf_counter()
    outcome = PaperRunner(ws, RunPlan("backtest", days=1, replay=["builtin:btc-1m"])).run()
    report = run_report(ws, outcome, key=None, trials=1)
    return time.perf_counter() - start, bool(report["stress"].get("cached"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from livegate.config.workspace import scaffold

    first = second = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LIVEGATE_KEY_DIR"] = str(Path(tmp) / "keys")
        for run in range(args.runs):
            root = Path(tmp) / f"ws{run}"
            scaffold(root)
            seconds, cached = small_run(root)
            assert not cached
            first = min(first, seconds)
            seconds, cached = small_run(root)
            assert cached
            second = min(second, seconds)

    print(f"small run, stress test run        {first:6.2f} s")
    print(f"small run, stress result reused   {second:6.2f} s   ({first - second:.2f} s saved; min of {args.runs})")


if __name__ == "__main__":
    main()
