"""`livegate scale` counts the days at a capital level on the ledger's clock: the real command in
a process of its own under faketime (libfaketime), against a real ledger. A wall clock set
forward adds nothing the ledger does not show; a wall clock behind the ledger refuses (exit 3);
ledger time that went forward and back again does not count."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.phases.production.scaling import current_level
from tests.production.test_scaling import STEPS, add_trades
from tests.protocol_helpers import ledger_rows, sign_off

pytestmark = pytest.mark.skipif(shutil.which("faketime") is None, reason="libfaketime's faketime is not installed")

GOOD_WEEKS = [5.0, 4.0, -1.0, 6.0, 5.0, 3.0, 4.0, 2.0] * 10  # profitable, Sharpe, win rate and drawdown within the rules


@pytest.fixture
def prod(workspace, operator_key):
    sign_off(workspace, operator_key, *STEPS)
    return Workspace(workspace)


def livegate_at(offset: str, root, *args: str) -> subprocess.CompletedProcess:
    """`livegate -w ROOT ARGS` in its own process with the wall clock moved by `offset` ("+30d", "-2d")."""
    return subprocess.run(["faketime", "-f", offset, sys.executable, "-m", "livegate", "-w", str(root), *args],
                          capture_output=True, text=True, timeout=120)


def capital_steps(ws) -> list[dict]:
    conn = sqlite3.connect(ws.ledger_path)
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = 'capital_scaled' ORDER BY id")]
    finally:
        conn.close()


def days_after(level, days: float) -> datetime:
    return datetime.fromtimestamp(level.since_ms / 1000, tz=UTC) + timedelta(days=days)


def test_a_clock_set_30_days_forward_counts_only_what_the_ledger_shows(prod, operator_key):
    level = current_level(prod, prod.effective)
    add_trades(prod, operator_key, level.since_ms, GOOD_WEEKS)  # written now: the ledger shows minutes at the level
    before = ledger_rows(prod.root)

    refused = livegate_at("+30d", prod.root, "scale", "--to", "15000")
    assert refused.returncode == 2, refused.stderr
    assert "capital stays at 10,000.00: 0.0 days at the current level on the ledger's clock" in refused.stderr
    assert "the minimum is 14" in refused.stderr
    assert "not profitable" not in refused.stderr and "sharpe" not in refused.stderr  # only the days are missing
    assert "Traceback" not in refused.stderr
    assert ledger_rows(prod.root) == before

    with freeze_time(days_after(level, 15)):  # the level's trading goes on: the ledger now shows 15 days
        add_trades(prod, operator_key, level.since_ms, [3.0])
    allowed = livegate_at("+16d", prod.root, "scale", "--to", "15000", "--json")
    assert allowed.returncode == 0, allowed.stderr
    [step] = capital_steps(prod)
    assert (step["from"], step["to"], step["direction"]) == (10_000, 15_000, "up")
    assert step["ledger_days_at_level"] == pytest.approx(15, abs=0.01)


def test_a_wall_clock_behind_the_ledger_is_refused_as_a_clock_that_went_backwards(prod, operator_key):
    level = current_level(prod, prod.effective)
    with freeze_time(days_after(level, 15)):
        add_trades(prod, operator_key, level.since_ms, GOOD_WEEKS)  # the ledger's latest event: 15 days on
    before = ledger_rows(prod.root)

    refused = livegate_at("+14d", prod.root, "scale", "--to", "15000")  # a day behind the ledger's latest event
    assert refused.returncode == 3, refused.stderr
    assert "gate closed: cannot proceed with capital scaling" in refused.stderr
    assert "the clock went backwards: this machine's clock reads" in refused.stderr
    assert "earlier than the ledger's event #" in refused.stderr and "Traceback" not in refused.stderr
    assert ledger_rows(prod.root) == before

    down = livegate_at("+14d", prod.root, "scale", "--down")  # less capital is never held up
    assert down.returncode == 0, down.stderr
    assert [s["direction"] for s in capital_steps(prod)] == ["down"]


def test_ledger_time_that_went_forward_and_back_again_does_not_count(prod, operator_key):
    level = current_level(prod, prod.effective)
    with freeze_time(days_after(level, 30)):  # events written under a clock set 30 days forward...
        add_trades(prod, operator_key, level.since_ms, GOOD_WEEKS)
    add_trades(prod, operator_key, level.since_ms, [2.0])  # ...then under the right clock again: back 30 days
    before = ledger_rows(prod.root)

    refused = livegate_at("+30d", prod.root, "scale", "--to", "15000")  # the wall clock joins the forward one
    assert refused.returncode == 2, refused.stderr
    out = " ".join(refused.stderr.split())
    assert "0.0 days at the current level on the ledger's clock" in out
    assert "the ledger's clock went backwards (event #" in out and "only the time after that counts" in out
    assert ledger_rows(prod.root) == before
