"""kill -9 of `livegate go-live` right after the venue accepted one of its orders, again and
again, each time resumed with the same command (the README's resume), on the sandbox's step
clock so the stage's market hours pass in seconds. Afterwards the venue's own record and the
ledger agree exactly: no order doubled, no fill missing, every fill applied to the position,
nothing left resting, and the ledger verifies."""

from __future__ import annotations

import json

import pytest

from livegate.adapters.execution.cex import balance_changes
from tests.crash.harness import STEP_SANDBOX, exactly_once, kill_after_each, kill_points, run_livegate


@pytest.fixture
def sandbox_options():
    return dict(STEP_SANDBOX)


def test_go_live_killed_after_accepted_orders_resumes_exactly_once(make_live_ws, sandbox, killer, run_cli):
    points = kill_points((1, 2, 3, 1, 4, 2))
    hours = max(0.5, (sum(points) + 10) / 60)  # a 1-minute bar per order: long enough for every kill
    ws = make_live_ws(stage={"min_duration_hours": hours, "min_successful_trades": 6},
                      risk={"consecutive_losses_halt": 1000, "max_trades_per_hour": 100, "max_trades_per_day": 1000,
                            "min_seconds_between_trades": 0})  # Flip trades every bar and pays fees every round trip
    api_key = next(line.split("=", 1)[1] for line in (ws / ".env").read_text().splitlines()
                   if line.startswith("EXCHANGE_API_KEY="))
    go_live = ("go-live", "--stage", "4.1a", "--sandbox-clock", "--yes", "--json")
    kill_after_each(ws, go_live, killer, points)
    done = run_livegate(ws, *go_live)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["status"] == "completed", (report["status"], report["reason"], report["checks"])

    events, c = exactly_once(sandbox, api_key, ws, report["run"], killer, "go-live 4.1a")
    assert c.venue_orders >= 12 and c.venue_fills >= c.venue_orders
    # every fill is in the position: the last checkpoint's BTC equals the venue fills' sum, and
    # the venue's balances equal the ledger's fills (fees in the currency charged)
    fills = [p for k, p in events if k == "venue_fill"]
    held = sum(p["amount"] if p["side"] == "buy" else -p["amount"] for p in fills)
    state = [p for k, p in events if k == "live_checkpoint"][-1]["state"]["account"]
    assert state["positions"].get("BTC/USDT", [0.0])[0] == pytest.approx(held, abs=1e-12)
    account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
    changes = balance_changes(fills)
    for asset in ("BTC", "USDT"):
        free, locked = account.balances.get(asset, [0.0, 0.0])
        # (the venue keeps 8 decimals per trade: 0.5e-8 of rounding per fill at most)
        assert free + locked == pytest.approx((5_000.0 if asset == "USDT" else 0.0) + changes.get(asset, 0.0), abs=1e-8 * len(fills))
    verify = run_cli("-w", ws, "ledger", "verify")
    assert verify.exit_code == 0, verify.output
