"""go-live fixtures: an accelerated local exchange (a 1-minute candle every 0.1 s), a workspace
walked up to micro-live with a fresh USDT-only key, a strategy that trades every bar."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time

import pytest
import yaml

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.local import THIN_BOOK, describe
from livegate.config.workspace import Workspace
from tests.alerts.conftest import http_receiver  # noqa: F401 - fixture (production trading sends its reports)
from tests.crash.harness import killer  # noqa: F401 - fixture (the kill -9 tests)
from tests.protocol_helpers import sign_off

SPEED = 600.0
_ids = itertools.count(1)

FLIP = '''
from livegate.strategy import OrderIntent


class Flip:
    """Buys `value` of the symbol on one bar, sells it on the next."""

    def __init__(self, value=8.0):
        self.value = value

    def on_bar(self, bar, ctx):
        if ctx.position(bar.symbol) > 0:
            return [OrderIntent(bar.symbol, "sell", amount=ctx.position(bar.symbol))]
        return [OrderIntent(bar.symbol, "buy", quote_amount=self.value)]
'''


@pytest.fixture
def sandbox_options():
    """The `sandbox` of the go-live tests: accelerated (SPEED), a thin book, one per module."""
    return {"speed": SPEED, "history_bars": 600, "seed": 9, "book": THIN_BOOK, "share": "module"}


def events(root, kind):
    """The payloads of the workspace ledger's `kind` events, in order, read with plain sqlite3."""
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def live_options(sandbox, **kwargs):
    from livegate.phases.microlive.runner import LiveOptions

    market_ms = sandbox.venue.clock.market_ms
    kwargs.setdefault("ask", lambda a: True)
    kwargs.setdefault("clock", lambda: market_ms() / 1000)
    return LiveOptions(market_clock=market_ms, sleep=lambda s: time.sleep(min(s / SPEED, 0.05)), poll_s=1.0, **kwargs)


@pytest.fixture
def make_live_ws(workspace, sandbox, operator_key):
    """make(value=8.0, amount=None, stage=None, risk=None) -> a workspace on the fast sandbox with
    its own USDT-only key, the Flip strategy, live flags in .env, env/paper/testnet signed off
    and the mode switched to LIVE_MINIMAL. `risk` overrides live_trading keys, `breakers`
    circuit_breakers keys, `flags` the flags' keys."""
    from livegate.services import mode_switch

    def make(value: float = 8.0, stage: dict | None = None, risk: dict | None = None, thresholds: dict | None = None,
             breakers: dict | None = None, bot: str = "builtin", config: dict | None = None, flags: dict | None = None):
        n = next(_ids)
        pair = sandbox.add_key(f"live-key-{n}", f"live-secret-{n}-Zk", balances={"USDT": 5_000})
        ws = Workspace(workspace)
        write_workspace(ws, describe(sandbox))
        (workspace / "strategies" / "flip.py").write_text(FLIP)
        path = workspace / "livegate.yaml"
        data = yaml.safe_load(path.read_text())
        data["strategy"] = {"ref": "strategies/flip.py:Flip", "params": {"value": value}}
        data["bot"] = bot
        data.update(config or {})
        data["thresholds"] = {"micro-live": {"4.1a": stage or {"min_duration_hours": 0.05, "min_successful_trades": 2},
                                             "win_rate_gap_points": 60, "live_vs_paper_worse_pct": 100, **(thresholds or {})}}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        if risk or breakers or flags:
            rpath = workspace / "risk_limits.yaml"
            rdata = yaml.safe_load(rpath.read_text())
            rdata["live_trading"].update(risk or {})
            rdata["circuit_breakers"].update(breakers or {})
            if flags:
                rdata["flags"] = {**(rdata.get("flags") or {}), **flags}
            rpath.write_text(yaml.safe_dump(rdata, sort_keys=False))
        env = (workspace / ".env").read_text()
        (workspace / ".env").write_text(set_env_values(env, {
            "EXCHANGE_API_KEY": pair.api_key, "EXCHANGE_API_SECRET": pair.secret, "PAPER_MODE": "false",
            "LIVE_TRADING_ENABLED": "true", "TRADING_HALTED": "false", "EXECUTION_APPROVAL_MODE": "auto",
            "MAX_TRADE_AMOUNT": "10"}))
        sign_off(workspace, operator_key, "env", "paper", "testnet")
        mode_switch.set_mode(ws, "LIVE_MINIMAL", "micro-live stage 4.1a", by="Test Operator", key=operator_key)
        return workspace

    return make


@pytest.fixture
def live_ws(make_live_ws):
    return make_live_ws()
