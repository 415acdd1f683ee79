"""The live lock: one live process per workspace (`.livegate/live.lock`, an exclusive flock held
for as long as a go-live stage trades). The file names its holder (`<pid> <stage>`), so other
commands can say which stage is running: while one is, no other step's result is recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError

LOCK_FILE = "live.lock"


@dataclass(frozen=True)
class Holder:
    pid: str
    stage: str  # "" when the holder did not say

    def describe(self) -> str:
        return f"go-live stage {self.stage} (pid {self.pid})" if self.stage else f"a live process (pid {self.pid})"


def _holder(fd: int) -> Holder:
    words = os.pread(fd, 64, 0).decode(errors="replace").split()
    return Holder(words[0] if words else "unknown", words[1] if len(words) > 1 else "")


@contextmanager
def live_lock(ws: Workspace, stage: str = "") -> Iterator[None]:
    """Hold `.livegate/live.lock` (an exclusive, non-blocking flock) for the block, naming this
    process and `stage` in it: a second live process on the same workspace gets a UsageError
    naming the pid that holds it."""
    import fcntl

    path = ws.state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        running = f", go-live stage {holder.stage}" if holder.stage else ""
        raise UsageError(f"another live process (pid {holder.pid}{running}) is running on this workspace ({path} is locked); "
                         "stop it first") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {stage}".strip().encode() + b"\n", 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def live_holder(ws: Workspace) -> Holder | None:
    """Who holds the live lock now, or None. Only a lock file that names a holder is probed (its
    holder empties it on release), and the probe is a shared lock dropped at once."""
    import fcntl

    try:
        fd = os.open(ws.state_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        holder = _holder(fd)
        if holder.pid == "unknown":
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # a holder that died without emptying the file
    finally:
        os.close(fd)
