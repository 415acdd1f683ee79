"""A replay of 525,600 one-minute bars from a CSV file (`paper-run --replay FILE`: the paper
engine with the EMA strategy, the full risk guardian and breakers, journaled to the ledger)
against the bare CPython loop over the same file (csv module, EMA cross, fill at the close),
interleaved, the minimum of --runs runs each. Target: <= 4x. Also prints the ledger's share of
the replay and its peak memory.

    python benchmarks/bench_replay_vs_loop.py [--bars 525600] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0_MS = 1_704_067_200_000

REPLAY = '''
import resource, sys, time
from pathlib import Path
from livegate.config.workspace import Workspace
from livegate.phases.paper.run import PaperRunner, RunPlan
runner = PaperRunner(Workspace(Path(sys.argv[1])), RunPlan("backtest", days=None, replay=[sys.argv[2]], symbols=["BTC/USDT"]))
start = time.perf_counter()
outcome = runner.run()
print(time.perf_counter() - start, outcome.journal_seconds, outcome.bars, len(outcome.engine.gateway.trades),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
'''


def write_bars(path: Path, bars: int) -> None:
    """A seeded random walk of one-minute bars, in the CSV layout `paper-run --replay` reads."""
    rnd, price = random.Random(7), 40_000.0
    with path.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for i in range(bars):
            open_ = price
            price *= 1 + rnd.gauss(0, 0.001)
            fh.write(f"{T0_MS + i * 60_000},{open_:.2f},{max(open_, price) * 1.0003:.2f},"
                     f"{min(open_, price) * 0.9997:.2f},{price:.2f},{rnd.random() * 10:.4f}\n")


def bare_loop(path: Path) -> tuple[float, int]:
    """The reference: read the CSV, EMA(12)/EMA(26) cross, fill at the close with a 0.1 % fee."""
    fast_k, slow_k = 2 / 13, 2 / 27
    fast = slow = 0.0
    cash, qty, fee, trades, first = 10_000.0, 0.0, 0.001, 0, True
    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        for row in rows:
            close = float(row[4])
            if first:
                fast = slow = close
                first = False
                continue
            was_above = fast > slow
            fast += fast_k * (close - fast)
            slow += slow_k * (close - slow)
            if fast > slow and not was_above and qty == 0.0:
                qty = cash * 0.1 / close
                cash -= qty * close * (1 + fee)
                trades += 1
            elif fast < slow and was_above and qty > 0.0:
                cash += qty * close * (1 - fee)
                qty = 0.0
                trades += 1
    return cash, trades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from livegate.config.workspace import scaffold

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.csv"
        write_bars(data, args.bars)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(NO_COLOR="1", PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), LIVEGATE_KEY_DIR=str(Path(tmp) / "keys"))
        loop, replay, journal, rss = float("inf"), float("inf"), 0.0, 0
        for run in range(args.runs):  # interleaved: a busy moment on the shared machine hits both
            start = time.perf_counter()
            bare_loop(data)
            loop = min(loop, time.perf_counter() - start)
            root = Path(tmp) / f"ws{run}"  # a fresh workspace each run: every replay starts from the same ledger
            scaffold(root)
            out = subprocess.run([sys.executable, "-c", REPLAY, str(root), str(data)], capture_output=True, text=True, env=env, check=True)
            seconds, journal_s, bars, trades, peak = out.stdout.split()
            if float(seconds) < replay:
                replay, journal, rss = float(seconds), float(journal_s), int(peak)

    print(f"bars: {int(bars):,}, trades: {int(trades):,}")
    print(f"bare CPython loop (csv, EMA cross, fill)   {loop:6.2f} s   1.00x")
    print(f"livegate replay (paper-run --replay FILE)  {replay:6.2f} s   {replay / loop:.2f}x   (target <= 4x; min of {args.runs})")
    print(f"  of which ledger writes                    {journal:6.2f} s   ({100 * journal / replay:.0f} % of the replay)")
    print(f"  peak memory of the replay process        {rss / 2**20:6.0f} MB")


if __name__ == "__main__":
    main()
