"""Capital scaling after production (seed 001 §5.1, seed 002): +50 % at most per step, only after
14 days at the level with its live results meeting the rules; down at once; every step signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.core.errors import GateClosed, UsageError
from livegate.ledger.store import Ledger
from livegate.phases.production.scaling import current_level, scale
from tests.protocol_helpers import sign_off

STEPS = ("env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d", "production")


@pytest.fixture
def prod(workspace, operator_key):
    sign_off(workspace, operator_key, *STEPS)
    return Workspace(workspace)


def add_trades(ws, key, start_ms: int, nets: list[float]) -> None:
    """Closed live trades (a `go-live` run's `trade` events), one an hour from `start_ms`."""
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        for i, net in enumerate(nets):
            closed = start_ms + (i + 1) * 3_600_000
            ledger.append("trade", {"run": "lgl99", "symbol": "BTC/USDT", "side": "long", "opened_ms": closed - 60_000,
                                    "closed_ms": closed, "amount": 0.001, "entry_price": 60_000.0, "exit_price": 60_000.0,
                                    "gross": net + 0.01, "fee": 0.01, "net": net, "extra": {}})


def checkpoint(ws) -> None:
    """One bar of the level's trading as the ledger records it (its clock moves on with it)."""
    with Ledger.open(ws.ledger_path) as ledger:
        ledger.append("live_checkpoint", {"run": "lgl99", "cursor": {}, "state": {}})


def at(level, days: float) -> datetime:
    return datetime.fromtimestamp(level.since_ms / 1000, tz=UTC) + timedelta(days=days)


def test_scaling_needs_production_signed_off(workspace, operator_key):
    sign_off(workspace, operator_key, *STEPS[:-1])
    with pytest.raises(GateClosed, match="production is not signed off"):
        scale(Workspace(workspace), to=12_000, down=False, by="Ann", key=operator_key)


def test_up_is_refused_before_14_days_and_above_plus_50_percent(prod, operator_key):
    level = current_level(prod, prod.effective)
    assert level.amount == 10_000
    add_trades(prod, operator_key, level.since_ms, [5.0, 4.0, -1.0, 6.0, 5.0, 3.0, 4.0, 2.0] * 10)
    with freeze_time(at(level, 13.9)):  # the days are the ledger's: an event of the level written then
        checkpoint(prod)
        with pytest.raises(UsageError, match=r"13.9 days at the current level on the ledger's clock \(.*\), the minimum is 14"):
            scale(prod, to=15_000, down=False, by="Ann", key=operator_key)
    with freeze_time(at(level, 15)):
        checkpoint(prod)
        with pytest.raises(UsageError, match=r"more than \+50 % of the current 10,000.00 \(at most 15,000.00\)"):
            scale(prod, to=15_001, down=False, by="Ann", key=operator_key)
        step = scale(prod, to=15_000, down=False, by="Ann", key=operator_key, reason="two good weeks")
    assert step["direction"] == "up" and step["results"]["trades"] == 80 and step["results"]["net_pnl"] > 0
    assert current_level(prod, prod.effective).amount == 15_000


def test_up_is_refused_when_the_level_did_not_earn_it(prod, operator_key):
    level = current_level(prod, prod.effective)
    add_trades(prod, operator_key, level.since_ms, [-3.0, 1.0, -2.0, 1.0] * 10)
    with freeze_time(at(level, 20)):
        with pytest.raises(UsageError) as refused:
            scale(prod, to=11_000, down=False, by="Ann", key=operator_key)
    message = str(refused.value)
    assert "not profitable" in message and "win_rate_pct 50.00 does not meet >= 50" not in message
    assert "sharpe" in message


def test_down_is_always_allowed_at_once_and_every_step_is_signed(prod, operator_key, run_cli):
    step = scale(prod, to=None, down=True, by="Ann", key=operator_key, reason="red flag")
    assert (step["from"], step["to"], step["direction"]) == (10_000, 5_000, "down")
    with pytest.raises(UsageError, match="--down needs a level below"):
        scale(prod, to=6_000, down=True, by="Ann", key=operator_key)
    verified = run_cli("-w", prod.root, "ledger", "verify", "--json")
    assert verified.exit_code == 0 and '"signatures_checked"' in verified.stdout
    result = run_cli("-w", prod.root, "scale", "--down", "--to", "1000", "--json")
    assert result.exit_code == 0 and '"to": 1000' in result.stdout
