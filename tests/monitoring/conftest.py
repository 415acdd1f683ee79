"""Monitoring fixtures: a workspace whose ledger holds a real backtest (made once,
copied for each test), its trade events read straight from SQLite, and the live-stage
fixtures of tests/live (a real go-live stage on the accelerated local exchange)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livegate.cli import app
from tests.live.conftest import make_live_ws, sandbox_options  # noqa: F401 - the live fixtures, reused


@contextmanager
def isolated(base: Path) -> Iterator[None]:
    """A session fixture's own HOME, key folder and working directory under `base` (the
    per-test isolation of tests/conftest.py does not reach session fixtures)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(base / "home"))
        mp.setenv("LIVEGATE_KEY_DIR", str(base / "home" / "keys"))
        mp.setenv("NO_COLOR", "1")
        mp.chdir(base)
        yield


@pytest.fixture(scope="session")
def backtest_template(tmp_path_factory) -> Path:
    """A workspace with one 3-day backtest (builtin:btc-1m) in its ledger, made once per session."""
    base = tmp_path_factory.mktemp("backtest")
    with isolated(base):
        runner = CliRunner()
        root = base / "ws"
        assert runner.invoke(app, ["init", str(root)], catch_exceptions=False).exit_code == 0
        result = runner.invoke(app, ["-w", str(root), "paper-run", "--days", "3", "--replay", "builtin:btc-1m", "--json"],
                               catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
    return root


@pytest.fixture
def backtest_ws(backtest_template, tmp_path) -> Path:
    """A copy of the backtest workspace this test may change."""
    return Path(shutil.copytree(backtest_template, tmp_path / "ws"))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A workspace `livegate demo` walked up the whole ladder (a signed-off paper forward run,
    micro-live stages on the local exchange, a halt drill), made once per session."""
    base = tmp_path_factory.mktemp("demo")
    with isolated(base):
        result = CliRunner().invoke(app, ["demo", str(base / "ws"), "--yes", "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return base / "ws"


@pytest.fixture
def demo_ws(demo_template, tmp_path) -> Path:
    """A copy of the demo workspace this test may change."""
    return Path(shutil.copytree(demo_template, tmp_path / "demo"))


def ledger_events(root: Path, kind: str) -> list[tuple[int, dict]]:
    """(id, payload) of every event of `kind`, in ledger order, read without livegate."""
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        return [(i, json.loads(p)) for i, p in conn.execute("SELECT id, payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def expected_from_trades(trades: list[dict], capital: float) -> dict:
    """The monitor's numbers recomputed by hand from trade payloads (SPEC §10)."""
    trades = sorted(trades, key=lambda t: t["closed_ms"])
    nets = [t["net"] for t in trades]
    equity, peak, worst_dd = capital, capital, 0.0
    for x in nets:
        equity += x
        peak = max(peak, equity)
        worst_dd = min(worst_dd, equity / peak - 1)
    streak = 0
    for x in reversed(nets):
        if x >= 0:
            break
        streak += 1
    wins = sum(1 for x in nets if x > 0)
    return {"trades": len(nets), "wins": wins, "win_rate_pct": 100 * wins / len(nets), "realized": sum(nets),
            "max_drawdown_pct": -100 * worst_dd, "current_drawdown_pct": 100 * (1 - equity / peak), "streak": streak,
            "profit_factor": sum(x for x in nets if x > 0) / -sum(x for x in nets if x < 0), "final_equity": equity}
