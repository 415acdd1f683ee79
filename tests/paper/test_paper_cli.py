"""`livegate paper-run` as a user meets it: the embedded demo, what counts, bad input."""

from __future__ import annotations

import json
import sqlite3

import pytest

from livegate.core.metrics import METRIC_KEYS

SPEC_METRICS = ("total_trades", "win_rate", "profit_factor", "expectancy", "total_return_pct", "fee_drag_pct",
                "worst_trade_pct", "max_consecutive_losses", "max_drawdown_pct", "sharpe", "sortino",
                "daily_pnl_variance", "psr", "dsr")


def _kinds(ws) -> list[str]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
    finally:
        conn.close()


def test_builtin_backtest_json_is_one_object_and_never_the_phase_result(workspace, run_cli):
    result = run_cli("-w", workspace, "paper-run", "--days", "5", "--replay", "builtin:btc-1m", "--json")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "backtest" and report["counts_as_phase_result"] is False
    assert report["synthetic_data"] is True
    for key in SPEC_METRICS:
        assert key in report["metrics"]
    assert set(METRIC_KEYS) <= set(report["metrics"])
    assert {"bootstrap_sharpe", "ruin", "psr", "dsr", "out_of_sample", "regimes"} <= set(report["statistics"])
    assert report["stress"]["scenarios"] >= 200
    assert all(d["blocked"] for d in report["drills"])
    crits = {c["criterion"]: c for c in report["criteria"]}
    assert crits["min_trades"]["measured"] == report["metrics"]["total_trades"]
    assert report["verdict"] in ("pass", "fail")
    assert result.exit_code == (0 if report["verdict"] == "pass" else 1)
    kinds = _kinds(workspace)
    assert "phase_result" in kinds
    status = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    paper = next(s for s in status["steps"] if s["step"] == "paper")
    assert paper["verdict"] is None  # a backtest never becomes the paper result


def test_text_output_says_synthetic_and_backtest(workspace, run_cli):
    result = run_cli("-w", workspace, "paper-run", "--days", "2", "--replay", "builtin:btc-1m")
    assert result.exit_code in (0, 1), result.output
    assert "SYNTHETIC DATA" in result.output
    assert "This was a backtest" in result.output
    assert "Paper criteria" in result.output


def test_forward_run_without_env_signoff_is_gate_closed(workspace, run_cli):
    result = run_cli("-w", workspace, "paper-run", "--days", "7")
    assert result.exit_code == 3, result.output
    assert "gate closed" in result.output and "env" in result.output


@pytest.mark.parametrize("args, message", [
    (["--replay", "x.csv", "--since", "2024-01-01"], "--replay and --since"),
    ([], "give --days N"),
    (["--days", "-1"], "--days must be a positive"),
    (["--days", "0", "--replay", "builtin:btc-1m"], "--days must be a positive"),
    (["--resume", "--days", "3"], "--resume continues"),
    (["--resume"], "no unfinished paper run"),
    (["--since", "yesterday"], "not an ISO 8601 date"),
    (["--since", "2999-01-01"], "not in the past"),
    (["--replay", "missing.csv"], "no such file"),
    (["--replay", "builtin:doge-1s"], "doge-1s"),
    (["--days", "7", "--symbol", "ETH/USDT"], "--symbol goes with --replay"),
])
def test_usage_errors_exit_2_with_one_message(workspace, run_cli, args, message):
    result = run_cli("-w", workspace, "paper-run", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert "paper_run_started" not in _kinds(workspace)


@pytest.mark.parametrize("content, fragment", [
    ("timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,10\n1704067260000,1,2,0.5,1.5,10\n1704067260000,1,2,0.5,1.5,10\n", ":4"),
    ("timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,10\n1704067260000,1,2,0.5,1.5\n", ":3"),
    ("timestamp,open,high,low,close,volume\n1704067260000,1,2,0.5,1.5,10\n1704067200000,1,2,0.5,1.5,10\n", ":3"),
    ("time,o,h,l,c,v\n1704067200000,1,2,0.5,1.5,10\n", ":1"),
    ("timestamp,open,high,low,close,volume\n1704067200000,1,0.9,0.5,1.5,10\n1704067260000,1,2,0.5,1.5,10\n", ":2"),
])
def test_corrupt_csv_exits_2_naming_the_line_and_writes_nothing(workspace, run_cli, tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    before = _kinds(workspace)
    result = run_cli("-w", workspace, "paper-run", "--replay", path)
    assert result.exit_code == 2, result.output
    assert f"bad.csv{fragment}" in result.output
    assert _kinds(workspace) == before


BAD_STRATEGIES = {
    "raises": "class S:\n    def on_bar(self, bar, ctx):\n        if bar.ts > 1704070000000:\n            raise KeyError('boom')\n",
    "garbage": "class S:\n    def on_bar(self, bar, ctx):\n        return 'buy everything' if bar.ts > 1704070000000 else None\n",
    "nan": "from livegate.strategy import OrderIntent\nclass S:\n    def on_bar(self, bar, ctx):\n        return [OrderIntent(bar.symbol, 'buy', quote_amount=float('nan'))]\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_STRATEGIES))
def test_bad_strategy_stops_cleanly_and_resumably(workspace, run_cli, kind):
    (workspace / "strategies" / "bad.py").write_text(BAD_STRATEGIES[kind])
    cfg = workspace / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("strategies/ema_cross.py:EmaCross", "strategies/bad.py:S"))
    result = run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m")
    assert result.exit_code == 2, result.output
    assert "strategy S" in result.output
    assert "Traceback" not in result.output
    kinds = _kinds(workspace)
    assert "paper_run_stopped" in kinds and "phase_result" not in kinds


def test_strategy_that_cannot_be_loaded_is_a_config_error(workspace, run_cli):
    cfg = workspace / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("strategies/ema_cross.py:EmaCross", "strategies/ema_cross.py:Nope"))
    result = run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m")
    assert result.exit_code == 2, result.output
    assert "strategy.ref" in result.output and "no class Nope" in result.output


def test_editing_the_strategy_changes_the_config_fingerprint(workspace):
    from livegate.config.workspace import Workspace

    before = Workspace(workspace).effective.fingerprint
    path = workspace / "strategies" / "ema_cross.py"
    path.write_text(path.read_text() + "\n# tweak\n")
    assert Workspace(workspace).effective.fingerprint != before


def test_multi_symbol_replay(workspace, run_cli):
    result = run_cli("-w", workspace, "paper-run", "--days", "3", "--replay", "builtin:btc-1m", "--symbol", "BTC/USDT",
                     "--replay", "builtin:eth-1m", "--symbol", "ETH/USDT", "--json")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["data"]["symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert report["summary"]["bars"] == 2 * 3 * 1440
    conn = sqlite3.connect(f"file:{workspace / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        symbols = {s for (s,) in conn.execute("SELECT json_extract(payload, '$.symbol') FROM events WHERE kind = 'fill'")}
    finally:
        conn.close()
    assert symbols == {"BTC/USDT", "ETH/USDT"}


def test_replay_sources_and_symbols_must_pair(workspace, run_cli):
    result = run_cli("-w", workspace, "paper-run", "--replay", "builtin:btc-1m", "--replay", "builtin:eth-1m")
    assert result.exit_code == 2 and "one --symbol per --replay" in result.output


def test_strategy_named_as_module_and_class(workspace, run_cli, tmp_path, monkeypatch):
    pkg = tmp_path / "mybots"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "rare.py").write_text((workspace / "strategies" / "breakout.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = workspace / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("strategies/ema_cross.py:EmaCross", "mybots.rare:Breakout").replace("params: {}", "params: {window: 120, exit_window: 60}"))
    result = run_cli("-w", workspace, "paper-run", "--days", "3", "--replay", "builtin:btc-1m", "--json")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert 0 < report["metrics"]["total_trades"] < 60  # a breakout trades rarely


def test_stress_result_is_reused_until_the_config_changes(workspace, run_cli):
    first = json.loads(run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m", "--json").stdout)
    second = json.loads(run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m", "--json").stdout)
    assert first["stress"]["cached"] is False and second["stress"]["cached"] is True
    assert second["stress"]["max_drawdown_pct"] == first["stress"]["max_drawdown_pct"]
    risk = workspace / "risk_limits.yaml"
    risk.write_text(risk.read_text().replace("max_position_size: 50.00", "max_position_size: 40.00"))
    third = json.loads(run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m", "--json").stdout)
    assert third["stress"]["cached"] is False
