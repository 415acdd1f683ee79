"""The paper engine's exchange feeds through real ccxt against the local Binance emulator:
a forward run polling closed candles and walking the live order book, and a `--since`
backtest paginating the history; an unreachable exchange stops cleanly with exit 5."""

from __future__ import annotations

import json
import socket
import time

import pytest

from livegate.config.workspace import Workspace
from livegate.ledger.keys import load_private
from livegate.phases.paper.run import FORWARD, PaperRunner, RunPlan, run_counts, run_events

SPEED = 600  # one 1m bar per 0.1 s of wall time


@pytest.fixture
def sandbox_options():
    """The `sandbox` of this module: the default markets, the market clock at SPEED."""
    return {"speed": SPEED, "history_bars": 1500, "seed": 5, "share": "module"}


def _point_at(ws_root, url: str) -> None:
    cfg = ws_root / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("base_url: null", f"base_url: {url}").replace("testnet: true", "testnet: false"))


def test_forward_run_through_ccxt_on_the_emulator(tmp_path, run_cli, operator_key, sandbox):
    from tests.paper.conftest import sign_off_env

    ws_root = tmp_path / "fw"
    assert run_cli("init", ws_root).exit_code == 0
    _point_at(ws_root, sandbox.url)
    # a fast strategy so that a short run trades
    cfg = ws_root / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("params: {}", "params: {fast: 2, slow: 5}"))
    sign_off_env(ws_root, operator_key)
    market_ms = sandbox.venue.clock.market_ms
    runner = PaperRunner(Workspace(ws_root), RunPlan(FORWARD, days=0.025), key=load_private(),
                         clock=lambda: market_ms() / 1000, market_clock=market_ms, sleep=lambda s: time.sleep(s / SPEED))
    outcome = runner.run()
    ws = Workspace(ws_root)
    assert 30 <= outcome.bars <= 40  # 36 one-minute bars in 0.025 days
    fills = run_events(ws, outcome.run_id, ("fill",))
    assert fills, run_counts(ws, outcome.run_id)
    assert {f["model"] for f in fills} == {"book"}  # market orders walked the emulator's depth
    for f in fills:  # priced off the live book, near the decision's reference (the last close)
        assert abs(f["slippage_bps"]) < 100
        assert f["fee"] == pytest.approx(f["amount"] * f["price"] * 0.001)
    rules = _started(ws)["rules"]["BTC/USDT"]
    assert rules["source"] == "exchange market info"


def _started(ws):
    from livegate.ledger.queries import connect_readonly
    from livegate.ledger.queries import events as iter_events

    conn = connect_readonly(ws.ledger_path)
    try:
        return [e["payload"] for e in iter_events(conn, kinds=("paper_run_started",))][-1]
    finally:
        conn.close()


def test_since_backtest_paginates_history_through_ccxt(tmp_path, run_cli, sandbox):
    ws_root = tmp_path / "since"
    assert run_cli("init", ws_root).exit_code == 0
    _point_at(ws_root, sandbox.url)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1300 * 60))
    result = run_cli("-w", ws_root, "paper-run", "--since", since, "--json")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "backtest" and report["counts_as_phase_result"] is False
    assert report["synthetic_data"] is False
    assert report["summary"]["bars"] > 1000  # more than one page of 1000 klines
    assert report["data"]["sources"][0].startswith("binance 1m since")


def test_unreachable_exchange_exits_5_and_names_it(tmp_path, run_cli, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    ws_root = tmp_path / "down"
    assert run_cli("init", ws_root).exit_code == 0
    _point_at(ws_root, f"http://127.0.0.1:{port}")
    monkeypatch.setattr("livegate.phases.paper.feeds.Retry.base_delay", 0.01)
    result = run_cli("-w", ws_root, "paper-run", "--since", "2024-01-01")
    assert result.exit_code == 5, result.output
    assert "binance" in result.output and "unreachable" in result.output
    assert "Traceback" not in result.output
