"""`paper-run --days N` for `bot: external`: the trader's own bot (real ccxt) trades through the
gateway while the paper simulator fills its orders from the live market (the local sandbox's
book); its account, orders and trades are the paper ones, nothing reaches the exchange, and
its trades are what the paper criteria judge."""

from __future__ import annotations

import queue
import threading
import time

import ccxt
import pytest

from livegate.adapters.exchange.client import build_exchange
from livegate.config.workspace import Workspace
from livegate.ledger.keys import load_private
from livegate.phases.paper.run import FORWARD, BotOptions, PaperRunner, RunPlan, run_events
from livegate.services.bot_gateway import issue_bot_key

SPEED = 600  # one 1m bar per 0.1 s of wall time


@pytest.fixture
def sandbox_options():
    return {"speed": SPEED, "history_bars": 1500, "seed": 5, "share": "module"}


def test_the_bots_paper_trades_are_simulated_answered_from_the_paper_account_and_evaluated(tmp_path, run_cli, operator_key, sandbox):
    from tests.paper.conftest import sign_off_env

    root = tmp_path / "paperbot"
    assert run_cli("init", root, "--bot", "external").exit_code == 0
    cfg = root / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("base_url: null", f"base_url: {sandbox.url}").replace("testnet: true", "testnet: false"))
    issue_bot_key(Workspace(root).state_dir)
    sign_off_env(root, operator_key)
    market_ms = sandbox.venue.clock.market_ms
    infos: queue.Queue = queue.Queue()
    runner = PaperRunner(Workspace(root), RunPlan(FORWARD, days=0.05), key=load_private(), clock=lambda: market_ms() / 1000,
                         market_clock=market_ms, sleep=lambda s: time.sleep(s / SPEED), bot=BotOptions(on_gateway=infos.put))
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(outcome=runner.run()), daemon=True)
    thread.start()
    info = infos.get(timeout=60)
    assert info["step"] == "paper"
    bot = build_exchange("binance", testnet=False, base_url=info["gateway_url"], api_key=info["api_key"], secret=info["secret"],
                         rate_limit_ms=0)
    bot.load_markets()
    capital = bot.fetch_balance()["total"]["USDT"]
    assert capital == pytest.approx(10_000.0)  # the paper account's starting capital, not the exchange's balances
    price = bot.fetch_ticker("BTC/USDT")["last"]  # market data is the exchange's
    amount = round(40.0 / price, 5)
    bought = bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "pb-buy"})
    assert bought["status"] == "closed" and bought["filled"] == pytest.approx(amount) and bought["fee"]["currency"] == "USDT"
    assert bot.fetch_order(bought["id"], "BTC/USDT")["status"] == "closed"
    balance = bot.fetch_balance()
    assert balance["total"]["BTC"] == pytest.approx(amount) and balance["total"]["USDT"] < capital - 39.9
    resting = bot.create_order("BTC/USDT", "limit", "sell", amount, round(price * 1.5, 2), params={"newClientOrderId": "pb-rest"})
    assert [o["clientOrderId"] for o in bot.fetch_open_orders("BTC/USDT")] == ["pb-rest"]
    assert bot.cancel_order(resting["id"], "BTC/USDT")["status"] == "canceled" and bot.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(ccxt.OrderNotFound):
        bot.fetch_order("999999", "BTC/USDT")
    sold = bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": "pb-sell"})
    assert sold["status"] == "closed"
    trades = bot.fetch_my_trades("BTC/USDT")
    assert {t["order"] for t in trades} == {bought["id"], sold["id"]}
    assert [o["clientOrderId"] for o in bot.fetch_orders("BTC/USDT")] == ["pb-buy", "pb-rest", "pb-sell"]
    thread.join(60)
    outcome = out["outcome"]
    ws = Workspace(root)
    [trade] = run_events(ws, outcome.run_id, ("trade",))
    assert trade["order_id"] == "pb-sell"  # the bot's round trip is the run's trade, for the paper criteria
    fills = run_events(ws, outcome.run_id, ("fill",))
    assert {f["order_id"] for f in fills} == {"pb-buy", "pb-sell"} and {f["model"] for f in fills} == {"book"}

    def venue_orders():
        return [o.client_id for acc in sandbox.venue.engine.accounts.values() for o in acc.orders.values()]

    assert not {"pb-buy", "pb-rest", "pb-sell"} & set(sandbox._on_loop(venue_orders))  # paper: nothing reached the exchange
