"""Walking a test workspace up the ladder: a passing result recorded for a step (measurements
made to pass its criteria) and signed off, so the next phase's gate opens."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.phases import Measurement, criteria_for, run_phase
from livegate.services import gate
from livegate.services.exchange_key import KEY_CHECK, key_evidence


def passing(criterion):
    t = criterion.threshold
    if criterion.op == "==":
        return t
    if criterion.op == "between":
        return (t[0] + t[1]) / 2
    return {">": t + 1, ">=": t, "<": t - 1 if t >= 1 else t / 2, "<=": t}[criterion.op]


def sign_off(ws_root: Path, key, *steps: str) -> None:
    """Record a passing result for each step (in order) and sign it off."""
    ws = Workspace(ws_root)
    for step in steps:
        spec = next(s for s in ws.effective.specs if s.id == step or any(st.id == step for st in s.stages))

        class Passing:
            id = spec.id
            checks = {c.id: (lambda ctx, c=c: Measurement(passing(c))) for c in criteria_for(spec, step)}
            if step == "env":  # as validate records it: the exchange key the sign-off binds
                checks[KEY_CHECK] = lambda ctx: Measurement(True, evidence=key_evidence(load_env(ws.root), ws.effective.config.exchange.id))

        result = run_phase(Passing(), ws, step=step, key=key)
        assert result.passed, [c.to_dict() for c in result.checks]
        gate.signoff(ws, step, "Test Operator", key)


def event_count(ws_root: Path) -> int:
    """How many events the workspace's ledger holds, read with plain sqlite3."""
    with closing(sqlite3.connect(Workspace(ws_root).ledger_path)) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def ledger_rows(ws_root: Path) -> list[tuple]:
    """Every event (id, hash) and the head row, read with plain sqlite3: what "nothing written" compares."""
    with closing(sqlite3.connect(Workspace(ws_root).ledger_path)) as conn:
        return conn.execute("SELECT id, hash FROM events ORDER BY id").fetchall() + conn.execute("SELECT * FROM ledger_head").fetchall()


_HOLD_LOCK = r"""
import sys
from pathlib import Path
from livegate.services import controls
from livegate.config.workspace import Workspace

with controls.live_lock(Workspace(Path(sys.argv[1])), sys.argv[2]):
    print("acquired", flush=True)
    sys.stdin.readline()
"""


def hold_live_lock(ws_root: Path, stage: str) -> subprocess.Popen:
    """A process holding the workspace's live lock as a go-live `stage` does, until a line on its stdin."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(ws_root), stage], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "acquired"
    return proc
