"""Anchors: the ledger's head written outside the workspace, so a rolled-back, truncated or
replaced ledger is caught even when every hash in it is consistent.

After every append, the writer records the head (last event id and hash, and the last signed
id) in `<key directory>/anchors/<workspace>.json`, next to the operator key, where someone who
can only write the workspace cannot reach. The operator may name witnesses (`ledger anchor
--witness DIR`): a directory that receives the same file at every signed head that opens a gate
and when a writer closes; when the directory is a git repository, each head is also a commit,
which the operator can push anywhere.

`check(conn, anchor)` compares a ledger with an anchor: the anchored event must be in the
ledger with the anchored hash. An anchor is only ever moved forward; it is read before the
ledger is (an append lands in the ledger before its anchor does), so a verify that runs while
another process appends never mistakes the newer anchor for a rollback."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ANCHOR_DIR = "anchors"
GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Anchor:
    """One anchored head: where it is kept and what it says."""

    where: str  # the anchor file
    workspace: str
    ledger_id: str  # hash of the ledger's first event: a different ledger at the same path
    last_id: int
    last_hash: str
    signed_id: int | None
    at: str
    witnesses: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"#{self.last_id} ({self.last_hash[:12]}…, recorded {self.at[:19]}Z) in {self.where}"


@lru_cache(maxsize=64)
def _resolved(ledger_path: Path) -> tuple[str, str]:
    """(anchor file name, workspace path) of a ledger path, worked out once per process. The path
    is made absolute but symbolic links are NOT followed: whoever can write the workspace cannot
    move the ledger's anchor by making `ledger.db` (or `.livegate`) a link to another file."""
    root = Path(os.path.realpath(ledger_path.parent.parent))  # one name however the workspace is reached ...
    full = root / ledger_path.parent.name / ledger_path.name  # ... but its own `.livegate/ledger.db` never followed
    return hashlib.sha256(str(full).encode()).hexdigest()[:24] + ".json", str(root)


def anchor_name(ledger_path: Path) -> str:
    """One anchor per workspace: named by the ledger's absolute path (a copy of a workspace at
    another path has its own)."""
    return _resolved(ledger_path)[0]


def anchor_file(key_directory: Path, ledger_path: Path) -> Path:
    return key_directory / ANCHOR_DIR / anchor_name(ledger_path)


def _parse(path: Path, data: Any) -> Anchor | None:
    try:
        return Anchor(where=str(path), workspace=str(data["workspace"]), ledger_id=str(data["ledger_id"]),
                      last_id=int(data["last_id"]), last_hash=str(data["last_hash"]),
                      signed_id=None if data.get("signed_id") is None else int(data["signed_id"]),
                      at=str(data.get("at", "")), witnesses=tuple(str(w) for w in data.get("witnesses", ())))
    except (KeyError, TypeError, ValueError):
        return None


class AnchorUnreadable(ValueError):
    """An anchor file exists and cannot be read: treated as a failed check, never as absent."""


def read_anchor(path: Path) -> Anchor | None:
    """The anchor at `path`, None when there is none; AnchorUnreadable when it is damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorUnreadable(f"the anchor {path} cannot be read ({exc.strerror})") from None
    try:
        anchor = _parse(path, json.loads(raw))
    except ValueError:
        anchor = None
    if anchor is None:
        raise AnchorUnreadable(f"the anchor {path} is damaged (not a livegate anchor)")
    return anchor


def _write_json(path: Path, data: dict[str, Any], durable: bool) -> os.stat_result:
    """Write `data` to `path` whole (a temporary file renamed over it); its stat."""
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(data, sort_keys=True) + "\n").encode())
        if durable:
            os.fsync(fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return st


# what this process last wrote to each anchor file: (its stat identity, the anchor) — when the file
# still has that identity, nobody else moved it and it need not be read again
_written: dict[Path, tuple[tuple[int, int, int], Anchor]] = {}


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_ino, st.st_mtime_ns, st.st_size


def record(key_directory: Path, ledger_path: Path, head: dict[str, Any], durable: bool,
           conn: sqlite3.Connection) -> Anchor | None:
    """Move the workspace's anchor forward to `head` ({ledger_id, last_id, last_hash, signed_id,
    at}) — only when the ledger on `conn` still holds the anchored event with the anchored hash:
    an anchor the ledger contradicts (rolled back, replaced, another ledger) or that cannot be
    read stays as it is, so every check keeps failing until the operator decides (`ledger anchor
    --reset`). Never moved backward either. Returns the anchor now on disk. Only where the key
    directory exists: a machine without one keeps none."""
    name, workspace = _resolved(ledger_path)
    folder = key_directory / ANCHOR_DIR
    path = folder / name
    lock = _locks.get(path)
    if lock is None:
        if not key_directory.is_dir():
            return None
        folder.mkdir(mode=0o700, exist_ok=True)
        lock = _locks[path] = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # two writers (processes) move it one at a time: never backward
    try:
        return _record_locked(path, workspace, head, durable, conn)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


_locks: dict[Path, int] = {}


def _record_locked(path: Path, workspace: str, head: dict[str, Any], durable: bool, conn: sqlite3.Connection) -> Anchor | None:
    try:
        current: tuple[int, int, int] | None = _identity(os.stat(path))
    except FileNotFoundError:
        current = None
    mine = _written.get(path)
    if mine is not None and mine[0] == current:
        old: Anchor | None = mine[1]
    else:
        try:
            old = read_anchor(path)
        except AnchorUnreadable:
            return None  # damaged: left for the operator (every check reports it)
    if old is not None:
        if check(conn, old) is not None:
            return old  # the ledger contradicts its anchor: nothing moves it on
        if old.last_id >= head["last_id"]:
            return old
    return _write_anchor(path, dict(head, workspace=workspace, witnesses=list(old.witnesses) if old is not None else []),
                         durable)


def _write_anchor(path: Path, data: dict[str, Any], durable: bool) -> Anchor | None:
    st = _write_json(path, data, durable)
    anchor = _parse(path, data)
    if anchor is not None:
        _written[path] = (_identity(st), anchor)
    return anchor


def reset(key_directory: Path, ledger_path: Path, head: dict[str, Any]) -> Anchor | None:
    """Bind the workspace's anchor to the ledger as it is now (`ledger anchor --reset`: the
    operator's decision after a power cut lost the last events, or for a workspace moved or
    started over). Witnesses named before are kept."""
    path = anchor_file(key_directory, ledger_path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        old = read_anchor(path)
    except AnchorUnreadable:
        old = None
    return _write_anchor(path, dict(head, workspace=_resolved(ledger_path)[1],
                                    witnesses=list(old.witnesses) if old is not None else []), durable=True)


def add_witness(key_directory: Path, ledger_path: Path, witness: Path) -> None:
    """Name `witness` (a directory) for this workspace's anchor."""
    path = anchor_file(key_directory, ledger_path)
    anchor = read_anchor(path)
    if anchor is None:
        raise AnchorUnreadable(f"no anchor for this workspace yet in {path.parent}: it is written at the next append "
                               "on this machine (e.g. `livegate keys init` in the workspace, or any phase command)")
    data = {"workspace": anchor.workspace, "ledger_id": anchor.ledger_id, "last_id": anchor.last_id,
            "last_hash": anchor.last_hash, "signed_id": anchor.signed_id, "at": anchor.at,
            "witnesses": sorted({*anchor.witnesses, str(witness.resolve())})}
    _write_json(path, data, durable=True)


def witness_file(witness: Path, ledger_path: Path) -> Path:
    return witness / anchor_name(ledger_path)


def write_witnesses(anchor: Anchor, ledger_path: Path) -> list[str]:
    """Copy `anchor` to each of its witnesses (a git repository gets a commit); the problems."""
    problems = []
    data = {"workspace": anchor.workspace, "ledger_id": anchor.ledger_id, "last_id": anchor.last_id,
            "last_hash": anchor.last_hash, "signed_id": anchor.signed_id, "at": anchor.at}
    for witness in anchor.witnesses:
        folder = Path(witness)
        target = witness_file(folder, ledger_path)
        try:
            current = read_anchor(target)
            if current is not None and current.ledger_id == anchor.ledger_id and current.last_id >= anchor.last_id:
                continue
            _write_json(target, data, durable=True)
            if (folder / ".git").exists():
                _git_commit(folder, target.name, f"livegate head #{anchor.last_id} {anchor.last_hash[:12]} of {anchor.workspace}")
        except (OSError, AnchorUnreadable, subprocess.SubprocessError) as exc:
            problems.append(f"witness {witness}: {exc}")
    return problems


def _git_commit(folder: Path, name: str, message: str) -> None:
    base = ["git", "-C", str(folder), "-c", "user.name=livegate", "-c", "user.email=livegate@localhost",
            "-c", "commit.gpgsign=false"]
    run = dict(check=True, capture_output=True, timeout=GIT_TIMEOUT_S)
    subprocess.run([*base, "add", "--", name], **run)  # type: ignore[call-overload]
    subprocess.run([*base, "commit", "-q", "-m", message, "--", name], **run)  # type: ignore[call-overload]


def anchors_of(key_directory: Path, ledger_path: Path) -> list[Anchor | AnchorUnreadable]:
    """The key directory's anchor of this workspace and its witnesses' copies (missing ones left
    out; damaged ones as AnchorUnreadable)."""
    found: list[Anchor | AnchorUnreadable] = []
    try:
        main = read_anchor(anchor_file(key_directory, ledger_path))
    except AnchorUnreadable as exc:
        return [exc]
    if main is None:
        return found
    found.append(main)
    for witness in main.witnesses:
        try:
            copy = read_anchor(witness_file(Path(witness), ledger_path))
        except AnchorUnreadable as exc:
            found.append(exc)
            continue
        if copy is not None:
            found.append(copy)
    return found


def ledger_id(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT hash FROM events WHERE id = 1").fetchone()
    return row[0] if row else None


_read_cache: dict[Path, tuple[tuple[int, int, int], Anchor]] = {}


def contradiction(key_directory: Path, ledger_path: Path, conn: sqlite3.Connection) -> str | None:
    """Why the ledger on `conn` contradicts the workspace's anchor (rolled back, truncated,
    replaced), or None — also None when there is no anchor on this machine. A damaged anchor is
    a contradiction (it cannot vouch for anything). For every order's halt check: one `stat`
    and one row while the anchor file is unchanged. Read before `conn`'s rows, like every check."""
    return contradiction_at(anchor_file(key_directory, ledger_path), conn)


def contradiction_at(path: Path, conn: sqlite3.Connection) -> str | None:
    """`contradiction` with the anchor's path already known (`anchor_file`): the halt check
    names it once per connection, not before every order."""
    try:
        ident = _identity(os.stat(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"the anchor {path} cannot be checked ({exc.strerror})"
    known = _written.get(path) or _read_cache.get(path)
    if known is not None and known[0] == ident:
        anchor = known[1]
    else:
        try:
            found = read_anchor(path)
        except AnchorUnreadable as exc:
            return str(exc)
        if found is None:
            return None
        anchor = found
        _read_cache[path] = (ident, anchor)
    return check(conn, anchor)


def check(conn: sqlite3.Connection, anchor: Anchor) -> str | None:
    """Why the ledger on `conn` does not agree with `anchor`, or None."""
    first = ledger_id(conn)
    if first != anchor.ledger_id:
        return (f"this is not the ledger anchored for this workspace ({anchor.where} records another ledger): "
                "the ledger was replaced; if you started it over on purpose, move that anchor file away")
    row = conn.execute("SELECT CAST(record AS BLOB) FROM events WHERE id = ?", (anchor.last_id,)).fetchone()
    row = None if row is None else (hashlib.sha256(row[0]).hexdigest(),)  # the record's own hash, not the stored column
    if row is None:
        last = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        return (f"the ledger ends at #{last} but #{anchor.last_id} was recorded on {anchor.at[:19]}Z "
                f"(anchor {anchor.where}): rolled back or truncated")
    if row[0] != anchor.last_hash:
        return (f"event #{anchor.last_id} differs from the one anchored on {anchor.at[:19]}Z (anchor {anchor.where}): "
                "the ledger's history was replaced")
    return None


def suppress_errors() -> contextlib.AbstractContextManager[None]:
    """Anchoring never undoes or stops an append that already committed: an anchor that could
    not be moved stays at an older head (the next check is weaker, never wrong)."""
    return contextlib.suppress(OSError)
