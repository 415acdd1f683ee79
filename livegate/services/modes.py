"""Trading modes (seed 004) and the kill switch as the ledger and the halt file record them,
with their history (seed 003 Phase 1): the read side. Switching — the guarded switch to a live
mode (seed 003 Phase 3), the automatic stop, appending the mode and kill-switch events, writing
and clearing the halt file — is `livegate.services.mode_switch`.

Both are read every time they are needed: `halted_reason` runs before every order, so it reads
the ledger through `queries.watched` (one read-only connection per ledger and thread) and
re-reads the events only when the ledger's head moved — a halt written by another process is
seen on the next call.

The kill switch is on while the ledger's latest halt/resume event is a halt, *or* while the
halt file `.livegate/HALTED` exists (one `lstat` per check). `livegate halt` creates the file
before it writes the ledger, so a halt holds on a full disk or a read-only ledger; a halt the
file holds but the ledger does not yet is *pending*, and is recorded as soon as a livegate
process can write the ledger (`mode_switch.record_pending_halt`). Whether the file exists is
the signal; its content (one JSON line: reason, by, at — written on a full disk, the same in a
symbolic link's target) is best effort and may be missing. When whether it exists cannot be
told (a permission error, a broken path), the answer is an error: every order path refuses.

REDUCING (NautilusTrader's word) lies between trading and halted: only orders that reduce an open
position pass. A `reduce_only` event enters it — it closes, so it counts without the operator's
signature, like a halt — and the next counting `trading_resumed` (signed) lifts it, with any halt.
It is read in the same per-order read as the halt; a halt wins over it.

Events: `mode_changed` {from, to, reason, level?, risk_per_trade, max_exposure, checks?} ·
`trading_halted` {reason, halted_at?, recorded_late?, recorded_by?} · `trading_resumed` {reason} ·
`reduce_only` {reason, by, source}."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livegate.config.workspace import HALT_FILE, LEDGER_FILE, STATE_DIR, Workspace
from livegate.core.errors import LedgerError
from livegate.ledger import queries
from livegate.ledger.anchor import anchor_file, contradiction_at
from livegate.ledger.follow import ChainBroken, Follower
from livegate.ledger.keys import key_dir
from livegate.ledger.trust import carries_signature, chain_for, would_open

MODES = ("PAPER", "LIVE_MINIMAL", "LIVE_SCALED", "EMERGENCY_STOP")
LIVE_MODES = ("LIVE_MINIMAL", "LIVE_SCALED")
DEFAULT_MODE = "PAPER"
MODE_CHANGED, HALTED, RESUMED, REDUCE_ONLY = "mode_changed", "trading_halted", "trading_resumed", "reduce_only"
REDUCING_RULE = "only orders that reduce an open position pass"
SCALED_LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Limits:
    """What a mode allows: capital at risk per trade and total exposure, fractions of capital."""

    risk_per_trade: float
    max_exposure: float


# Seed 004: paper 0.5 % / 20 %; live minimal 0.1 % / 2 %; live scaled 0.25 → 0.5 → 1 % risk
# with exposure 5 → 10 % (the middle level halfway); an emergency stop allows nothing.
LIMITS: dict[tuple[str, int | None], Limits] = {
    ("PAPER", None): Limits(0.005, 0.20),
    ("LIVE_MINIMAL", None): Limits(0.001, 0.02),
    ("LIVE_SCALED", 1): Limits(0.0025, 0.05),
    ("LIVE_SCALED", 2): Limits(0.005, 0.075),
    ("LIVE_SCALED", 3): Limits(0.01, 0.10),
    ("EMERGENCY_STOP", None): Limits(0.0, 0.0),
}


def mode_label(mode: str, level: int | None = None) -> str:
    return f"{mode} level {level}" if level is not None else mode


# -- the halt file: `.livegate/HALTED` ------------------------------------------------------------

HALT_FILE_MAX_BYTES = 65536


@dataclass(frozen=True)
class HaltFile:
    """The halt file as found. `reason` and `by` are None when they could not be written (a full
    disk leaves the file empty) or read; `at` is its own, else the file's modification time."""

    reason: str | None
    by: str | None
    at: str

    def since(self) -> str:
        who = f" by {self.by}: {self.reason}" if self.by and self.reason else (
            f" by {self.by}" if self.by else f": {self.reason}" if self.reason else "; it names no one and no reason")
        return f"since {self.at[:19]}Z{who}"


class HaltStateUnreadable(LedgerError):
    """Whether trading is halted cannot be told (the halt file cannot be checked): no new order."""


_halt_file_paths: dict[Path, str] = {}


def halt_file_path(ws: Workspace) -> str:
    """The halt file's path as a string, built once per workspace (this runs before every order)."""
    path = _halt_file_paths.get(ws.root)
    if path is None:
        path = _halt_file_paths[ws.root] = str(ws.halt_file_path)
    return path


def halt_file(ws: Workspace) -> HaltFile | None:
    """The halt file, or None when there is none: one `lstat` (any directory entry named
    HALTED counts, even a dangling link). HaltStateUnreadable when whether it exists cannot be
    told — a permission error, a path that is not a directory."""
    path = halt_file_path(ws)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HaltStateUnreadable(f"cannot tell whether trading is halted: the halt file {path} cannot be checked "
                                  f"({type(exc).__name__}: {exc.strerror})") from None
    return _read_halt_file(path, st)


def _read_halt_file(path: str, st: os.stat_result) -> HaltFile:
    data: Any = None
    try:
        if stat.S_ISLNK(st.st_mode):  # written on a full disk: who and why are in the link's target
            data = json.loads(os.readlink(path))
        elif stat.S_ISREG(st.st_mode):  # never open a fifo or a device: a check must not block
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                raw = os.read(fd, HALT_FILE_MAX_BYTES)
            finally:
                os.close(fd)
            data = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        data = None  # the name is the signal; an unreadable reason does not lift the halt
    data = data if isinstance(data, dict) else {}

    def text(key: str) -> str | None:
        value = data.get(key)
        if not isinstance(value, str):
            return None
        return " ".join(value.split())[:500] or None

    made = datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return HaltFile(text("reason"), text("by"), text("at") or made)


# -- reading: through the ledger's watched connection, re-read only when its head moved ---------

@dataclass(frozen=True)
class _State:
    """The latest mode and halt/resume events of one ledger and what they say: `switch` while
    the kill switch is on in the ledger, `emergency` in EMERGENCY_STOP, `reason` both; `mode`;
    `reducing` while REDUCING is in force (its `reduce_only` event is `reduce_event`)."""

    mode_event: dict | None
    halt_event: dict | None
    switch: str | None
    emergency: str | None
    reason: str | None
    mode: str
    reduce_event: dict | None = None
    reducing: str | None = None


def _counts(conn, root: Path, event: dict) -> bool:
    """Whether a mode or halt event counts. What closes counts however it was written (a halt, a
    switch to EMERGENCY_STOP: they must never wait for a key); what opens — a resume, any other
    mode change — counts only with the operator's signature, so one written into the ledger by
    anyone without the key changes nothing."""
    return not would_open(event["kind"], event["payload"]) or carries_signature(conn, root, event)


def _latest_counting(conn, root: Path, kinds: tuple[str, ...]) -> dict | None:
    return next((e for e in queries.events(conn, kinds, descending=True) if _counts(conn, root, e)), None)


def latest_counting(conn, root: Path, kinds: tuple[str, ...]) -> dict | None:
    """The newest of these mode or halt events that counts (`_counts`), or None."""
    return _latest_counting(conn, root, kinds)


class _Followed:
    """What one thread's watched connection has read of a ledger's chain: the latest counting
    mode event and halt/resume event, each read once and checked (`ledger.follow`)."""

    def __init__(self) -> None:
        self.follower = Follower()
        self.mode_event: dict | None = None
        self.halt_event: dict | None = None
        self.reduce_event: dict | None = None  # the latest counting reduce_only / trading_resumed
        self.anchor: tuple[Path, Path] | None = None  # (the key directory, the anchor's path in it)

    def anchor_path(self, root: Path) -> Path:
        """The workspace's anchor file, named once per key directory (a rename of the workspace
        under a running process does not move the anchor it checks)."""
        keys = key_dir()
        if self.anchor is None or self.anchor[0] != keys:
            self.anchor = (keys, anchor_file(keys, root / STATE_DIR / LEDGER_FILE))
        return self.anchor[1]


_FOLLOWED_KINDS = frozenset({MODE_CHANGED, HALTED, RESUMED, REDUCE_ONLY})


def _counts_checked(conn, root: Path, event: dict) -> bool:
    """`_counts` for an event whose record `Follower` read and linked: its signature is checked
    against that record's place in the chain (a copy elsewhere does not verify)."""
    if not would_open(event["kind"], event["payload"]):
        return True
    return "signature" in event["payload"] and chain_for(conn, root).signed(event["id"], event["prev_hash"], event["payload"])


def _state(ws: Workspace) -> _State:
    """The halt and the mode as the ledger holds them now. Every call (this runs before every
    order): the anchor is checked first (an append lands in the ledger before its anchor), then
    the records appended since the last call are read and linked to the chain already read. A
    ledger that contradicts its anchor, or no longer continues that chain, is a halt."""
    root = ws.root
    view = queries.watched(root, lambda: ws.ledger_path)
    followed = view.extras.get("modes")
    if followed is None:
        followed = view.extras["modes"] = _Followed()
    conn = view.conn
    problem = contradiction_at(followed.anchor_path(root), conn)
    try:
        for event in followed.follower.read(conn, _FOLLOWED_KINDS):
            if _counts_checked(conn, root, event):
                kind = event["kind"]
                if kind == MODE_CHANGED:
                    followed.mode_event = event
                elif kind == REDUCE_ONLY:
                    followed.reduce_event = event
                else:
                    followed.halt_event = event
                    if kind == RESUMED:  # a resume lifts REDUCING too
                        followed.reduce_event = event
    except ChainBroken as exc:
        problem = problem or str(exc)
    mode_event, halt_event = followed.mode_event, followed.halt_event
    switch = emergency = None
    if problem is not None:
        switch = (f"trading is halted: the ledger does not continue as this process read it or does not match its anchor "
                  f"({problem}); find out what changed it — `livegate ledger verify`")
    elif halt_event is not None and halt_event["kind"] == HALTED:
        p = halt_event["payload"]
        switch = (f"trading is halted (since {(p.get('halted_at') or halt_event['ts'])[:19]}Z by {halt_event['actor']}: "
                  f"{p.get('reason', '')}); `livegate resume` lifts the halt")
    if mode_event is not None and mode_event["payload"].get("to") == "EMERGENCY_STOP":
        emergency = f"trading is stopped (EMERGENCY_STOP since {mode_event['ts']}: {mode_event['payload'].get('reason', '')})"
    mode = mode_event["payload"].get("to", DEFAULT_MODE) if mode_event is not None else DEFAULT_MODE
    reduce_event = followed.reduce_event if followed.reduce_event is not None and followed.reduce_event["kind"] == REDUCE_ONLY else None
    reducing = None
    if reduce_event is not None:
        p = reduce_event["payload"]
        reducing = (f"trading is reducing only (since {reduce_event['ts'][:19]}Z by {p.get('by') or reduce_event['actor']}: "
                    f"{p.get('reason', '')}): {REDUCING_RULE}; `livegate resume` lifts it")
    return _State(mode_event, halt_event, switch, emergency, "; ".join(p for p in (switch, emergency) if p) or None, mode,
                  reduce_event, reducing)


def _held_sentence(held: HaltFile, note: str) -> str:
    return f"trading is halted ({held.since()}; {note}); `livegate resume` lifts the halt"


def halted_reason(ws: Workspace) -> str | None:
    """Why no new order may be placed — the kill switch is on (in the ledger or by the halt
    file), or the mode is EMERGENCY_STOP — or None. Read on every call: one `lstat` and, when
    the ledger did not change, a few microseconds. Raises when it cannot be told (the caller
    refuses); a halt file is enough to answer even when the ledger cannot be read."""
    return halt_and_mode(ws)[0]


def halt_and_mode(ws: Workspace) -> tuple[str | None, str]:
    """(`halted_reason`, the current mode) in one read — what the halt rule asks before every
    order. The mode is EMERGENCY_STOP when only the halt file could be read."""
    halted, mode, _reducing = trading_state(ws)
    return halted, mode


def trading_state(ws: Workspace) -> tuple[str | None, str, str | None]:
    """(`halted_reason`, the current mode, why trading is REDUCING or None) in one read — what
    the order gateway asks before every order. A halt wins: while halted, the third is None."""
    held = halt_file(ws)
    try:
        state = _state(ws)
    except Exception:  # noqa: BLE001 - whatever stops the ledger from being read, a halt file still answers
        if held is None:
            raise
        return _held_sentence(held, f"held by the halt file {STATE_DIR}/{HALT_FILE}; the ledger cannot be read"), "EMERGENCY_STOP", None
    if held is None or state.switch:
        return state.reason, state.mode, None if state.reason else state.reducing
    pending = _held_sentence(held, f"held by the halt file {STATE_DIR}/{HALT_FILE}, not yet in the ledger")
    return "; ".join(p for p in (pending, state.emergency) if p), state.mode, None


def halt_pending(ws: Workspace) -> HaltFile | None:
    """The halt file when it holds a halt the ledger does not record yet (it could not be
    written when the halt was pulled), else None."""
    held = halt_file(ws)
    if held is None or _state(ws).switch:
        return None
    return held


def halt_state(ws: Workspace) -> dict[str, Any]:
    """The kill switch: {halted, reason, by, at, pending, halt_file} of the halt in force, else
    of its latest resume (halted False, reason/by/at None, when it was never used). `pending`:
    the halt is held by the halt file and not yet in the ledger."""
    held = halt_file(ws)
    event = _state(ws).halt_event
    on_file = held is not None
    if held is not None and (event is None or event["kind"] != HALTED):
        return {"halted": True, "reason": held.reason, "by": held.by, "at": held.at, "pending": True, "halt_file": True}
    if event is None:
        return {"halted": False, "reason": None, "by": None, "at": None, "pending": False, "halt_file": on_file}
    return {"halted": event["kind"] == HALTED, "reason": event["payload"].get("reason"), "by": event["actor"],
            "at": event["payload"].get("halted_at") or event["ts"], "pending": False, "halt_file": on_file}


def halt_status(ws: Workspace) -> dict[str, Any]:
    """What `livegate status` shows of the halt, never raising: {halted, reason, pending,
    reducing}. A state that cannot be read shows as halted, with why — every order path treats
    it so. `reducing`: why only orders that reduce a position pass (None while halted)."""
    try:
        reason, _mode, reducing = trading_state(ws)
    except Exception as exc:  # noqa: BLE001 - shown, never raised: an unreadable state counts as halted
        return {"halted": True, "reason": f"cannot read whether trading is halted ({exc}): no new order is placed",
                "pending": False, "reducing": None}
    try:
        pending = reason is not None and halt_pending(ws) is not None
    except Exception:  # noqa: BLE001 - the ledger cannot be read: what the halt file holds is not in it as far as we can tell
        pending = True
    return {"halted": reason is not None, "reason": reason, "pending": pending, "reducing": reducing}


def reduce_state(ws: Workspace) -> dict[str, Any] | None:
    """REDUCING as the ledger holds it: {reason, by, at, source, event, detail} of the
    `reduce_only` event in force, or None (never entered, or lifted by a resume). Shown next to
    a halt, which wins over it."""
    state = _state(ws)
    event = state.reduce_event
    if event is None:
        return None
    p = event["payload"]
    return {"reason": p.get("reason", ""), "by": p.get("by") or event["actor"], "at": event["ts"],
            "source": p.get("source", "operator"), "event": event["id"], "detail": state.reducing}


def _history_entry(e: dict) -> dict:
    p = e["payload"]
    return {"id": e["id"], "at": e["ts"], "by": e["actor"], "from": p.get("from"), "to": p.get("to"),
            "level": p.get("level"), "reason": p.get("reason", "")}


def mode_history(ws: Workspace, limit: int | None = None) -> list[dict]:
    """Mode changes, newest first: id, at, by, from, to, level (LIVE_SCALED), reason."""
    with queries.reading(ws.ledger_path) as conn:
        events = list(queries.events(conn, kinds=(MODE_CHANGED,), limit=limit, descending=True))
    return [_history_entry(e) for e in events]


def mode_state(ws: Workspace) -> tuple[str, int | None]:
    """(mode, level): the level is 1–3 in LIVE_SCALED, None otherwise."""
    event = _state(ws).mode_event
    if event is None:
        return DEFAULT_MODE, None
    mode = event["payload"].get("to", DEFAULT_MODE)
    return mode, ((event["payload"].get("level") or 1) if mode == "LIVE_SCALED" else None)


def current_mode(ws: Workspace) -> str:
    return mode_state(ws)[0]


def mode_limits(ws: Workspace) -> dict[str, Any]:
    """The current mode's limits: {mode, level, risk_per_trade, max_exposure} (fractions)."""
    mode, level = mode_state(ws)
    limits = LIMITS[(mode, level)]
    return {"mode": mode, "level": level, "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}
