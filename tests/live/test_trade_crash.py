"""kill -9 of `livegate trade` right after the venue accepted one of its orders, again and again,
each time resumed with the same command, on the sandbox's step clock. Afterwards the venue's own
record and the ledger agree exactly: no order doubled, no fill missing, nothing left resting."""

from __future__ import annotations

import json

import pytest

from tests.crash.harness import STEP_SANDBOX, exactly_once, kill_after_each, kill_points, run_livegate
from tests.live.test_trade import LATER
from tests.protocol_helpers import sign_off


@pytest.fixture
def sandbox_options():
    return dict(STEP_SANDBOX)


def test_trade_killed_after_accepted_orders_resumes_exactly_once(make_live_ws, sandbox, killer, operator_key, run_cli):
    points = kill_points((2, 1, 3))
    ws = make_live_ws(config={"capital": {"starting": 500.0}},
                      risk={"consecutive_losses_halt": 1000, "max_trades_per_hour": 100, "max_trades_per_day": 1000,
                            "min_seconds_between_trades": 0},  # Flip trades every bar and pays fees every round trip
                      flags={"act_on_red": []})  # ... so its losing streak would make trading reduce-only: not this test's subject
    sign_off(ws, operator_key, *LATER)
    api_key = next(line.split("=", 1)[1] for line in (ws / ".env").read_text().splitlines()
                   if line.startswith("EXCHANGE_API_KEY="))
    kill_after_each(ws, ("trade", "--sandbox-clock", "--yes", "--json"), killer, points)
    done = run_livegate(ws, "trade", "--sandbox-clock", "--yes", "--json", "--max-hours", "0.2")
    report = json.loads(done.stdout)
    assert done.returncode == 7 and report["status"] == "paused", (report["status"], report["reason"])

    _, c = exactly_once(sandbox, api_key, ws, report["run"], killer, "trade")
    assert c.venue_orders >= 6 and c.venue_fills >= c.venue_orders
    verify = run_cli("-w", ws, "ledger", "verify")
    assert verify.exit_code == 0, verify.output
