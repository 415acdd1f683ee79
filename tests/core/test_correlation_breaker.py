"""The correlation breaker: trips when two return series it watches correlate above
`max_correlation` (either way) over a full window, holds for its own cooldown, re-arms with a
fresh window. Every expected correlation is computed here with numpy.corrcoef on the same
returns, worked out from the prices (and equity) the test feeds."""

from __future__ import annotations

import json
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest

from livegate.config.models import RiskLimitsFile
from livegate.core.breakers import CORRELATION, CircuitBreakers, Trip, correlation
from livegate.core.fills import MarketRules
from livegate.core.guardian import RiskState
from livegate.core.orders import BUY, SELL, Bar, OrderIntent
from livegate.services.trading import BACKTEST, assemble_engine
from tests.core.test_breakers import make_gateway
from tests.core.trading_helpers import Journal, limits, loose_rules

BTC, ETH, SOL = "BTC/USDT", "ETH/USDT", "SOL/USDT"
T0 = 1_704_067_200_000
TF = 60_000
MIN = 60_000


def closes_from(returns: np.ndarray, start: float = 100.0) -> list[float]:
    """Prices whose bar-to-bar returns are `returns` (one more price than returns)."""
    return [start, *(start * np.cumprod(1.0 + returns)).tolist()]


def market(n: int, beta: float, noise: float, seed: int = 7) -> dict[str, list[float]]:
    """BTC a random walk; ETH's returns `beta` times BTC's plus independent noise; SOL independent."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.01, n)
    return {BTC: closes_from(x), ETH: closes_from(beta * x + rng.normal(0.0, noise, n), 50.0),
            SOL: closes_from(rng.normal(0.0, 0.01, n), 20.0)}


def returns_of(prices: list[float]) -> np.ndarray:
    p = np.asarray(prices)
    return p[1:] / p[:-1] - 1.0


def expected_corr(a: list[float], b: list[float], step: int, window: int) -> float | None:
    """The correlation the breaker sees when bar `step` arrives: the `window` returns ending with
    the previous bar (return k is from price k-1 to price k), or None short of a full window."""
    last = step - 1
    if last - window + 1 < 1:
        return None
    ra, rb = returns_of(a[: last + 1]), returns_of(b[: last + 1])
    return float(np.corrcoef(ra[-window:], rb[-window:])[0, 1])


class Feed:
    """Feeds bars the way the engine does: bar `i` of every symbol opens at T0 + i·TF, and the
    first bar of a new bar time shows the breaker the one before (the recent bars, the symbols
    held, the equity `equity(i)` at its end)."""

    def __init__(self, cb: CircuitBreakers, prices: dict[str, list[float]], held, equity=None):
        self.cb, self.prices, self.held = cb, prices, held
        self.equity = equity or (lambda i: 10_000.0)
        self.bars: dict[str, deque[Bar]] = {s: deque(maxlen=500) for s in prices}
        self.done: int | None = None

    def __call__(self, steps: range, skip=()) -> list[tuple[int, Trip]]:
        trips = []
        for i in steps:
            if self.done is not None:
                ts, now = T0 + self.done * TF, T0 + i * TF
                trips += [(i, t) for t in self.cb.on_bar_time(ts, self.bars, self.held, self.equity(self.done), now)]
            for symbol, closes in self.prices.items():
                if (symbol, i) not in skip:
                    c = closes[i]
                    self.bars[symbol].append(Bar(symbol, T0 + i * TF, c, c, c, c, 1.0))
            self.done = i
        return trips


def feed(cb: CircuitBreakers, prices: dict[str, list[float]], held, steps: range, equity=None) -> list[tuple[int, Trip]]:
    """(bar index, trip) of every trip while bars `steps` arrive."""
    return Feed(cb, prices, held, equity)(steps)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correlation_is_pearson_as_numpy_computes_it(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    assert correlation(x.tolist(), y.tolist()) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    line = correlation(x.tolist(), (3 * x + 1).tolist())
    assert line == pytest.approx(1.0, abs=1e-12) and -1.0 <= line <= 1.0  # rounding never takes it past 1
    assert correlation(x.tolist(), [5.0] * 40) is None  # a flat series correlates with nothing


# -- open positions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, beta, noise, window", [
    ("y = 2x + noise", 2.0, 0.005, 20),
    ("y = -2x + noise (mirror images count)", -2.0, 0.005, 20),
    ("y = 2x + noise, longer window", 2.0, 0.01, 30),
    ("uncorrelated", 0.0, 0.01, 20),
])
def test_held_pair_trips_at_the_first_window_above_the_threshold(name, beta, noise, window):
    n = 120
    prices = market(n, beta, noise)
    held = {BTC, ETH}
    cb = CircuitBreakers(limits(), loose_rules(max_correlation=0.7, correlation_window=window))
    trips = feed(cb, {BTC: prices[BTC], ETH: prices[ETH]}, held, range(n + 1))
    corrs = {i: expected_corr(prices[BTC], prices[ETH], i, window) for i in range(n + 1)}
    first = next((i for i, c in corrs.items() if c is not None and abs(c) > 0.7), None)
    if first is None:
        assert trips == [], name
        return
    assert first == window + 1 or beta == 0.0  # a strong link trips on the first full window
    (i, trip), = trips
    assert i == first and trip.breaker == CORRELATION
    assert trip.value == pytest.approx(abs(corrs[first]), abs=1e-12) and trip.threshold == 0.7
    assert trip.evidence == {"pair": [BTC, ETH], "correlation": pytest.approx(corrs[first], abs=1e-12), "window": window}
    assert trip.at_ms == T0 + first * TF and trip.until_ms == trip.at_ms + 60 * MIN
    assert ("together" if beta > 0 else "as mirror images") in trip.message and BTC in trip.message


def test_uncorrelated_pair_never_trips_and_numpy_agrees_it_never_exceeded():
    prices = market(200, 0.0, 0.01)
    cb = CircuitBreakers(limits(), loose_rules(correlation_window=20))
    assert feed(cb, {BTC: prices[BTC], SOL: prices[SOL]}, {BTC, SOL}, range(201)) == []
    worst = max(abs(c) for i in range(201) if (c := expected_corr(prices[BTC], prices[SOL], i, 20)) is not None)
    assert worst < 0.7


@pytest.mark.parametrize("offset, trips", [(-1e-9, True), (+1e-9, False)])
def test_trips_above_the_threshold_not_at_or_below(offset, trips):
    window = 20
    prices = market(window + 1, 1.0, 0.01)
    c = expected_corr(prices[BTC], prices[ETH], window + 1, window)
    limit = abs(c) + offset
    cb = CircuitBreakers(limits(), loose_rules(max_correlation=limit, correlation_window=window))
    got = feed(cb, {BTC: prices[BTC], ETH: prices[ETH]}, {BTC, ETH}, range(window + 2))  # bar window+1 looks at 1..window
    assert [i for i, _ in got] == ([window + 1] if trips else [])


def test_only_pairs_held_at_once_count():
    n, window = 80, 20
    prices = market(n, 2.0, 0.005)  # BTC and ETH move together; SOL on its own
    for held in ({BTC}, {BTC, SOL}, {ETH, SOL}, set()):
        cb = CircuitBreakers(limits(), loose_rules(correlation_window=window))
        assert feed(cb, prices, held, range(n + 1)) == [], held
    cb = CircuitBreakers(limits(), loose_rules(correlation_window=window))
    (i, trip), = feed(cb, prices, {BTC, ETH, SOL}, range(n + 1))
    assert trip.evidence["pair"] == [BTC, ETH] and i == window + 1


def test_a_missing_bar_keeps_the_pair_short_of_a_full_window():
    window = 20
    prices = market(60, 2.0, 0.005)
    cb = CircuitBreakers(limits(), loose_rules(correlation_window=window))
    # ETH has no bar at 5: its returns at 5 and 6 are gone, the one at 6 spans two bars
    trips = Feed(cb, {BTC: prices[BTC], ETH: prices[ETH]}, {BTC, ETH})(range(61), skip={(ETH, 5)})
    # return times: BTC 1..60, ETH 1..4 and 6.. (its return at 6 spans bars 4 to 6). Twenty shared
    # return times in a row first end at 25 (6..25), seen when bar 26 arrives
    (i, trip), = trips
    assert i == 26
    btc, eth = prices[BTC], prices[ETH]
    btc_r = [btc[k] / btc[k - 1] - 1 for k in range(6, 26)]
    eth_r = [eth[6] / eth[4] - 1] + [eth[k] / eth[k - 1] - 1 for k in range(7, 26)]
    assert trip.evidence["correlation"] == pytest.approx(np.corrcoef(btc_r, eth_r)[0, 1], abs=1e-12)


# -- the strategy's returns against a symbol's ------------------------------------------------------------
def test_strategy_scope_compares_equity_returns_with_each_symbol():
    n, window = 60, 20
    prices = market(n, 0.0, 0.01)
    equity = [5_000.0 + 30.0 * c for c in prices[BTC]]  # 30 BTC held throughout: the strategy rides BTC
    cb = CircuitBreakers(limits(), loose_rules(correlation_window=window, correlation_scope="strategy"))
    (i, trip), = feed(cb, {BTC: prices[BTC], SOL: prices[SOL]}, {BTC}, range(n + 1), equity=lambda k: equity[k])
    assert i == window + 1 and trip.evidence["pair"] == ["strategy", BTC]
    assert trip.value == pytest.approx(abs(expected_corr(equity, prices[BTC], i, window)), abs=1e-12)
    assert "the strategy's returns and BTC/USDT's moved together" in trip.message


def test_strategy_scope_flat_equity_and_positions_scope_one_symbol_never_trip():
    prices = market(60, 0.0, 0.01)
    equity = [5_000.0 + 30.0 * c for c in prices[BTC]]
    flat = CircuitBreakers(limits(), loose_rules(correlation_window=20, correlation_scope="both"))
    assert feed(flat, {BTC: prices[BTC], SOL: prices[SOL]}, set(), range(61)) == []  # equity never moves
    one = CircuitBreakers(limits(), loose_rules(correlation_window=20, correlation_scope="positions"))
    assert feed(one, {BTC: prices[BTC], SOL: prices[SOL]}, {BTC}, range(61), equity=lambda k: equity[k]) == []


# -- cooldown and re-arm ------------------------------------------------------------------------------------
def test_cooldown_then_rearm_with_a_fresh_window_then_trips_again():
    n, window = 200, 20
    prices = market(n, 2.0, 0.005)
    cb = CircuitBreakers(limits(), loose_rules(correlation_window=window, cooldown_minutes=5, correlation_cooldown_minutes=30))
    st = RiskState(peak_equity=10_000.0, equity=10_000.0)
    st.mark(T0, 10_000.0)
    both = Feed(cb, {BTC: prices[BTC], ETH: prices[ETH]}, {BTC, ETH})
    (i, trip), = both(range(window + 2))
    assert trip.until_ms == trip.at_ms + 30 * MIN  # the correlation breaker's own cooldown, not cooldown_minutes
    assert [t.breaker for t in cb.active()] == [CORRELATION]
    # still tripped: no second trip while the bars go on, and no re-arm before the cooldown ends
    start = (trip.until_ms - T0) // TF  # bar 51: 30 minutes after the trip at bar 21
    assert both(range(window + 2, start)) == []
    assert cb.on_equity(st, trip.until_ms - 1) == ([], [])
    new, rearmed = cb.on_equity(st, trip.until_ms)
    assert new == [] and [t.breaker for t in rearmed] == [CORRELATION] and cb.active() == []
    assert cb.corr.since_ts == trip.until_ms  # a fresh window: returns of bars opened from now on
    # re-armed before bar 51: returns 51..70 are the new window, seen when bar 71 arrives
    again = both(range(start, n + 1))
    assert again[0][0] == start + window
    assert again[0][1].value == pytest.approx(abs(expected_corr(prices[BTC], prices[ETH], start + window, window)), abs=1e-12)


def test_gateway_refuses_buys_but_lets_sells_reduce_while_correlation_is_tripped():
    gw, journal = make_gateway(rules=loose_rules(correlation_window=10))
    prices = market(20, 2.0, 0.005)
    trips = feed(gw.breakers, {BTC: prices[BTC], ETH: prices[ETH]}, {BTC, ETH}, range(12))
    for _, t in trips:
        gw.on_trip(t)
    (event,) = journal.of("breaker_trip")
    assert event["breaker"] == CORRELATION and event["evidence"]["pair"] == [BTC, ETH] and event["evidence"]["window"] == 10
    bought = gw.submit(OrderIntent(BTC, BUY, quote_amount=10.0), T0 + 13 * TF)
    assert [b.rule for b in bought.blocks] == ["breaker:correlation"]
    sold = gw.submit(OrderIntent(BTC, SELL), T0 + 13 * TF)
    assert "breaker:correlation" not in [b.rule for b in sold.blocks]  # selling lowers the concentration


def test_other_trips_keep_their_payload():
    cb = CircuitBreakers(limits(consecutive_losses_halt=1), loose_rules())
    (trip,) = cb.on_trade(-1.0, T0)
    assert "evidence" not in trip.to_dict()


# -- persistence -------------------------------------------------------------------------------------------------
def test_restored_breakers_continue_the_window_exactly():
    n, window = 60, 20
    prices = market(n, 2.0, 0.005)
    rules = loose_rules(correlation_window=window, correlation_scope="both")
    equity = [5_000.0 + 20.0 * b + 40.0 * e for b, e in zip(prices[BTC], prices[ETH])]
    a = CircuitBreakers(limits(), rules)
    feed_a = Feed(a, {BTC: prices[BTC], ETH: prices[ETH]}, {BTC, ETH}, equity=lambda k: equity[k])
    assert feed_a(range(15)) == []
    b = CircuitBreakers(limits(), rules)
    b.restore(json.loads(json.dumps(a.to_dict())))  # as a checkpoint stores it
    assert b.to_dict() == a.to_dict() and list(b.corr.strategy) == list(a.corr.strategy) != []
    feed_b = Feed(b, feed_a.prices, feed_a.held, feed_a.equity)  # the engine's recent bars, rebuilt on resume
    feed_b.bars, feed_b.done = {s: deque(q, maxlen=500) for s, q in feed_a.bars.items()}, feed_a.done
    rest = range(15, n + 1)
    got_a, got_b = feed_a(rest), feed_b(rest)
    assert got_a and got_a == got_b


# -- in the engine: a checkpoint and resume trips at the same bar ---------------------------------------------
class BuyBoth:
    """Buys each symbol on its 2nd bar and holds; its counts are its state (exact resume)."""

    def __init__(self):
        self.seen: dict[str, int] = {}

    def on_bar(self, bar, ctx):
        n = self.seen[bar.symbol] = self.seen.get(bar.symbol, 0) + 1
        return [OrderIntent(bar.symbol, BUY, quote_amount=500.0)] if n == 2 else None

    def state(self):
        return {"seen": dict(self.seen)}

    def restore(self, data):
        self.seen = dict(data["seen"])


@pytest.mark.parametrize("scope", ["positions", "both"])
@pytest.mark.parametrize("cut", [31, 40, 42, 47])  # inside a bar time (BTC seen, ETH not) or between two; 42: just before the trip
def test_engine_resumed_from_a_checkpoint_trips_as_the_unbroken_run(cut, scope):
    window = 20
    prices = market(60, 2.0, 0.005)
    bars = [Bar(s, T0 + i * TF, p[i], p[i] * 1.001, p[i] * 0.999, p[i], 1e6) for i in range(61) for s, p in
            ((BTC, prices[BTC]), (ETH, prices[ETH]))]
    rules = {s: MarketRules(s, step=1e-6, min_amount=1e-6, tick=1e-6, min_notional=1.0) for s in (BTC, ETH)}
    risk = RiskLimitsFile(live_trading=limits(), circuit_breakers=loose_rules(correlation_window=window, correlation_scope=scope))
    effective = SimpleNamespace(risk=risk, config=SimpleNamespace(capital=SimpleNamespace(starting=10_000.0),
                                                                  exchange=SimpleNamespace(timeframe="1m")))
    ja, jb = Journal(), Journal()
    a = assemble_engine(BACKTEST, effective, BuyBoth(), rules, ja, "run1")
    for bar in bars[:cut]:
        a.on_bar(bar)
    saved = json.loads(json.dumps(a.state_dict()))
    b = assemble_engine(BACKTEST, effective, BuyBoth(), rules, jb, "run1", saved=saved)
    for bar in bars[max(0, cut - 500):cut]:  # the paper runner's warm-up: the recent bars again, nothing traded
        b.on_bar(bar, trade=False, call_strategy=False)
    mark = len(ja.events)
    for bar in bars[cut:]:
        a.on_bar(bar)
        b.on_bar(bar)
    assert ja.events[mark:] == jb.events
    (trip,) = [p for k, p in ja.events if k == "breaker_trip"]
    if scope == "both":  # the strategy holds both: its equity moves with them (most with ETH, the larger mover)
        assert trip["evidence"]["pair"] == ["strategy", ETH] and trip["value"] > 0.7
        return
    assert trip["breaker"] == CORRELATION and trip["evidence"]["pair"] == [BTC, ETH]
    # the bar after bar time 20 (bar 21, closing at 22·TF) looks at returns 1..20
    assert trip["at_ms"] == T0 + 22 * TF
    assert trip["value"] == pytest.approx(abs(expected_corr(prices[BTC], prices[ETH], 21, window)), abs=1e-12)
