"""The paper engine: a scripted strategy's intents through the gateway, strategy failures,
the protective stop, warm-up bars and a checkpoint/resume round trip."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest

from livegate.config.models import CircuitBreakerRules, GuardianRules, RiskLimitsFile
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import Engine
from livegate.core.errors import StrategyError
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway, client_order_id
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, SELL, Bar, OrderIntent
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules  # noqa: F401

BTC, ETH = "BTC/USDT", "ETH/USDT"
TF = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
RULES = {s: MarketRules(s, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0) for s in (BTC, ETH)}




class Scripted:
    """Returns script[i] on its i-th bar (a value, or a callable(bar, ctx)); records what it saw."""

    def __init__(self, script: dict[int, Any] | None = None):
        self.script = script or {}
        self.seen: list[Bar] = []
        self.positions: list[float] = []

    def on_bar(self, bar, ctx):
        i = len(self.seen)
        self.seen.append(bar)
        self.positions.append(ctx.position(BTC))
        out = self.script.get(i)
        return out(bar, ctx) if callable(out) else out


class Exploding:
    def on_bar(self, bar, ctx):
        raise ValueError("boom")




def make_engine(strategy, lim=None, cb_rules=None, cash=10_000.0) -> tuple[Engine, Journal]:
    lim = lim or limits()
    acct = Portfolio(cash=cash)
    st = RiskState(peak_equity=cash, equity=cash)
    breakers = CircuitBreakers(lim, cb_rules or CircuitBreakerRules())
    ex = PaperExecutor(RULES, spread_bps=0.0)  # flat bars + no spread: fills exactly at the open
    journal = Journal()
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules()), breakers=breakers, executor=ex, account=acct, state=st,
                      rules=RULES, journal=journal, id_prefix="e")
    engine = Engine(strategy=strategy, gateway=gw, executor=ex, account=acct, state=st, breakers=breakers, timeframe_ms=TF)
    return engine, journal


def flat(i: int, price: float, symbol: str = BTC) -> Bar:
    return Bar(symbol, T0 + i * TF, price, price, price, price, 1000.0)


def buy(quote=400.0, **kw):
    return [OrderIntent(BTC, BUY, quote_amount=quote, **kw)]


# -- intents through the gateway ---------------------------------------------------------------------
def test_intents_flow_through_the_gateway_and_fill_on_the_next_bar():
    strat = Scripted({0: buy(400.0, reason="go long"), 2: [OrderIntent(BTC, SELL, reason="exit")]})
    engine, journal = make_engine(strat)
    engine.on_bar(flat(0, 100.0))
    (placed,) = journal.of("order_placed")
    # 400 / 100 = 4 BTC, decided at the bar's close T0 + TF
    assert (placed["side"], placed["amount"], placed["created_ms"], placed["reason"]) == (BUY, 4.0, T0 + TF, "go long")
    assert placed["client_id"] == client_order_id("e", f"{T0 + TF}|strategy|{BTC}|{BUY}|0")  # a function of the intent
    assert journal.of("fill") == []
    engine.on_bar(flat(1, 100.0))
    (fill,) = journal.of("fill")
    # at bar 1's open, no spread, flat bar: 100; taker fee 4 · 100 · 0.001 = 0.4
    assert (fill["price"], fill["fee"], fill["ts"]) == (100.0, pytest.approx(0.4), T0 + TF)
    assert strat.positions == [0.0, 4.0]  # the strategy sees the fill before its next decision
    engine.on_bar(flat(2, 110.0))
    engine.on_bar(flat(3, 110.0))
    (trade,) = journal.of("trade")
    # gross 4 · 110 − 400 = 40; fee 0.4 + 0.44 = 0.84; net 39.16
    assert (trade["gross"], trade["fee"], trade["net"]) == (pytest.approx(40.0), pytest.approx(0.84), pytest.approx(39.16))
    assert engine.account.cash == pytest.approx(10_039.16)  # 10000 + net
    assert journal.kinds() == ["order_placed", "fill", "order_placed", "fill", "trade"]
    assert engine.bars == 4 and engine.gateway.seq == 2


def test_blocked_intents_are_journaled_with_their_rules():
    strat = Scripted({0: buy(100.0, sentiment=-0.6) + buy(600.0)})
    engine, journal = make_engine(strat)
    engine.on_bar(flat(0, 100.0))
    blocked = journal.of("order_blocked")
    assert [[r for r, _ in e["blocks"]] for e in blocked] == [["falling_knife"], ["max_trade_pct"]]
    assert journal.of("order_placed") == [] and engine.executor.open_orders() == []


def test_a_single_intent_not_in_a_list_is_accepted():
    engine, journal = make_engine(Scripted({0: OrderIntent(BTC, BUY, quote_amount=100.0)}))
    engine.on_bar(flat(0, 100.0))
    assert [e["amount"] for e in journal.of("order_placed")] == [1.0]


# -- strategy failures -----------------------------------------------------------------------------------
def test_a_strategy_that_raises_stops_with_a_strategy_error_naming_it_and_the_bar():
    engine, journal = make_engine(Exploding())
    b = flat(7, 100.0)
    with pytest.raises(StrategyError) as info:
        engine.on_bar(b)
    msg = str(info.value)
    assert "Exploding" in msg and "ValueError: boom" in msg
    assert BTC in msg and str(b.ts) in msg
    assert journal.of("order_placed") == []


def test_warmup_errors_are_strategy_errors_too():
    engine, _ = make_engine(Exploding())
    with pytest.raises(StrategyError, match="Exploding"):
        engine.on_bar(flat(0, 100.0), trade=False)


@pytest.mark.parametrize(
    "garbage, words",
    [
        ("buy BTC", "returned str"),
        ({"symbol": BTC, "side": BUY}, "returned dict"),
        (42, "returned int"),
        ([OrderIntent(BTC, BUY, quote_amount=10.0), "sell"], "a str in its intents"),
        ([None], "a NoneType in its intents"),
        ([OrderIntent(BTC, BUY, amount=math.nan)], "amount=nan"),
        ([OrderIntent(BTC, BUY, quote_amount=math.inf)], "quote_amount=inf"),
        ([OrderIntent(BTC, BUY, amount="1")], "amount='1'"),
        ([OrderIntent(BTC, BUY, amount=True)], "amount=True"),
        ([OrderIntent(BTC, BUY, quote_amount=10.0, sentiment=math.nan)], "sentiment=nan"),
        ([OrderIntent(None, BUY, quote_amount=10.0)], "non-text"),
    ],
)
def test_garbage_from_a_strategy_is_a_strategy_error(garbage, words):
    engine, journal = make_engine(Scripted({1: garbage}))
    engine.on_bar(flat(0, 100.0))
    with pytest.raises(StrategyError) as info:
        engine.on_bar(flat(1, 100.0))
    msg = str(info.value)
    assert words in msg and "Scripted" in msg and str(T0 + TF) in msg
    assert journal.of("order_placed") == journal.of("order_blocked") == []  # nothing half-submitted


# -- the protective stop ---------------------------------------------------------------------------------------
def test_protective_stop_sells_when_the_loss_reaches_max_single_trade_loss():
    strat = Scripted({0: buy(400.0)})
    engine, journal = make_engine(strat, limits(max_single_trade_loss=30.0))
    engine.on_bar(flat(0, 100.0))
    engine.on_bar(flat(1, 100.0))  # 4 BTC at 100, fee 0.4
    engine.on_bar(flat(2, 92.7))  # unrealized 4 · 92.7 − 400 − 0.4 = −29.6: not yet
    assert journal.of("order_placed")[1:] == []
    engine.on_bar(flat(3, 92.5))  # 370 − 400.4 = −30.4: the stop goes out
    stop = journal.of("order_placed")[1]
    assert (stop["side"], stop["origin"], stop["amount"], stop["reduce_only"]) == (SELL, "guardian", 4.0, True)
    assert stop["reason"] == "max_single_trade_loss reached"
    engine.on_bar(flat(4, 92.5))
    (trade,) = journal.of("trade")
    # gross 4 · 92.5 − 400 = −30; fee 0.4 + 0.37 = 0.77; net −30.77
    assert (trade["gross"], trade["fee"], trade["net"]) == (pytest.approx(-30.0), pytest.approx(0.77), pytest.approx(-30.77))
    assert engine.account.positions == {}
    engine.on_bar(flat(5, 80.0))  # no position, no more stops
    assert len(journal.of("order_placed")) == 2


def test_the_protective_stop_is_refused_while_a_breaker_is_tripped():
    # 4 BTC at 100; a day's loss limit of 100 trips on the same bar the stop becomes due
    lim = limits(max_single_trade_loss=30.0, max_daily_loss=100.0)
    engine, journal = make_engine(Scripted({0: buy(400.0)}), lim)
    engine.on_bar(flat(0, 100.0))
    engine.on_bar(flat(1, 100.0))
    engine.on_bar(flat(2, 70.0))  # 4 · 70 − 400.4 = −120.4: daily loss 120 trips, then the stop is blocked
    assert [e["breaker"] for e in journal.of("breaker_trip")] == ["daily_loss_usd"]
    (blocked,) = journal.of("order_blocked")
    assert blocked["origin"] == "guardian" and blocked["blocks"][0][0] == "breaker:daily_loss_usd"


def test_breaker_trip_and_rearm_through_the_engine():
    lim = limits(max_daily_loss=100.0)
    strat = Scripted({0: buy(400.0), 3: buy(100.0)})
    engine, journal = make_engine(strat, lim, CircuitBreakerRules(cooldown_minutes=1))
    engine.on_bar(flat(0, 100.0))
    engine.on_bar(flat(1, 100.0))
    engine.on_bar(flat(2, 70.0))  # −120.4 today
    assert [e["breaker"] for e in journal.of("breaker_trip")] == ["daily_loss_usd"]
    engine.on_bar(flat(3, 70.0))  # cooldown (1 min) over, but still 120 down: stays tripped; the buy is refused
    assert journal.of("breaker_rearmed") == []
    assert journal.of("order_blocked")[-1]["blocks"][0][0] == "breaker:daily_loss_usd"
    engine.on_bar(flat(4, 99.0))  # 4 · 99 − 400.4 → −4.4 today: cleared
    (rearmed,) = journal.of("breaker_rearmed")
    assert rearmed["breaker"] == "daily_loss_usd" and rearmed["at"] == T0 + 5 * TF


# -- warm-up --------------------------------------------------------------------------------------------------
def test_warmup_bars_make_no_orders():
    strat = Scripted({i: buy(100.0) for i in range(5)})
    engine, journal = make_engine(strat)
    bars = [flat(i, 100.0 + i) for i in range(3)]
    for b in bars:
        engine.on_bar(b, trade=False)
    assert journal.events == [] and engine.executor.open_orders() == []
    assert strat.seen == bars and engine.ctx.recent(BTC) == bars
    assert engine.bars == 0 and engine.account.last_price[BTC] == 102.0
    assert engine.gateway.seq == 0 and list(engine.state.order_times) == []
    engine.on_bar(flat(3, 103.0), trade=False, call_strategy=False)  # a strategy that restored itself
    assert len(strat.seen) == 3 and len(engine.ctx.recent(BTC)) == 4
    engine.on_bar(flat(4, 104.0))  # trading starts
    assert len(journal.of("order_placed")) == 1


# -- look-ahead across symbols ------------------------------------------------------------------------------------

def test_no_fill_is_dated_before_its_order():
    def trade_eth(bar, ctx):
        return [OrderIntent(ETH, BUY, quote_amount=200.0)]

    strat = Scripted({2: trade_eth})  # the strategy's 3rd bar: BTC's bar 1
    engine, journal = make_engine(strat)
    for b in (flat(0, 100.0), flat(0, 2000.0, ETH), flat(1, 120.0), flat(1, 1900.0, ETH), flat(2, 120.0), flat(2, 2100.0, ETH)):
        engine.on_bar(b)
    (placed,) = journal.of("order_placed")
    (fill,) = journal.of("fill")
    assert fill["ts"] >= placed["created_ms"], f"filled at {fill['price']} in the bar opened at {fill['ts']}, ordered at {placed['created_ms']}"


# -- checkpoint and resume (services.trading.assemble_engine, no workspace needed) -------------------------------------------
class Counter:
    """Buys on its 2nd bar, sells on its 5th: exact resume needs its counter."""

    def __init__(self):
        self.n = 0

    def on_bar(self, bar, ctx):
        self.n += 1
        if self.n == 2:
            return [OrderIntent(BTC, BUY, quote_amount=300.0)]
        if self.n == 5:
            return [OrderIntent(BTC, SELL)]
        return None

    def state(self):
        return {"n": self.n}

    def restore(self, data):
        self.n = data["n"]


def test_state_dict_round_trip_resumes_exactly():
    from livegate.services.trading import BACKTEST, assemble_engine

    effective = SimpleNamespace(
        risk=RiskLimitsFile(live_trading=limits()),
        config=SimpleNamespace(capital=SimpleNamespace(starting=10_000.0), exchange=SimpleNamespace(timeframe="1m")),
    )
    prices = [100.0, 101.0, 103.0, 102.0, 104.0, 106.0, 105.0, 107.0]
    bars = [Bar(BTC, T0 + i * TF, p, p + 1.0, p - 1.0, p + 0.5, 500.0) for i, p in enumerate(prices)]
    ja, jb = Journal(), Journal()
    a = assemble_engine(BACKTEST, effective, Counter(), RULES, ja, "run1")
    for b in bars[:2]:
        a.on_bar(b)
    saved = json.loads(json.dumps(a.state_dict()))  # as a checkpoint stores it
    assert len(saved["executor"]["pending"]) == 1 and saved["strategy"] == {"n": 2}  # the buy waits for bar 2's open
    b_engine = assemble_engine(BACKTEST, effective, Counter(), RULES, jb, "run1", saved=saved)
    assert b_engine.state_dict() == saved
    mark = len(ja.events)
    for b in bars[2:]:
        a.on_bar(b)
        b_engine.on_bar(b)
    assert ja.events[mark:] == jb.events
    assert [k for k, _ in jb.events] == ["fill", "order_placed", "fill", "trade"]
    assert a.state_dict() == b_engine.state_dict()
    assert a.account.cash == b_engine.account.cash != 10_000.0


def test_client_order_ids_are_a_function_of_the_intent_not_of_a_counter():
    """The same ask at the same decision time gets the same id (a replayed bar asks again with
    it, and the executor refuses what the ledger shows as sent); a second ask of the same kind
    at that time, or another side, symbol or time, gets another; ids stay within Binance's 36."""
    strat = Scripted({0: buy(100.0) + buy(100.0)})
    first, journal = make_engine(strat)
    first.on_bar(flat(0, 100.0))
    ids = [p["client_id"] for p in journal.of("order_placed")]
    again, journal2 = make_engine(Scripted({0: buy(100.0) + buy(100.0)}))
    again.gateway.seq = 7  # a restored counter changes nothing
    again.on_bar(flat(0, 100.0))
    assert [p["client_id"] for p in journal2.of("order_placed")] == ids and len(set(ids)) == 2
    assert client_order_id("x" * 60, "k") != client_order_id("x" * 60, "k2")
    assert max(len(client_order_id("lgl123456789-abcdefgh" * 3, "k")), len(ids[0])) <= 36
