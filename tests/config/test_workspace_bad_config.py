"""A command that loads the workspace config refuses a bad one: exit 2, `file:LINE key: message`,
no traceback, and nothing written — the ledger's bytes, mtime and event count stay the same."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from pathlib import Path

import pytest


def line_in(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


def event_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under the workspace: sha256 and mtime."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def break_file(path: Path, old: str, new: str, marker: str | None = None) -> int:
    """Replace `old` by `new` in `path`; the line of `marker` (default: `new`) in the result."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return line_in(text, marker or new)


def run_refused(run_cli, workspace: Path, *args: str):
    """Run a command that must be refused; check the ledger and workspace are untouched."""
    ledger = workspace / ".livegate" / "ledger.db"
    events_before = event_count(ledger)  # read first: closing a reader may checkpoint the WAL
    before = tree_state(workspace)
    result = run_cli("-w", workspace, *args)
    after = tree_state(workspace)
    assert after == before, "the refused command wrote to the workspace"
    assert event_count(ledger) == events_before
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    return result


def test_status_with_broken_risk_limits(workspace, run_cli):
    ledger = workspace / ".livegate" / "ledger.db"
    assert event_count(ledger) >= 1  # init recorded the ledger's creation
    line = break_file(workspace / "risk_limits.yaml", "max_daily_loss: 100.00", "max_daily_loss: -5")
    digest, mtime = hashlib.sha256(ledger.read_bytes()).hexdigest(), ledger.stat().st_mtime_ns

    result = run_refused(run_cli, workspace, "status")

    assert f"risk_limits.yaml:{line} live_trading.max_daily_loss: must be > 0 (got -5)" in result.output
    assert hashlib.sha256(ledger.read_bytes()).hexdigest() == digest
    assert ledger.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("file, old, new, marker, expected", [
    ("risk_limits.yaml", "  max_leverage: 3.0\n", "  max_leverage: 3.0\n  max_fun: 1\n", "max_fun",
     "risk_limits.yaml:{line} live_trading.max_fun: unknown key; allowed here: "),
    ("risk_limits.yaml", "  max_trades_per_hour: 5\n", "\tmax_trades_per_hour: 5\n", "\tmax_trades",
     "risk_limits.yaml:{line}: YAML syntax error: "),
    ("risk_limits.yaml", "max_position_size: 50.00", "max_position_size: 5000", None,
     "risk_limits.yaml:{line} live_trading.max_position_size: must be <= max_total_capital (1000) (got 5000)"),
    ("risk_limits.yaml", "max_position_pct: 0.20", "max_position_pct: 0.5", None,
     "risk_limits.yaml:{line} live_trading.max_position_pct: must be <= 0.2 (got 0.5)"),
    ("livegate.yaml", "timeframe: 1m", "timeframe: 1w", None, "livegate.yaml:{line} exchange.timeframe: must be one of "),
    ("livegate.yaml", "thresholds: {}", "thresholds:\n  paper:\n    win_rate_pct: [60, 45]", "win_rate_pct",
     "livegate.yaml:{line} thresholds.paper.win_rate_pct: must be a range [low, high] with low <= high (got [60, 45])"),
    ("livegate.yaml", "starting: 10000", "starting: .inf", None, "livegate.yaml:{line} capital.starting: must be a finite number (got inf)"),
])
@pytest.mark.parametrize("command", [["status"], ["status", "--json"]], ids=["status", "status-json"])
def test_commands_refuse_a_broken_workspace_config(workspace, run_cli, file, old, new, marker, expected, command):
    line = break_file(workspace / file, old, new, marker)
    result = run_refused(run_cli, workspace, *command)
    assert expected.format(line=line) in result.output
    if "--json" in command:
        assert result.stdout == ""  # no half-written JSON on stdout


def test_both_files_broken_names_both(workspace, run_cli):
    ws_line = break_file(workspace / "livegate.yaml", "profile: default", "profile: lax")
    risk_line = break_file(workspace / "risk_limits.yaml", "max_leverage: 3.0", "max_leverage: 10")
    result = run_refused(run_cli, workspace, "status")
    assert "2 problems" in result.output
    assert f"livegate.yaml:{ws_line} profile: must be one of 'default' or 'strict' (got 'lax')" in result.output
    assert f"risk_limits.yaml:{risk_line} live_trading.max_leverage: must be <= 3 (got 10)" in result.output


@pytest.mark.parametrize("content, expected", [
    (b"", "risk_limits.yaml:1: the file is empty"),
    (b"\x00\xff\xfe garbage", "risk_limits.yaml:1: not UTF-8 text"),
    (b"- 1\n- 2\n", "risk_limits.yaml:1: expected a mapping with `live_trading:` at the top level, got a list"),
])
def test_status_with_unreadable_risk_limits(workspace, run_cli, content, expected):
    (workspace / "risk_limits.yaml").write_bytes(content)
    result = run_refused(run_cli, workspace, "status")
    assert expected in result.output


def test_status_works_again_once_fixed(workspace, run_cli):
    risk = workspace / "risk_limits.yaml"
    good = risk.read_text(encoding="utf-8")
    break_file(risk, "max_daily_loss: 100.00", "max_daily_loss: 0")
    run_refused(run_cli, workspace, "status")
    risk.write_text(good, encoding="utf-8")
    result = run_cli("-w", workspace, "status", "--json")
    assert result.exit_code == 0, result.output
    assert '"next_step": "env"' in result.stdout


def test_signoff_refuses_a_broken_config_before_writing(workspace, run_cli, operator_key):
    line = break_file(workspace / "risk_limits.yaml", "max_trades_per_hour: 5", "max_trades_per_hour: 500")
    result = run_refused(run_cli, workspace, "signoff", "env", "--by", "alice", "--yes")
    assert f"risk_limits.yaml:{line} live_trading.max_trades_per_hour: must be <= max_trades_per_day (20) (got 500)" in result.output


BOMB = "".join(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]\n" for n in range(1, 10))


@pytest.mark.parametrize("command", [("check-config",), ("status",), ("validate", "--yes")])
def test_a_yaml_alias_bomb_is_refused_at_once_naming_its_line(workspace, run_cli, command):
    config = workspace / "livegate.yaml"
    text = config.read_text(encoding="utf-8")
    bombed = text + "bomb_base: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB  # 9**10 strings expanded
    config.write_text(bombed, encoding="utf-8")
    started = time.monotonic()
    result = run_refused(run_cli, workspace, *command)
    assert time.monotonic() - started < 5.0  # refused before anything is expanded (a bomb would take minutes and gigabytes)
    line = line_in(bombed, "bomb_base:")
    assert re.search(rf"livegate\.yaml:{line}:? YAML anchors and aliases", result.output), result.output
