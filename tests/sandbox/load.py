"""A busy machine for tests: `busy_cores()` keeps every core at 100 % with busy-loop processes
while its block runs (the load under which a wall-clock rehearsal used to miss market time)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

BUSY_LOOP = "while True: pass"


@contextlib.contextmanager
def busy_cores(count: int | None = None) -> Iterator[list[subprocess.Popen]]:
    """`count` busy-loop processes (default: one per core), killed when the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count or os.cpu_count() or 2)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


def still_busy(procs: list[subprocess.Popen]) -> bool:
    """Whether every busy loop was still running (the load really lasted)."""
    return all(proc.poll() is None for proc in procs)
