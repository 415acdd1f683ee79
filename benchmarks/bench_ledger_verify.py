"""`livegate ledger verify` on a signed workspace of 1,000,000 events, against reading the same
rows with sqlite3 and hashing each with hashlib (a Python process of its own, so start-up counts
on both sides), interleaved, the minimum of --runs runs each. Target: <= 2x.

    python benchmarks/bench_ledger_verify.py [--events 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_status_scale import build  # the same signed workspace the status benchmark builds (run from benchmarks/)

REFERENCE = '''
import hashlib, sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
sha256 = hashlib.sha256
n = 0
for _id, record, _digest in conn.execute("SELECT id, record, hash FROM events ORDER BY id"):
    sha256(record.encode("utf-8")).hexdigest()
    n += 1
print(n)
'''


def once(cmd: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - start, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(NO_COLOR="1", PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        root = build(Path(tmp) / "ws", args.events, env)
        env["LIVEGATE_KEY_DIR"] = str(root / "keys")
        ledger = root / "ws" / ".livegate" / "ledger.db"
        commands = {
            "sqlite3 rows + hashlib": [sys.executable, "-c", REFERENCE, str(ledger)],
            "livegate ledger verify": [sys.executable, "-m", "livegate", "-w", str(root / "ws"), "ledger", "verify"],
        }
        for cmd in commands.values():  # warm: byte-code and page cache alike
            once(cmd, env)
        best = dict.fromkeys(commands, float("inf"))
        for _ in range(args.runs):  # interleaved: a busy moment on the shared machine hits both
            for name, cmd in commands.items():
                seconds, out = once(cmd, env)
                best[name] = min(best[name], seconds)
        assert "hash chain intact" in out, out

    reference = best["sqlite3 rows + hashlib"]
    print(f"{args.events:,} events{'':13} min of {args.runs}   vs reference")
    for name, seconds in best.items():
        print(f"{name:<28} {seconds:7.2f} s   {seconds / reference:5.2f}x")
    print("target: ledger verify <= 2x")


if __name__ == "__main__":
    main()
