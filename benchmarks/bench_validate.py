"""`livegate validate` against the local sandbox, end to end in a fresh process (target < 3 s
wall), then the emulator's signed-order throughput (target >= 2,000/s, bench_sandbox_orders.py).

    python benchmarks/bench_validate.py [--runs 3] [--chain]

`--chain` also starts the local chain (anvil, or the eth-tester fallback) and enables it in
the workspace, so the RPC, chain-id and signer checks run too."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chain", action="store_true", help="check the local chain too")
    args = parser.parse_args()
    from livegate.adapters.sandbox.configure import write_workspace
    from livegate.adapters.sandbox.local import LocalSandbox
    from livegate.config.workspace import Workspace, scaffold

    with LocalSandbox(chain=args.chain) as sandbox, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        scaffold(root)
        write_workspace(Workspace(root), sandbox.info())  # what `sandbox serve --write-config` does
        env = dict(os.environ, LIVEGATE_KEY_DIR=str(Path(tmp) / "keys"))
        argv = [sys.executable, "-m", "livegate", "-w", str(root), "validate"]
        walls, code = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env=env)
            walls.append(time.perf_counter() - t0)
            code = proc.returncode
        if code != 0:
            print(proc.stdout + proc.stderr)
    wall = statistics.median(walls)
    print(f"livegate validate (17 checks{', chain on' if args.chain else ''}; exit {code}): median {wall:.2f} s wall over "
          f"{args.runs} runs (target < {TARGET_S:g} s) -> {'OK' if wall < TARGET_S else 'MISSED'}; load average {os.getloadavg()[0]:.2f}")
    sys.stdout.flush()
    here = Path(__file__).with_name("bench_sandbox_orders.py")
    return subprocess.run([sys.executable, str(here)]).returncode


if __name__ == "__main__":
    sys.exit(main())
