"""`livegate trade` against the accelerated local exchange: production trading at the signed capital
level (its order and position cap refusing what is too large), the flags acting (a red flag makes
trading reduce-only and downscales), resumable; checked against the venue's own orders."""

from __future__ import annotations

import hashlib
import time

import pytest

from livegate.config.workspace import Workspace
from livegate.core.errors import GateClosed
from livegate.phases.microlive import runner
from tests.live.conftest import live_options
from tests.live.test_go_live import events, venue_client_ids
from tests.protocol_helpers import sign_off

LATER = ("4.1a", "4.1b", "4.1c", "4.1d", "production")


def make_prod(make_live_ws, operator_key, capital: float, value: float, **kwargs):
    """A live workspace on the sandbox whose production is signed off at `capital`; the Flip
    strategy buys `value` on one bar and sells it on the next."""
    root = make_live_ws(value=value, config={"capital": {"starting": capital}, **kwargs.pop("config", {})}, **kwargs)
    env = root / ".env"
    env.write_text(env.read_text().replace("MAX_TRADE_AMOUNT=10", "MAX_TRADE_AMOUNT=1000"))
    sign_off(root, operator_key, *LATER)
    return root


def trade(root, sandbox, key, **options):
    return runner.trade(Workspace(root), key, live_options(sandbox, **options))


def test_trade_needs_production_signed_off(make_live_ws, sandbox, operator_key, run_cli):
    root = make_live_ws()
    with pytest.raises(GateClosed, match="production is not signed off"):
        trade(root, sandbox, operator_key, max_seconds=60)
    out = run_cli("-w", root, "trade", "--max-hours", "0.01")
    assert out.exit_code == 3 and "production is not signed off" in out.output
    assert events(root, "stage_started") == []


def test_the_capital_levels_cap_refuses_a_larger_order_and_nothing_reaches_the_venue(make_live_ws, sandbox, operator_key):
    # 500 of capital is the Micro level: 10 per order and position. A 20 buy is within every other
    # limit (5 % of 500 = 25 per trade, MAX_TRADE_AMOUNT 1000), so only the level refuses it.
    root = make_prod(make_live_ws, operator_key, capital=500.0, value=20.0)
    outcome = trade(root, sandbox, operator_key, max_seconds=300)
    assert outcome.status == "paused", outcome.reason
    started = events(root, "stage_started")[-1][1]
    assert (started["stage"], started["level"], started["level_capital"]) == ("production", "Micro", 500.0)
    (_, limits), = events(root, "trade_limits")  # LIVE_MINIMAL: 2 % of the level at risk in all, 0.1 % per trade
    assert limits["mode"] == "LIVE_MINIMAL" and limits["position_cap"] == 10.0
    assert limits["max_total_capital"] == pytest.approx(0.02 * 500) and limits["max_single_trade_loss"] == pytest.approx(0.001 * 500)
    assert limits["max_position_size"] == 10.0
    blocked = [p for _, p in events(root, "order_blocked")]
    assert blocked, "the strategy asked for buys"
    for p in blocked:
        rules = {rule: message for rule, message in p["blocks"]}
        assert "stage_cap" in rules and "the Micro level's order cap 10.00" in rules["stage_cap"]
        assert "max_trade_amount" not in rules
    assert venue_client_ids(sandbox, root) == set()  # the venue's own record: no order reached it


def test_within_the_level_orders_trade_and_are_the_evidence_scale_reads(make_live_ws, sandbox, operator_key, run_cli):
    from livegate.phases.production.scaling import current_level, level_results

    root = make_prod(make_live_ws, operator_key, capital=500.0, value=8.0)
    outcome = trade(root, sandbox, operator_key, max_seconds=600)
    assert outcome.status == "paused", outcome.reason
    sent = {p["client_id"] for _, p in events(root, "order_sending")}
    assert sent and sent == venue_client_ids(sandbox, root)  # every order the venue has went through the gate, once
    trades = [p for _, p in events(root, "trade")]
    assert trades and all(p["run"] == outcome.run for p in trades)
    ws = Workspace(root)
    level = current_level(ws, ws.effective)
    results = level_results(ws, level, 2**62)
    assert results["trades"] == len(trades)
    assert results["net_pnl"] == pytest.approx(sum(p["net"] for p in trades))
    code, status, _ = run_cli.json("-w", root, "status", "--json")
    production = next(s for s in status["steps"] if s["step"] == "production")
    assert code == 0 and production["status"] == "signed" and "`livegate trade --sandbox-clock` resumes it" in production["detail"]
    again = trade(root, sandbox, operator_key, max_seconds=120)  # resumes the same run
    assert again.run == outcome.run and len(events(root, "stage_started")) == 1


LADDER = '''
from livegate.strategy import OrderIntent


class Ladder:
    """Buys `value` on two bars, sells half of what it holds on the third and the rest on the fourth."""

    def __init__(self, value=8.0):
        self.value, self.n = value, 0

    def on_bar(self, bar, ctx):
        step, self.n = self.n % 4, self.n + 1
        held = ctx.position(bar.symbol)
        if step < 2:
            return [OrderIntent(bar.symbol, "buy", quote_amount=self.value)]
        if held > 0:
            return [OrderIntent(bar.symbol, "sell", amount=held / 2 if step == 2 else held)]
        return []
'''


def test_a_red_flag_makes_trading_reduce_only_and_downscales_signed(make_live_ws, sandbox, operator_key, workspace, run_cli):
    (workspace / "strategies").mkdir(exist_ok=True)
    (workspace / "strategies" / "ladder.py").write_text(LADDER)
    # 1,000 is the Small level (50 per order); a losing trade is enough for the red flag here
    root = make_prod(make_live_ws, operator_key, capital=1000.0, value=8.0,
                     config={"strategy": {"ref": "strategies/ladder.py:Ladder", "params": {"value": 8.0}},
                             "scaling": {"auto_downscale": True}},
                     flags={"losing_streak_red": 1, "act_on_red": ["losing_streak"], "check_seconds": 1})
    outcome = trade(root, sandbox, operator_key, max_seconds=900)
    assert outcome.status == "paused", outcome.reason
    (reduce_id, reduce), = events(root, "reduce_only")
    assert reduce["source"] == "red flag: losing_streak"
    flag = [p for _, p in events(root, "flag_changed") if p["rule"] == "losing_streak"]
    assert flag[0]["level"] == "red" and flag[0]["value"] >= 1
    # the downscale: proposed, applied at once and signed; the loop traded the new level from then on
    (_, proposal), = events(root, "downscale_proposed")
    (scaled_id, scaled), = events(root, "capital_scaled")
    assert (proposal["from"], proposal["to"], proposal["applied_event"]) == (1000.0, 500.0, scaled_id)
    assert (scaled["from"], scaled["to"], scaled["direction"]) == (1000.0, 500.0, "down")
    (_, changed), = events(root, "trade_level_changed")
    assert (changed["to"], changed["level"], changed["position_cap"]) == (500.0, "Micro", 10.0)
    assert changed["max_total_capital"] == pytest.approx(0.02 * 500) and changed["max_single_trade_loss"] == pytest.approx(0.001 * 500)
    verified = run_cli("-w", root, "ledger", "verify")
    assert verified.exit_code == 0, verified.output  # the step is signed like one made by hand
    alerts = [p["message"] for _, p in events(root, "alert") if p.get("severity") == "critical"]
    assert any("reduce-only" in m and "scaled down to 500" in m for m in alerts)
    # from the reduce-only event on: buys refused, sells passing — as the venue itself recorded them
    sending = events(root, "order_sending")
    after = [p for i, p in sending if i > reduce_id]
    assert after and all(p["side"] == "sell" for p in after)
    refused = [p for i, p in events(root, "order_blocked") if i > reduce_id]
    assert refused and all(p["intent"]["side"] == "buy" and [b[0] for b in p["blocks"]] == ["reducing"] for p in refused)
    venue_buys = _venue_sides(sandbox, root)["buy"]
    assert venue_buys == {p["client_id"] for i, p in sending if p["side"] == "buy" and i < reduce_id}


def _venue_sides(sandbox, root) -> dict[str, set[str]]:
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines() if line.startswith("EXCHANGE_API_KEY="))

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        out: dict[str, set[str]] = {"buy": set(), "sell": set()}
        for o in account.orders.values():
            out[o.side.lower()].add(o.client_id)
        return out

    return sandbox._on_loop(read)


def test_a_day_and_a_week_ending_while_it_trades_write_their_reports_once(make_live_ws, sandbox, operator_key, http_receiver):
    from datetime import UTC, datetime

    hook = {"destinations": [{"url": http_receiver.url(), "min_severity": "info", "name": "ops hook"}], "retries": 0}
    root = make_prod(make_live_ws, operator_key, capital=500.0, value=8.0, config={"alerts": hook})
    market_ms = sandbox.venue.clock.market_ms
    sunday_night = datetime(2026, 3, 8, 23, 45, tzinfo=UTC).timestamp()  # a Sunday: the week ends with the day
    offset = sunday_night - market_ms() / 1000
    clock = lambda: market_ms() / 1000 + offset  # noqa: E731 - the loop's clock a quarter of an hour before midnight
    outcome = trade(root, sandbox, operator_key, max_seconds=3600, clock=clock)
    assert outcome.status == "paused", outcome.reason
    (_, daily), = events(root, "daily_report")
    (_, weekly), = events(root, "weekly_report")
    assert daily["period"] == "2026-03-08" and weekly["period"] == "2026-W10"
    for p in (daily, weekly):
        for fmt, name in p["files"].items():
            assert hashlib.sha256((root / name).read_bytes()).hexdigest() == p["sha256"][fmt]
    deadline = time.monotonic() + 10  # sent in the background: the loop never waits on a receiver
    while time.monotonic() < deadline:
        titles = [str(r["body"].get("title")) for r in http_receiver.requests]
        if any("daily summary 2026-03-08" in t for t in titles) and any("weekly reconciliation 2026-W10" in t for t in titles):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the reports were not delivered: {titles}")
    later = trade(root, sandbox, operator_key, max_seconds=120, clock=clock)  # the same days again: nothing written twice
    assert later.status == "paused" and len(events(root, "daily_report")) == 1 and len(events(root, "weekly_report")) == 1


def test_a_red_flag_acts_once_and_again_only_after_it_cleared(make_live_ws, sandbox, operator_key):
    """Firing and re-arming: the losing-streak flag turns red (reduce-only, a proposed downscale),
    stays red without acting twice, turns green after a win, and acts again at the next loss
    once the operator resumed. Driven by the run's own trade events in the ledger."""
    from livegate.ledger.journal import WriteThroughJournal
    from livegate.ledger.store import Ledger
    from livegate.phases.production import scaling
    from livegate.services import controls, modes
    from livegate.services.alerts import Alerter

    root = make_prod(make_live_ws, operator_key, capital=1000.0, value=8.0,
                     flags={"losing_streak_red": 2, "act_on_red": ["losing_streak"], "check_seconds": 1})
    ws = Workspace(root)
    live = runner.LiveRunner(ws, runner.PRODUCTION, operator_key, live_options(sandbox))
    live.level = scaling.current_level(ws, ws.effective)
    live.tier = scaling.tier_for(ws.effective, live.level.amount)
    live.alerter = Alerter(ws, key=operator_key)
    now = [1_800_000_000.0]
    live.o.clock = lambda: now[0]
    with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
        start = ledger.append("stage_started", {"stage": "production", "capital": 1000.0, "started_ms": 0, "symbols": ["BTC/USDT"],
                                                "config_fingerprint": ws.effective.fingerprint})
    run = f"lgl{start.id}"

    def close_trade(net: float) -> None:
        now[0] += 60
        with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
            ledger.append("trade", {"run": run, "symbol": "BTC/USDT", "side": "long", "opened_ms": int(now[0] * 1000) - 30_000,
                                    "closed_ms": int(now[0] * 1000), "amount": 0.0001, "entry_price": 80_000.0, "exit_price": 80_000.0,
                                    "gross": net + 0.01, "fee": 0.01, "net": net, "extra": {}})
        with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
            live._act_on_flags(run, ws.effective, WriteThroughJournal(ledger, run))

    def streak_changes() -> list[str]:
        return [p["level"] for _, p in events(root, "flag_changed") if p["rule"] == "losing_streak"]

    close_trade(-0.5)
    assert modes.reduce_state(ws) is None and streak_changes() == ["yellow"]  # one loss: yellow
    close_trade(-0.5)
    assert streak_changes() == ["yellow", "red"] and modes.reduce_state(ws) is not None
    close_trade(-0.5)  # still red: nothing more
    assert streak_changes() == ["yellow", "red"] and len(events(root, "reduce_only")) == 1
    assert len(events(root, "downscale_proposed")) == 1 and events(root, "capital_scaled") == []  # proposed, not applied
    controls.resume(ws, by="Test Operator", key=operator_key, reason="looked at it")
    close_trade(+1.0)  # a win: the streak is over
    assert streak_changes()[-1] == "green"
    close_trade(-0.5)
    close_trade(-0.5)  # red again: it acts again
    assert streak_changes()[-1] == "red" and len(events(root, "reduce_only")) == 2
    assert len(events(root, "downscale_proposed")) == 2
