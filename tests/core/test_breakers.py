"""Circuit breakers (seed 001 §3.2, seed 004 "Emergency Triggers"): each trips at its
threshold and not below, holds for its cooldown, and re-arms only once its condition has
cleared. Drawdown is measured from PEAK equity, never P&L since the start."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from livegate.config.models import CircuitBreakerRules, GuardianRules
from livegate.core.breakers import BREAKERS, CircuitBreakers
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import DAY_MS, HOUR_MS, RiskGuardian, RiskState
from livegate.core.orders import BUY, LIMIT, SELL, Fill, OrderIntent
from livegate.core.portfolio import Portfolio, Position
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules  # noqa: F401

BTC = "BTC/USDT"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a Monday
MIN = 60_000








def at(day: float, hour: float = 0.0) -> int:
    return T0 + int(day * DAY_MS + hour * HOUR_MS)


def run_marks(cb: CircuitBreakers, marks, start=10_000.0) -> tuple[RiskState, list[str]]:
    """Mark equity at each (ms, equity) and check the equity breakers after each mark."""
    st = RiskState(peak_equity=start, equity=start)
    tripped = []
    for ms, eq in marks:
        st.mark(ms, eq)
        new, _ = cb.on_equity(st, ms)
        tripped += [t.breaker for t in new]
    return st, tripped


# -- equity breakers ---------------------------------------------------------------------------
EQUITY_CASES = [
    # daily_loss_usd, limit 100: day open 10000 -> 9900 is 100 lost: trips at the threshold
    ("daily usd at", {"max_daily_loss": 100.0}, {}, [(at(0), 10_000.0), (at(0, 12), 9_900.0)], ["daily_loss_usd"]),
    ("daily usd below", {"max_daily_loss": 100.0}, {}, [(at(0), 10_000.0), (at(0, 12), 9_900.01)], []),
    # UTC day: 60 lost on day 0 by 23:00, 60 more on day 1 by noon — 120 within 13 h, but 60 per UTC day
    ("daily usd per UTC day", {"max_daily_loss": 100.0}, {},
     [(at(0), 10_000.0), (at(0, 23), 9_940.0), (at(1, 0.01), 9_940.0), (at(1, 12), 9_880.0)], []),
    ("daily usd same day", {"max_daily_loss": 100.0}, {},
     [(at(0), 10_000.0), (at(0, 23), 9_940.0), (at(0, 23.5), 9_880.0)], ["daily_loss_usd"]),
    # daily_loss_pct 5 %: 500 / 10000
    ("daily pct at", {}, {"daily_loss_pct": 0.05}, [(at(0), 10_000.0), (at(0, 1), 9_500.0)], ["daily_loss_pct"]),
    ("daily pct below", {}, {"daily_loss_pct": 0.05}, [(at(0), 10_000.0), (at(0, 1), 9_500.5)], []),
    # weekly_loss_usd 200 over Mon..Sun (each day's first mark opens that day: day losses 0)
    ("weekly usd at", {"max_weekly_loss": 200.0}, {}, [(at(0), 10_000.0), (at(2), 9_900.0), (at(6, 23), 9_800.0)], ["weekly_loss_usd"]),
    ("weekly usd below", {"max_weekly_loss": 200.0}, {}, [(at(0), 10_000.0), (at(2), 9_900.0), (at(6, 23), 9_800.01)], []),
    # ISO week: Sunday 23:00 down 150, the week restarts Monday 00:00 UTC; 150 more on Monday is
    # 300 in 13 hours but 150 in each week
    ("weekly usd ISO week", {"max_weekly_loss": 200.0}, {},
     [(at(0), 10_000.0), (at(6, 23), 9_850.0), (at(7), 9_850.0), (at(7, 12), 9_700.0)], []),
    ("weekly usd same week", {"max_weekly_loss": 200.0}, {},
     [(at(0), 10_000.0), (at(6, 22), 9_850.0), (at(6, 23), 9_700.0)], ["weekly_loss_usd"]),
    # weekly_loss_pct 10 %: 10000 Monday -> 9000 Friday, a little each day
    ("weekly pct at", {}, {"weekly_loss_pct": 0.10},
     [(at(0), 10_000.0), (at(1), 9_700.0), (at(2), 9_400.0), (at(3), 9_100.0), (at(4), 9_000.0)], ["weekly_loss_pct"]),
    ("weekly pct below", {}, {"weekly_loss_pct": 0.10},
     [(at(0), 10_000.0), (at(1), 9_700.0), (at(2), 9_400.0), (at(3), 9_100.0), (at(4), 9_000.5)], []),
    # total drawdown 25 % from the peak (exact in floats: 15000 / 20000 = 0.75)
    ("drawdown at", {"drawdown_halt_pct": 0.25}, {}, [(at(0), 10_000.0), (at(10), 20_000.0), (at(30), 15_000.0)], ["total_drawdown"]),
    ("drawdown below", {"drawdown_halt_pct": 0.25}, {}, [(at(0), 10_000.0), (at(10), 20_000.0), (at(30), 15_000.5)], []),
    # seed 001 default 15 %: 17000 / 20000 → 15.0 %; 17001 → 14.995 %
    ("drawdown 15 at", {"drawdown_halt_pct": 0.15}, {}, [(at(0), 10_000.0), (at(10), 20_000.0), (at(30), 17_000.0)], ["total_drawdown"]),
    ("drawdown 15 below", {"drawdown_halt_pct": 0.15}, {}, [(at(0), 10_000.0), (at(10), 20_000.0), (at(30), 17_001.0)], []),
]


@pytest.mark.parametrize("name, lim, rules, marks, expected", EQUITY_CASES, ids=[c[0] for c in EQUITY_CASES])
def test_equity_breakers(name, lim, rules, marks, expected):
    cb = CircuitBreakers(limits(**lim), loose_rules(**rules))
    _, tripped = run_marks(cb, marks)
    assert tripped == expected
    assert [t.breaker for t in cb.active()] == expected


def test_drawdown_is_measured_from_peak_not_from_the_start():
    """The Hummingbot bug: a run that first doubles, then gives back 20 % of its peak is still
    +60 % since the start — P&L-since-start would never trip. Ours must."""
    cb = CircuitBreakers(limits(drawdown_halt_pct=0.15, max_daily_loss=1e5, max_weekly_loss=1e5), CircuitBreakerRules())
    st, tripped = run_marks(cb, [(at(0), 10_000.0), (at(5), 15_000.0), (at(10), 20_000.0), (at(20), 16_000.0)])
    assert st.equity - 10_000.0 == 6_000.0  # P&L since the start is positive
    assert st.drawdown == pytest.approx(0.20)  # 1 − 16000 / 20000
    assert tripped == ["total_drawdown"]  # and nothing else: each mark opened a new day and week
    (trip,) = cb.active()
    assert trip.value == pytest.approx(0.20) and trip.threshold == 0.15
    assert "from peak equity 20000.00" in trip.message


# -- trade breakers -------------------------------------------------------------------------------
def feed_trades(cb, nets):
    out = []
    for i, net in enumerate(nets):
        out += [t.breaker for t in cb.on_trade(net, T0 + i * MIN)]
    return out


@pytest.mark.parametrize(
    "nets, expected",
    [
        ([-1.0] * 4, []),
        ([-1.0] * 5, ["consecutive_losses"]),  # the 5th loss in a row trips
        ([-1.0] * 4 + [0.0] + [-1.0] * 4, []),  # a zero-PnL trade breaks the streak (SPEC §10)
        ([-1.0] * 4 + [2.0] + [-1.0] * 4, []),
        ([-1.0] * 4 + [0.0] + [-1.0] * 5, ["consecutive_losses"]),
    ],
)
def test_consecutive_losses(nets, expected):
    cb = CircuitBreakers(limits(consecutive_losses_halt=5), loose_rules())
    assert feed_trades(cb, nets) == expected


def test_consecutive_losses_trip_records_the_streak():
    cb = CircuitBreakers(limits(consecutive_losses_halt=3), loose_rules())
    feed_trades(cb, [-1.0, -2.0, -3.0])
    (trip,) = cb.active()
    assert (trip.breaker, trip.value, trip.threshold, trip.at_ms) == ("consecutive_losses", 3, 3, T0 + 2 * MIN)
    assert "3 losing trades in a row" in trip.message


W, L = 1.0, -1.0


@pytest.mark.parametrize(
    "nets, expected",
    [
        ([L] * 9, []),  # 0 % but the window of 10 is not full yet
        ([L] * 10, ["win_rate_floor"]),
        ([W, W, W, W, L, L, L, L, L, L], []),  # 4 / 10 = 40 %: at the floor, not below
        ([W, W, W, W, L, L, L, L, L, L, L], ["win_rate_floor"]),  # the first W leaves: 3 / 10 = 30 %
        ([W, W, W, 0.0, L, L, L, L, L, L], ["win_rate_floor"]),  # a zero trade is not a win: 3 / 10
    ],
)
def test_win_rate_floor_only_once_the_window_is_full(nets, expected):
    cb = CircuitBreakers(limits(consecutive_losses_halt=100), loose_rules(min_win_rate=0.4, win_rate_window=10))
    assert feed_trades(cb, nets) == expected


# -- API breakers -----------------------------------------------------------------------------------
def feed_api(cb, calls):
    out = []
    for i, (ok, latency) in enumerate(calls):
        out += [t.breaker for t in cb.on_api_call(ok, latency, T0 + i * 1000)]
    return out


OK, FAIL = (True, 0.1), (False, 0.1)


@pytest.mark.parametrize(
    "calls, expected",
    [
        # window 50 -> at least 10 calls before judging
        ([FAIL] * 9, []),
        ([FAIL] * 9 + [OK], ["api_error_rate"]),  # 9 / 10 failed
        ([OK] * 8 + [FAIL, OK], []),  # 1 / 10 = 10 %
        ([OK] * 8 + [FAIL, FAIL], ["api_error_rate"]),  # 2 / 10 = 20 %: at the threshold
        ([OK] * 40 + [FAIL] * 9, []),  # 9 / 49 = 18.4 %
        ([OK] * 40 + [FAIL] * 10, ["api_error_rate"]),  # 10 / 50 = 20 %
        ([FAIL] * 10 + [OK] * 50, ["api_error_rate"]),  # tripped once, not again while tripped
    ],
)
def test_api_error_rate(calls, expected):
    cb = CircuitBreakers(limits(), loose_rules(api_error_rate=0.2, api_window=50))
    assert feed_api(cb, calls) == expected


@pytest.mark.parametrize(
    "latencies, expected",
    [
        # 4 very slow calls and 6 fast: mean 12.06 s but median 0.1 s -> no trip (median, not mean)
        ([30.0] * 4 + [0.1] * 6, []),
        # 5 slow / 5 fast: median (3.0 + 0.1) / 2 = 1.55 s
        ([3.0] * 5 + [0.1] * 5, []),
        # 6 slow: median 3.0 s > 2 s
        ([3.0] * 6 + [0.1] * 4, ["api_latency"]),
        # seed 004: "> 2 s": exactly 2 s is not high
        ([2.0] * 10, []),
        ([2.01] * 10, ["api_latency"]),
    ],
)
def test_api_latency_median(latencies, expected):
    cb = CircuitBreakers(limits(), loose_rules(api_latency_seconds=2.0, api_window=50))
    assert feed_api(cb, [(True, x) for x in latencies]) == expected


# -- cooldown and re-arm -------------------------------------------------------------------------------
def now_ms() -> int:
    return int(time.time() * 1000)


def test_cooldown_then_rearm_once_the_condition_cleared():
    with freeze_time("2024-01-03 09:00:00") as frozen:
        cb = CircuitBreakers(limits(max_daily_loss=100.0), loose_rules(cooldown_minutes=30))
        st = RiskState(peak_equity=10_000.0, equity=10_000.0)
        st.mark(now_ms(), 10_000.0)
        frozen.tick(60)
        st.mark(now_ms(), 9_850.0)
        new, rearmed = cb.on_equity(st, now_ms())
        assert [t.breaker for t in new] == ["daily_loss_usd"] and rearmed == []
        trip_at = new[0].at_ms
        assert new[0].until_ms == trip_at + 30 * MIN
        # equity recovers at once, but the cooldown holds
        frozen.tick(60)
        st.mark(now_ms(), 9_990.0)
        assert cb.on_equity(st, now_ms()) == ([], [])
        frozen.move_to(datetime.fromtimestamp(trip_at / 1000, tz=UTC) + timedelta(minutes=30, seconds=-1))
        assert now_ms() == trip_at + 30 * MIN - 1000
        assert cb.on_equity(st, now_ms()) == ([], [])
        assert [t.breaker for t in cb.active()] == ["daily_loss_usd"]
        frozen.tick(1)
        new, rearmed = cb.on_equity(st, now_ms())
        assert new == [] and [t.breaker for t in rearmed] == ["daily_loss_usd"]
        assert rearmed[0].at_ms == trip_at
        assert cb.active() == []


def test_drawdown_trip_holds_past_the_cooldown_until_equity_recovers():
    with freeze_time("2024-01-03 09:00:00") as frozen:
        cb = CircuitBreakers(limits(drawdown_halt_pct=0.15), loose_rules(cooldown_minutes=30))
        st = RiskState(peak_equity=10_000.0, equity=10_000.0)
        st.mark(now_ms(), 12_000.0)  # peak 12000
        frozen.tick(timedelta(hours=1))
        st.mark(now_ms(), 10_000.0)  # 1 − 10000 / 12000 = 16.7 % from the peak (still above the start)
        new, _ = cb.on_equity(st, now_ms())
        assert [t.breaker for t in new] == ["total_drawdown"]
        frozen.tick(timedelta(minutes=45))  # past the cooldown
        st.mark(now_ms(), 10_100.0)  # 15.8 %: still beyond the threshold
        assert cb.on_equity(st, now_ms()) == ([], [])
        assert [t.breaker for t in cb.active()] == ["total_drawdown"]
        frozen.tick(timedelta(hours=5))
        st.mark(now_ms(), 10_200.0)  # 1 − 10200 / 12000 = 15 % exactly: still at the threshold
        assert cb.on_equity(st, now_ms()) == ([], [])
        frozen.tick(timedelta(minutes=1))
        st.mark(now_ms(), 10_300.0)  # 14.2 %: cleared
        new, rearmed = cb.on_equity(st, now_ms())
        assert new == [] and [t.breaker for t in rearmed] == ["total_drawdown"]
        assert cb.active() == []


def test_trade_and_api_breakers_rearm_after_cooldown_with_a_fresh_count():
    with freeze_time("2024-01-03 09:00:00") as frozen:
        cb = CircuitBreakers(limits(consecutive_losses_halt=3), loose_rules(cooldown_minutes=30, api_error_rate=0.2, api_window=10))
        st = RiskState(peak_equity=10_000.0, equity=10_000.0)
        st.mark(now_ms(), 10_000.0)
        assert [t.breaker for t in sum((cb.on_trade(-1.0, now_ms()) for _ in range(3)), [])] == ["consecutive_losses"]
        assert [t.breaker for t in sum((cb.on_api_call(False, 0.1, now_ms()) for _ in range(5)), [])] == ["api_error_rate"]
        frozen.tick(29 * 60)
        assert cb.on_equity(st, now_ms()) == ([], [])
        frozen.tick(60)
        new, rearmed = cb.on_equity(st, now_ms())
        assert sorted(t.breaker for t in rearmed) == ["api_error_rate", "consecutive_losses"]
        assert cb.streak == 0 and len(cb.api) == 0 and len(cb.results) == 0
        # a fresh count: one more loss is not a 4th in a row
        assert cb.on_trade(-1.0, now_ms()) == []
        assert [t.breaker for t in cb.on_trade(-1.0, now_ms()) + cb.on_trade(-1.0, now_ms())] == ["consecutive_losses"]


# -- the gateway while a breaker is tripped ---------------------------------------------------------------
RULES = {BTC: MarketRules(BTC, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)}


def make_gateway(lim=None, rules=None):
    lim = lim or limits()
    acct = Portfolio(cash=9_900.0, positions={BTC: Position(1.0, 100.0, 0.1, T0)}, last_price={BTC: 100.0})
    st = RiskState(peak_equity=10_000.0, equity=10_000.0)
    st.mark(T0, 10_000.0)
    journal = Journal()
    ex = PaperExecutor(RULES)
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules()), breakers=CircuitBreakers(lim, rules or loose_rules()),
                      executor=ex, account=acct, state=st, rules=RULES, journal=journal, id_prefix="b")
    return gw, journal


def test_gateway_blocks_every_order_while_tripped_and_a_trip_cancels_open_orders():
    gw, journal = make_gateway(limits(max_daily_loss=40.0))
    now = T0 + HOUR_MS
    resting = gw.submit(OrderIntent(BTC, BUY, amount=1.0, type=LIMIT, price=90.0), now)
    assert resting.accepted and len(gw.executor.open_orders()) == 1
    gw.account.last_price[BTC] = 50.0  # the 1 BTC held halves: equity 9900 + 50 = 9950, 50 below the day's 10000
    gw.state.mark(now, gw.account.equity())
    new, _ = gw.breakers.on_equity(gw.state, now)
    assert [t.breaker for t in new] == ["daily_loss_usd"]
    gw.on_trip(new[0])
    assert gw.executor.open_orders() == [] and resting.order.status == "canceled"
    (trip_event,) = journal.of("breaker_trip")
    assert trip_event["breaker"] == "daily_loss_usd" and trip_event["value"] == pytest.approx(50.0)
    assert journal.of("order_canceled") == [{"client_id": resting.order.client_id, "reason": "breaker daily_loss_usd"}]
    for intent, origin in (
        (OrderIntent(BTC, BUY, quote_amount=10.0), "strategy"),
        (OrderIntent(BTC, SELL), "strategy"),
        (OrderIntent(BTC, SELL, reason="max_single_trade_loss reached"), "guardian"),
        (OrderIntent(BTC, SELL), "operator"),
    ):
        d = gw.submit(intent, now + MIN, origin=origin)
        assert not d.accepted and [b.rule for b in d.blocks] == ["breaker:daily_loss_usd"]
    blocked = journal.of("order_blocked")
    assert [e["origin"] for e in blocked] == ["strategy", "strategy", "guardian", "operator"]
    assert all(e["blocks"][0][0] == "breaker:daily_loss_usd" for e in blocked)
    assert len(journal.of("order_placed")) == 1  # only the first, before the trip


def test_every_tripped_breaker_is_listed_in_the_block():
    gw, journal = make_gateway(limits(consecutive_losses_halt=1), loose_rules(api_error_rate=0.2, api_window=10))
    for t in gw.breakers.on_trade(-1.0, T0):
        gw.on_trip(t)
    for _ in range(5):
        for t in gw.breakers.on_api_call(False, 0.1, T0):
            gw.on_trip(t)
    d = gw.submit(OrderIntent(BTC, SELL), T0 + MIN)
    assert [b.rule for b in d.blocks] == ["breaker:consecutive_losses", "breaker:api_error_rate"]
    assert [e["breaker"] for e in journal.of("breaker_trip")] == ["consecutive_losses", "api_error_rate"]


def test_losing_trades_settled_through_the_gateway_trip_and_cancel():
    gw, journal = make_gateway(limits(consecutive_losses_halt=2))
    gw.submit(OrderIntent(BTC, BUY, amount=0.5, type=LIMIT, price=80.0), T0 + MIN)
    assert len(gw.executor.open_orders()) == 1
    # two losing exits of the 1 BTC held (entry 100): sold at 95
    for i in range(2):
        fill = Fill(f"x{i}", BTC, SELL, 0.5, 95.0, 0.0475, "taker", T0 + (2 + i) * MIN, 100.0, 500.0, "model")
        gw.settle([fill], T0 + (2 + i) * MIN)
    assert [t.net < 0 for t in gw.trades] == [True, True]
    assert [e["breaker"] for e in journal.of("breaker_trip")] == ["consecutive_losses"]
    assert gw.executor.open_orders() == []
    assert journal.of("order_canceled")[0]["reason"] == "breaker consecutive_losses"
    kinds = [k for k, _ in journal.events]
    assert kinds == ["order_placed", "fill", "trade", "fill", "trade", "breaker_trip", "order_canceled"]


# -- persistence -----------------------------------------------------------------------------------------
def test_to_dict_restore_round_trip():
    lim, rules = limits(consecutive_losses_halt=3, drawdown_halt_pct=0.15), loose_rules(min_win_rate=0.5, win_rate_window=4, api_window=10)
    cb = CircuitBreakers(lim, rules)
    feed_trades(cb, [1.0, -1.0, -1.0])
    feed_api(cb, [OK, FAIL, (True, 0.7)])
    st = RiskState(peak_equity=10_000.0, equity=10_000.0)
    st.mark(at(0), 10_000.0)
    st.mark(at(3), 8_000.0)
    cb.on_equity(st, at(3))
    saved = json.loads(json.dumps(cb.to_dict()))  # as a checkpoint stores it
    other = CircuitBreakers(lim, rules)
    other.restore(saved)
    assert other.to_dict() == cb.to_dict()
    assert [t.breaker for t in other.active()] == ["total_drawdown"]
    assert other.active()[0] == cb.active()[0]
    assert (other.streak, list(other.results), list(other.api)) == (2, [True, False, False], [(True, 0.1), (False, 0.1), (True, 0.7)])
    assert other.results.maxlen == 4 and other.api.maxlen == 10
    # it continues exactly where the original would: a third loss trips both copies
    assert [t.breaker for t in other.on_trade(-1.0, at(3))] == [t.breaker for t in cb.on_trade(-1.0, at(3))] == ["consecutive_losses", "win_rate_floor"]
    # and the restored risk state re-arms the drawdown trip on recovery
    st2 = RiskState.from_dict(json.loads(json.dumps(st.to_dict())))
    st2.mark(at(4), 9_000.0)
    _, rearmed = other.on_equity(st2, at(4))
    assert "total_drawdown" in [t.breaker for t in rearmed]


def test_breaker_names():
    assert set(BREAKERS) == {"daily_loss_usd", "daily_loss_pct", "weekly_loss_usd", "weekly_loss_pct", "total_drawdown",
                             "consecutive_losses", "win_rate_floor", "api_error_rate", "api_latency", "correlation"}
