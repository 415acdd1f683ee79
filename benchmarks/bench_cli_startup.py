"""Start-up cost: `livegate --help` against a bare Typer app's `--help` (target: <= 1.2x), and
`livegate status` on an unsigned workspace of 10,000 ledger events (no operator key, so every
call verifies the whole ledger) against the bare app's command, interleaved, the minimum of
--runs runs each. Also reports whether ccxt, web3 or numpy were imported. `status` on a signed
workspace, as it grows to 1,000,000 events, is `bench_status_scale.py`.

    python benchmarks/bench_cli_startup.py [--runs 15] [--events 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = '''
import typer
app = typer.Typer()
@app.command()
def first(as_json: bool = typer.Option(False, "--json")):
    print("first")
@app.command()
def second(as_json: bool = typer.Option(False, "--json")):
    print("second")
app()
'''

PROBE = '''
import sys
sys.argv = ["livegate"] + sys.argv[1:]
from livegate.cli import app
try:
    app()
except SystemExit:
    pass
heavy = [m for m in ("ccxt", "web3", "numpy") if m in sys.modules]
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
'''


def timed(commands: dict[str, list[str]], runs: int, env: dict) -> dict[str, float]:
    """The minimum of `runs` runs of each command, interleaved (a busy moment hits every side)."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()

    from livegate.config.workspace import scaffold
    from livegate.ledger.store import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        scaffold(ws)
        with Ledger.open(ws / ".livegate" / "ledger.db") as ledger:
            for start in range(0, args.events - 1, 1000):
                ledger.append_many([("fill", {"n": i, "symbol": "BTC/USDT", "qty": 0.001, "price": 50_000 + i}) for i in range(start, min(start + 1000, args.events - 1))])
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        env = dict(os.environ, NO_COLOR="1", LIVEGATE_KEY_DIR=str(Path(tmp) / "keys"))
        py = sys.executable
        subprocess.run([py, "-m", "livegate", "-w", str(ws), "status"], check=True, env=env, stdout=subprocess.DEVNULL)  # warm the cache

        results = timed({
            "bare --help": [py, str(bare), "--help"],
            "bare first --json": [py, str(bare), "first", "--json"],
            "livegate --help": [py, "-m", "livegate", "--help"],
            "livegate status": [py, "-m", "livegate", "-w", str(ws), "status"],
            "livegate status --json": [py, "-m", "livegate", "-w", str(ws), "status", "--json"],
        }, args.runs, env)
        heavy = {}
        for label, argv in (("--help", ["--help"]), ("status", ["-w", str(ws), "status"])):
            probe = subprocess.run([py, "-c", PROBE, *argv], capture_output=True, text=True, env=env)
            heavy[label] = next((line.split("=", 1)[1] for line in probe.stderr.splitlines() if line.startswith("HEAVY=")), "?") or "none"

    for name, seconds in results.items():
        print(f"{name:<22} {seconds * 1000:7.1f} ms (min of {args.runs})")
    print(f"--help ratio           {results['livegate --help'] / results['bare --help']:.2f}x the bare app's --help (target <= 1.2x)")
    print(f"status ratio           {results['livegate status'] / results['bare first --json']:.2f}x the bare app's command "
          f"(unsigned, {args.events:,} events verified in full on every call)")
    print(f"status --json ratio    {results['livegate status --json'] / results['bare first --json']:.2f}x (no rich table: the table's own cost "
          "shows as the difference)")
    for label, mods in heavy.items():
        print(f"heavy imports, {label:<8} {mods}")


if __name__ == "__main__":
    main()
