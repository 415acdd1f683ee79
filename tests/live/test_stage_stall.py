"""A stage that makes no progress stops by itself: `StallWatch`, fed once per bar with what the
strategy asked and what the gateway accepted, says so after N bars in a row on which the
strategy asked and nothing was accepted — refusals that only wait (a breaker's cooldown, the
throttles, an approval) neither count nor reset it."""

from __future__ import annotations

import pytest

from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import Engine
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, Bar, OrderIntent
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor
from livegate.phases.microlive.stage import STALL_BARS, StallWatch
from tests.core.trading_helpers import Journal, limits, loose_rules


def feed(watch, bars):
    """Feed (asked, accepted, refusals) per bar; the 1-based bars at which a Stall came back."""
    return [i for i, (asked, accepted, refusals) in enumerate(bars, 1) if watch.on_bar(asked, accepted, refusals) is not None]


REFUSED = (1, 0, ["NOTIONAL"])
QUIET = (0, 0, [])
ACCEPTED = (1, 1, [])


@pytest.mark.parametrize("bars, fired", [
    ([REFUSED] * 3, [3]),  # three refused bars in a row: the limit
    ([REFUSED] * 2, []),
    ([REFUSED, REFUSED, ACCEPTED, REFUSED, REFUSED], []),  # an accepted order starts the count again
    ([REFUSED, QUIET, QUIET, REFUSED, QUIET, REFUSED], [6]),  # bars without asks neither count nor reset
    ([REFUSED, (1, 0, ["breaker:daily_loss_pct"]), (2, 0, ["max_trades_per_hour", "approval"]), REFUSED, REFUSED], [5]),
    ([REFUSED] * 5, [3, 4, 5]),  # said again every bar until something is accepted
    ([(1, 0, ["stage_cap", "max_trade_amount"])] * 3, [3]),  # caps that refuse the same ask every time count
    ([(1, 0, ["a_rule_not_known_here"])] * 3, [3]),  # fail closed: an unknown refusal counts
    ([(1, 0, [])] * 3, [3]),  # no reasons given: counts
])
def test_the_watch_fires_after_n_refused_asking_bars(bars, fired):
    assert feed(StallWatch(limit=3), bars) == fired


def test_the_stall_says_what_refused_the_asks():
    watch = StallWatch(limit=2)
    assert watch.on_bar(2, 0, ["NOTIONAL", "dust"]) is None
    stall = watch.on_bar(1, 0, ["NOTIONAL", "breaker:consecutive_losses"])
    assert (stall.bars, stall.asked, stall.refusals) == (2, 3, {"NOTIONAL": 2, "dust": 1})
    assert stall.message == ("no progress: on 2 bars in a row the strategy asked for an order (3 in all) and none was "
                             "accepted (refused by NOTIONAL ×2, dust ×1)")
    assert stall.to_dict()["refusals"] == {"NOTIONAL": 2, "dust": 1}


def test_the_default_limit_and_bad_limits():
    assert StallWatch().limit == STALL_BARS == 30
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="whole number of bars"):
            StallWatch(limit=bad)


def test_a_strategy_whose_buys_the_stage_cap_refuses_stalls_through_the_engine():
    """The wiring the go-live loop uses: after each `engine.on_bar(bar)`,
    `watch.on_bar(engine.asked, engine.accepted, engine.refusals)`."""
    sym = "BTC/USDT"
    rules = {sym: MarketRules(sym, step=0.00001, min_amount=0.00001, tick=0.01, min_notional=5.0)}
    lim = limits()
    account = Portfolio(cash=1_000.0)
    state = RiskState(peak_equity=1_000.0, equity=1_000.0)
    breakers = CircuitBreakers(lim, loose_rules())
    executor = PaperExecutor(rules)
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules(max_trade_pct=1.0)), breakers=breakers, executor=executor,
                      account=account, state=state, rules=rules, journal=Journal(), id_prefix="s", stage_cap=10.0)

    class TooBig:
        def on_bar(self, bar, ctx):
            return [OrderIntent(sym, BUY, quote_amount=20.0)]  # $20 in a $10 stage: refused every time

    engine = Engine(strategy=TooBig(), gateway=gw, executor=executor, account=account, state=state, breakers=breakers,
                    timeframe_ms=60_000)
    watch = StallWatch(limit=5)
    stalls = []
    for i in range(5):
        engine.on_bar(Bar(sym, i * 60_000, 100.0, 100.0, 100.0, 100.0, 10.0))
        assert (engine.asked, engine.accepted, engine.refusals) == (1, 0, ["stage_cap"])
        stalls.append(watch.on_bar(engine.asked, engine.accepted, engine.refusals))
    assert stalls[:4] == [None] * 4 and stalls[4].refusals == {"stage_cap": 5}
