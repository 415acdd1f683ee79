"""Opt-in: real Freqtrade, in live mode with its defaults otherwise, trades a go-live stage
through livegate's gateway using the README's `ccxt_config` recipe — its orders reach the
sandbox exchange only through the one gate, each once, and nothing it needs is refused.

Runs when Freqtrade is installed: `LIVEGATE_FREQTRADE=/path/to/bin/freqtrade` (for example a
venv made with `python3 -m venv ft && ft/bin/pip install freqtrade`), or `freqtrade` on PATH."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from livegate.adapters.sandbox.local import THIN_BOOK
from livegate.config.workspace import Workspace
from livegate.services.bot_gateway import issue_bot_key
from tests.live.test_bot_gateway import LONG_STAGE, LOOSE, Stage, events, venue_orders

FREQTRADE = os.environ.get("LIVEGATE_FREQTRADE") or shutil.which("freqtrade")
pytestmark = pytest.mark.skipif(not FREQTRADE, reason="Freqtrade is not installed (opt-in: LIVEGATE_FREQTRADE=/path/to/freqtrade)")
STRATEGY = Path(__file__).parent / "freqtrade"


@pytest.fixture
def sandbox_options():
    """Real time: Freqtrade checks that the last candle is recent by its own clock."""
    return {"speed": 1.0, "history_bars": 600, "seed": 9, "book": THIN_BOOK, "share": "module"}


def freqtrade_config(info: dict, sandbox_url: str, workdir: Path) -> Path:
    api = info["gateway_url"]
    config = {
        "max_open_trades": 1, "stake_currency": "USDT", "stake_amount": 8, "tradable_balance_ratio": 0.99,
        "dry_run": False, "trading_mode": "spot", "timeframe": "1m", "initial_state": "running",
        "entry_pricing": {"price_side": "other"}, "exit_pricing": {"price_side": "other"},
        "order_types": {"entry": "market", "exit": "market", "stoploss": "market", "stoploss_on_exchange": False},
        "pairlists": [{"method": "StaticPairList"}],
        "internals": {"process_throttle_secs": 2},
        "db_url": f"sqlite:///{workdir / 'trades.sqlite'}",
        "exchange": {
            "name": "binance", "key": info["api_key"], "secret": info["secret"], "pair_whitelist": ["BTC/USDT"],
            "ccxt_config": {  # the README's recipe
                "urls": {"api": {"public": f"{api}/api/v3", "private": f"{api}/api/v3", "v1": f"{api}/api/v1",
                                 "ws": {"spot": f"{sandbox_url.replace('http', 'ws', 1)}/ws"}}},
                "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
            },
        },
    }
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_freqtrade_trades_a_stage_through_the_gateway(make_live_ws, sandbox, operator_key, tmp_path):
    root = make_live_ws(stage=LONG_STAGE, risk=LOOSE, bot="external")
    issue_bot_key(Workspace(root).state_dir)
    stage = Stage(root, sandbox, operator_key)
    workdir = tmp_path / "ft"
    workdir.mkdir()
    config = freqtrade_config(stage.info, sandbox.url, workdir)
    log = workdir / "freqtrade.log"
    bot = subprocess.Popen([FREQTRADE, "trade", "--config", str(config), "--strategy", "AlwaysIn",
                            "--strategy-path", str(STRATEGY), "--userdir", str(workdir), "--logfile", str(log)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and len(venue_orders(sandbox, root)) < 4 and bot.poll() is None:
            time.sleep(2)
    finally:
        bot.send_signal(signal.SIGINT)
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            bot.kill()
        stage.stop()
    text = log.read_text() if log.exists() else ""
    venue = venue_orders(sandbox, root)
    assert len(venue) >= 4, text[-3000:]  # two round trips at least
    sent = [p for p in events(root, "order_sending")]
    assert sorted(p["client_id"] for p in sent) == sorted(venue) and {p["origin"] for p in sent} == {"bot"}
    refused = [p for p in events(root, "gateway_refused")]
    assert not refused, refused  # nothing Freqtrade needs was refused
    assert len({p["client_id"] for p in sent}) == len(sent)
    assert " ERROR " not in text, [line for line in text.splitlines() if " ERROR " in line][:5]
