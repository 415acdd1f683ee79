"""`livegate status` as the ledger grows: a signed workspace at 1,748 and 100,000 events (and
1,000,000 with --large), against a bare Typer app with two commands, interleaved, the minimum
of --runs runs each. Status verifies incrementally from the signed checkpoint, so its cost should
not grow with the ledger (targets: <= 1.3x the bare app at 1k events, <= 1.5x at 1M).

Also, in-process and without start-up: the ledger check that `status` runs (incremental) beside
the full `ledger verify` on the same ledger.

    python benchmarks/bench_status_scale.py [--runs 7] [--large]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cli_startup import BARE_APP  # the same bare Typer app the start-up benchmark compares with (run from benchmarks/)


def build(root: Path, events: int, env: dict) -> Path:
    """A workspace signed with its own operator key, with a few decisions and `events` events."""
    run = dict(env=dict(env, LIVEGATE_KEY_DIR=str(root / "keys")), check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "livegate", "keys", "init"], **run)  # type: ignore[call-overload]
    subprocess.run([sys.executable, "-m", "livegate", "init", str(root / "ws")], **run)  # type: ignore[call-overload]
    os.environ["LIVEGATE_KEY_DIR"] = str(root / "keys")
    from livegate.ledger.keys import load_private
    from livegate.ledger.store import Ledger

    with Ledger.open(root / "ws" / ".livegate" / "ledger.db", key=load_private()) as ledger:
        ledger.append_many([("trading_halted", {"reason": "drill"}), ("trading_resumed", {"reason": "drill over"})])
        have = ledger.db.execute("SELECT count(*) FROM events").fetchone()[0]
        for start in range(have, events, 5000):
            ledger.append_many([("fill", {"n": i, "symbol": "BTC/USDT", "qty": 0.001, "price": 50_000 + i % 997})
                                for i in range(start, min(start + 5000, events))])
    return root


def once(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--large", action="store_true", help="add a 1,000,000-event workspace (takes a minute to build)")
    args = parser.parse_args()
    sizes = [1_748, 100_000] + ([1_000_000] if args.large else [])

    with tempfile.TemporaryDirectory() as tmp:
        # byte-code cached for both sides alike, outside the checkout
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(NO_COLOR="1", PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        spaces = {n: build(Path(tmp) / f"ws{n}", n, env) for n in sizes}
        commands = {"bare app: first --json": ([sys.executable, str(bare), "first", "--json"], env)}
        for n, root in spaces.items():
            commands[f"status --json, {n:,} events"] = (
                [sys.executable, "-m", "livegate", "-w", str(root / "ws"), "status", "--json"],
                dict(env, LIVEGATE_KEY_DIR=str(root / "keys")))
        for cmd, cmd_env in commands.values():  # warm: byte-code, page cache, the first (full) verify
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=cmd_env)
        best = dict.fromkeys(commands, float("inf"))
        for _ in range(args.runs):  # interleaved: a busy moment on the shared machine hits every side
            for name, (cmd, cmd_env) in commands.items():
                best[name] = min(best[name], once(cmd, cmd_env))

        from livegate.ledger.keys import load_public
        from livegate.ledger.verify import verify_at

        checks = {}
        for n, root in spaces.items():
            os.environ["LIVEGATE_KEY_DIR"] = str(root / "keys")
            path, public = root / "ws" / ".livegate" / "ledger.db", load_public()
            pair = []
            for incremental in (True, False):
                seconds = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    report = verify_at(path, public, incremental=incremental)
                    seconds = min(seconds, time.perf_counter() - start)
                assert report.ok, report.problems
                pair.append(seconds)
            checks[n] = pair

    reference = best["bare app: first --json"]
    print(f"{'':34} {'min of ' + str(args.runs):>10}  vs bare app")
    for name, seconds in best.items():
        print(f"{name:<34} {seconds * 1000:8.1f} ms  {seconds / reference:5.2f}x")
    small, big = f"status --json, {sizes[0]:,} events", f"status --json, {sizes[-1]:,} events"
    print(f"growth {sizes[0]:,} -> {sizes[-1]:,} events: {best[big] / best[small]:.2f}x (flat: 1.00x)")
    print(f"\n{'ledger check, in-process':34} {'status':>10} {'ledger verify':>14}")
    for n, (incremental, full) in checks.items():
        print(f"{f'{n:,} events':<34} {incremental * 1000:7.1f} ms {full * 1000:11.1f} ms")


if __name__ == "__main__":
    main()
