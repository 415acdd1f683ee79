"""`livegate testnet` for `bot: external`: after the scripted orders, the trader's own bot (real
ccxt) trades on the exchange's sandbox through the gateway; its orders are journaled and
reconciled with the venue's record like the script's, and its fill rate and slippage become
the phase's `bot_*` criteria."""

from __future__ import annotations

import queue
import threading

import ccxt
import pytest
import yaml

from livegate.adapters.exchange.client import build_exchange
from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from livegate.phases.testnet import runner as testnet_runner
from livegate.services.bot_gateway import issue_bot_key
from tests.protocol_helpers import sign_off


@pytest.fixture
def bot_testnet_ws(workspace, sandbox, operator_key):
    ws = Workspace(workspace)
    write_workspace(ws, describe(sandbox))
    config = yaml.safe_load(ws.config_path.read_text())
    config["bot"] = "external"
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    risk = yaml.safe_load(ws.risk_path.read_text())  # the bot's session keeps the throttles: loosened for a quick test
    risk["live_trading"].update({"min_seconds_between_trades": 0, "max_trades_per_hour": 100, "max_trades_per_day": 1000,
                                 "consecutive_losses_halt": 1000})
    ws.risk_path.write_text(yaml.safe_dump(risk, sort_keys=False))
    issue_bot_key(ws.state_dir)
    sign_off(workspace, operator_key, "env", "paper")
    return workspace


def run_with_bot(root, operator_key, trade):
    """run_testnet in a thread; `trade(bot)` is the bot's session; then the session ends."""
    infos: queue.Queue = queue.Queue()
    done = threading.Event()
    out: dict = {}
    options = testnet_runner.TestnetOptions(ask=lambda approval: True, bot_hours=1.0, on_gateway=infos.put, stop_requested=done.is_set)

    def run():
        try:
            out["result"], out["extras"] = testnet_runner.run_testnet(Workspace(root), operator_key, options)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out["error"] = exc
            infos.put(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    info = infos.get(timeout=120)
    assert info is not None, out.get("error")
    try:
        bot = build_exchange("binance", testnet=False, base_url=info["gateway_url"], api_key=info["api_key"],
                             secret=info["secret"], rate_limit_ms=0)
        trade(bot)
    finally:
        done.set()
        thread.join(60)
    assert "error" not in out, out.get("error")
    return info, out["result"], out["extras"]


def test_the_bots_own_orders_are_the_testnet_evidence(bot_testnet_ws, operator_key):
    def trade(bot):
        bot.load_markets()
        price = bot.fetch_ticker("BTC/USDT")["last"]
        amount = round(8.0 / price, 5)
        for i in range(3):
            bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": f"tn-bot-b{i}"})
            bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": f"tn-bot-s{i}"})
        bot.create_order("BTC/USDT", "limit", "buy", amount, round(price * 0.9, 2), params={"newClientOrderId": "tn-bot-rest"})
        with pytest.raises(ccxt.InvalidOrder, match="livegate: "):
            bot.create_order("BTC/USDT", "market", "buy", round(100.0 / price, 5))  # above MAX_TRADE_AMOUNT

    info, result, extras = run_with_bot(bot_testnet_ws, operator_key, trade)
    assert info["step"] == "testnet"
    bot = extras["cex"]["bot"]
    assert (bot["orders"], bot["market_orders"], bot["market_filled"]) == (7, 6, 6) and bot["fill_rate_pct"] == 100.0
    assert bot["canceled"] == ["tn-bot-rest"]  # nothing of the bot left resting when its session ends
    checks = {c.criterion: c for c in result.checks}
    assert checks["bot_fill_rate_pct"].verdict.value == "pass" and checks["bot_slippage_pct"].verdict.value == "pass"
    rec = extras["cex"]["reconciliation"]
    assert rec["ok"] and rec["fill_differences"] == {}  # the venue's record of the bot's orders equals the ledger's
    assert result.passed, [c.to_dict() for c in result.checks if c.verdict.value not in ("pass", "skip")]


def test_a_bot_that_never_trades_fails_its_criteria(bot_testnet_ws, operator_key):
    _, result, extras = run_with_bot(bot_testnet_ws, operator_key, lambda bot: bot.fetch_balance())
    checks = {c.criterion: c for c in result.checks}
    assert checks["bot_fill_rate_pct"].verdict.value == "fail" and "sent no MARKET order" in checks["bot_fill_rate_pct"].message
    assert not result.passed
