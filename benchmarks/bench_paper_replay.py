"""Replay of one year of one-minute bars (525,600) through the paper engine with the EMA
strategy and the full risk guardian and breakers, journaled to the ledger.

Target (issue "Phase 2a"): <= 3 s on the 2-core CI machine. Prints bars/s, the wall time of
the replay (data generation excluded and printed separately) and the share spent writing
the ledger.  Run: python benchmarks/bench_paper_replay.py"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

BARS = 525_600


def main() -> int:
    from livegate.config.workspace import Workspace, scaffold
    from livegate.phases.paper.run import PaperRunner, RunPlan

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        scaffold(root)
        ws = Workspace(root)
        t0 = time.perf_counter()
        from livegate.adapters.marketdata.synthetic import load_builtin

        load_builtin("btc-1m", BARS)
        gen = time.perf_counter() - t0
        days = BARS / 1440
        runner = PaperRunner(ws, RunPlan("backtest", days=days, replay=["builtin:btc-1m"]))
        t0 = time.perf_counter()
        outcome = runner.run()
        total = time.perf_counter() - t0
        replay = total - gen  # the run regenerates the data; subtract it
        print(f"bars replayed:        {outcome.bars:,}")
        print(f"synthetic generation: {gen:.2f} s")
        print(f"replay (engine+ledger): {replay:.2f} s  -> {outcome.bars / replay:,.0f} bars/s   (target <= 3 s: {'met' if replay <= 3 else 'MISSED'})")
        print(f"ledger share:         {outcome.journal_seconds:.2f} s ({100 * outcome.journal_seconds / replay:.0f} % of the replay)")
        print(f"trades: {len(outcome.engine.gateway.trades):,}  orders/fills journaled: see ledger")
    return 0


if __name__ == "__main__":
    sys.exit(main())
