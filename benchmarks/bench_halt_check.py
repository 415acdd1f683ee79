"""`modes.halted_reason`, the check before every order. Target (issue 7): < 50 µs per call
when the ledger did not change. Also printed: a call right after another process appended an
event (the halt/mode events are read again), and a halt seen on the very next call.

Run: python benchmarks/bench_halt_check.py [--calls N]"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()

    from livegate.config.workspace import Workspace, scaffold
    from livegate.services import controls, mode_switch, modes

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        scaffold(ws.root)
        for i in range(200):  # some history, as a workspace that has been used
            mode_switch.append(ws, [("note", {"i": i})], "bench")
        assert modes.halted_reason(ws) is None

        t0 = time.perf_counter()
        for _ in range(args.calls):
            modes.halted_reason(ws)
        unchanged_us = (time.perf_counter() - t0) / args.calls * 1e6

        changed = []
        for i in range(200):
            mode_switch.append(ws, [("note", {"i": i})], "bench")
            t0 = time.perf_counter()
            modes.halted_reason(ws)
            changed.append(time.perf_counter() - t0)
        changed_us = sorted(changed)[len(changed) // 2] * 1e6

        subprocess.run([sys.executable, "-m", "livegate", "-w", str(ws.root), "halt", "--reason", "bench"],
                       check=True, capture_output=True)
        seen = modes.halted_reason(ws) is not None
        controls.resume(ws, "bench")

    print(f"halted_reason, ledger unchanged: {unchanged_us:.2f} µs per call ({args.calls:,} calls; target < 50 µs)")
    print(f"halted_reason, after an append:  {changed_us:.1f} µs (median of 200)")
    print(f"halt from another process seen on the next call: {'yes' if seen else 'NO'}")
    if unchanged_us >= 50 or not seen:
        sys.exit(1)


if __name__ == "__main__":
    main()
