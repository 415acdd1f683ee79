"""kill -9 of `livegate go-live` serving a trader's own bot, right after the exchange accepted the
bot's order (its answer never reaches the bot), then `livegate go-live` again: the bot's retry
with the same client order id is refused (never a second order), the bot finds its order by that
id, and the exchange's record equals the ledger — the fill recorded and applied once."""

from __future__ import annotations

import json
import os
import subprocess

import ccxt
import pytest

from livegate.adapters.exchange.client import build_exchange
from livegate.config.workspace import Workspace
from livegate.services.bot_gateway import issue_bot_key
from tests.crash.harness import LIVEGATE, Killer, compare, ledger_events
from tests.live.test_bot_gateway import LONG_STAGE, LOOSE


@pytest.fixture
def killer(sandbox):
    k = Killer(sandbox)
    yield k
    k.restore()


def serve(root):
    proc = subprocess.Popen([*LIVEGATE, "-w", str(root), "go-live", "--stage", "4.1a", "--json", "--yes", "--max-hours", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(proc.stderr.read()[-3000:])
    info = json.loads(line)
    return proc, build_exchange("binance", testnet=False, base_url=info["gateway_url"], api_key=info["api_key"],
                                secret=info["secret"], rate_limit_ms=0, timeout_ms=10_000)


def test_a_bot_order_accepted_just_before_kill_9_is_never_doubled_and_its_fill_is_applied(make_live_ws, sandbox, operator_key, killer):
    root = make_live_ws(stage=LONG_STAGE, risk=LOOSE, bot="external")
    issue_bot_key(Workspace(root).state_dir)
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines() if line.startswith("EXCHANGE_API_KEY="))
    proc, bot = serve(root)
    price = bot.fetch_ticker("BTC/USDT")["last"]
    amount = round(8.0 / price, 5)
    killer.arm(proc.pid, 1)
    with pytest.raises(ccxt.NetworkError):  # the answer never came: livegate died right after the exchange took the order
        bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "crash-bot-1"})
    proc.wait(30)
    assert proc.returncode == -9 and killer.kills and killer.kills[0][1] == "crash-bot-1"
    proc, bot = serve(root)  # the README's resume: the same command
    try:
        with pytest.raises(ccxt.InvalidOrder, match="already_sent"):  # the bot retries: never a second order
            bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "crash-bot-1"})
        found = bot.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "crash-bot-1"})
        assert found["status"] == "closed" and found["filled"] == pytest.approx(amount)
        sold = bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": "crash-bot-2"})
        assert sold["status"] == "closed"  # the recovered buy is in the stage's position: the bot can sell it
    finally:
        proc.terminate()  # SIGTERM: the stage pauses cleanly
        proc.wait(30)
    events = ledger_events(root, "lgl")
    c = compare(sandbox, api_key, events, "crash-bot")
    assert c.exact and c.venue_orders == 2 and c.venue_fills >= 2, c
    assert [p["order_id"] for k, p in events if k == "trade"] == ["crash-bot-2"]  # one round trip, from both orders
