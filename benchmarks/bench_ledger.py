"""Ledger speed: append 100,000 events, then `verify` them.

Prints events/s for appends (single and batched) and for verification, and the ratio of
verification time to hashing the same bytes with hashlib alone (target <= 3x).

    python benchmarks/bench_ledger.py [--events 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
import time
from pathlib import Path

from livegate.ledger.keys import init_key
from livegate.ledger.store import Ledger
from livegate.ledger.verify import verify_ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=5_000, help="events appended one transaction each")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs; the best is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        key = init_key(Path(tmp) / "key")
        db = Path(tmp) / "ledger.db"
        ledger = Ledger.create(db)
        ledger = Ledger.open(db, key=key)

        payload = lambda i: {"symbol": "BTC/USDT", "side": "buy" if i % 2 else "sell", "qty": 0.001 * (i % 7 + 1), "price": 50_000 + i % 997, "fee": 0.05, "order": f"lg-{i:08d}"}  # noqa: E731
        start = time.perf_counter()
        for i in range(args.single):
            ledger.append("fill", payload(i))
        single = time.perf_counter() - start

        start = time.perf_counter()
        remaining, i = args.events - args.single, args.single
        while remaining > 0:
            n = min(1000, remaining)
            ledger.append_many([("fill", payload(j)) for j in range(i, i + n)])
            i, remaining = i + n, remaining - n
        batched = time.perf_counter() - start
        ledger.close()

        conn = sqlite3.connect(db)
        verify_s = float("inf")
        for _ in range(args.repeat):  # best of N, as timeit does: the machine is shared
            start = time.perf_counter()
            report = verify_ledger(conn, key.public)
            verify_s = min(verify_s, time.perf_counter() - start)
        assert report.ok, report.problems

        bodies = [row[0] for row in conn.execute("SELECT CAST(record AS BLOB) FROM events ORDER BY id")]
        sha256 = hashlib.sha256
        hash_only = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for body in bodies:
                sha256(body).hexdigest()
            hash_only = min(hash_only, time.perf_counter() - start)
        total = report.events

    print(f"append, one transaction each : {args.single / single:,.0f} events/s ({args.single:,} events, head signed each time)")
    print(f"append, batches of 1000      : {(args.events - args.single) / batched:,.0f} events/s")
    print(f"verify (best of {args.repeat})            : {total / verify_s:,.0f} events/s ({total:,} events in {verify_s:.3f} s)")
    print(f"hashlib alone, same bytes    : {total / hash_only:,.0f} events/s ({hash_only:.3f} s)")
    print(f"verify / hashlib ratio       : {verify_s / hash_only:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
