"""kill -9 of `livegate trade` right after the venue accepted one of its orders, again and again,
each time resumed with the same command, on the sandbox's step clock. Afterwards the venue's own
record and the ledger agree exactly: no order doubled, no fill missing, nothing left resting."""

from __future__ import annotations

import json

import pytest

from tests.crash.harness import STEP_SANDBOX, compare, kill_points, ledger_events, report_figures, run_livegate
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
    for n in points:  # killed right after the venue accepts this process's n-th order
        killed = run_livegate(ws, "trade", "--sandbox-clock", "--yes", "--json", killer=killer, kill_at=n)
        assert killed.returncode == -9, (n, killed.stdout[-2000:], killed.stderr[-2000:])
    assert len(killer.kills) == len(points)
    done = run_livegate(ws, "trade", "--sandbox-clock", "--yes", "--json", "--max-hours", "0.2")
    report = json.loads(done.stdout)
    assert done.returncode == 7 and report["status"] == "paused", (report["status"], report["reason"])

    run = report["run"]
    events = ledger_events(ws, run)
    c = compare(sandbox, api_key, events, run)
    assert c.exact, c
    assert c.venue_orders >= 6 and c.venue_fills >= c.venue_orders
    adopted = {p["client_id"] for k, p in events if k == "order_acknowledged" and p.get("recovered")}
    assert {cid for _, cid in killer.kills} <= adopted  # found at the venue by client id, never sent again
    report_figures("trade", len(points), c, len(adopted))
    verify = run_cli("-w", ws, "ledger", "verify")
    assert verify.exit_code == 0, verify.output
