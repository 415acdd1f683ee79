"""The paper engine: one loop for every feed (live, replay, historical).

For each closed bar: pending orders fill inside it (a trade whose reducing order is done is
recorded), equity is marked, breakers are checked, a position the close makes too small to
sell becomes dust and protective stops are sent, then the strategy sees the bar and its
intents go through the gateway (`asked`, `accepted` and `refusals` say how that went). The
first bar of a new bar time first shows the correlation breaker the bar time before it. The
engine holds no I/O: events go to the journal, state is saved by the caller."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from livegate.core.breakers import CircuitBreakers
from livegate.core.errors import StrategyError
from livegate.core.gateway import Decision, Executor, OrderGateway
from livegate.core.guardian import RiskState
from livegate.core.orders import SELL, Bar, Fill, Order, OrderIntent
from livegate.core.portfolio import Portfolio


class BarExecutor(Executor, Protocol):
    """An executor the engine drives bar by bar: the paper simulator, or a venue's executor
    (whose `on_bar` reports the venue's fills since the last look)."""

    @property
    def pending(self) -> object: ...  # truthy while orders wait (the simulator's list, a venue's flag)

    def on_bar(self, bar: Bar, account: Portfolio) -> tuple[list[Fill], list[Order]]: ...

    def to_dict(self) -> dict[str, Any]: ...


class Strategy(Protocol):
    """A strategy gets every closed bar and a `StrategyContext`, and returns order intents
    (or None). Optional: `state() -> dict` and `restore(dict)` so a resumed run continues
    exactly; `warmup_bars: int` — bars it needs to see before its signals mean anything."""

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent] | None: ...


class StrategyContext:
    """What a strategy may look at: time, cash, equity, positions and recent bars."""

    def __init__(self, account: Portfolio, history: int):
        self._account = account
        self._history: dict[str, deque[Bar]] = {}
        self._size = history
        self.now_ms = 0

    @property
    def cash(self) -> float:
        return self._account.cash

    @property
    def equity(self) -> float:
        return self._account.equity()

    @property
    def positions(self) -> dict[str, float]:
        """The open positions (dust, too small to sell, is not one)."""
        return {s: p.amount for s, p in self._account.positions.items()}

    def position(self, symbol: str) -> float:
        """The open position of `symbol`; 0 when flat or when what is left is dust."""
        return self._account.open_amount(symbol)

    def recent(self, symbol: str, n: int | None = None) -> list[Bar]:
        """The last `n` closed bars of `symbol` (oldest first), the current one included."""
        bars = self._history.get(symbol, ())
        return list(bars)[-n:] if n else list(bars)


_NO_DECISIONS: tuple[Decision, ...] = ()  # a bar without intents (shared, never mutated)
_NUMERIC = ("amount", "quote_amount", "price", "edge", "confidence", "sentiment", "leverage")


def check_intents(out: object, name: str, bar: Bar) -> list[OrderIntent]:
    """What a strategy returned, validated: None or a list/tuple of OrderIntent with numeric
    fields that are real numbers. Anything else stops the run with a StrategyError."""
    if out is None:
        return []
    if isinstance(out, OrderIntent):
        out = [out]
    if not isinstance(out, (list, tuple)):
        raise StrategyError(f"strategy {name} returned {type(out).__name__} at bar {bar.symbol} {bar.ts}; expected a list of OrderIntent or None")
    for item in out:
        if not isinstance(item, OrderIntent):
            raise StrategyError(f"strategy {name} returned a {type(item).__name__} in its intents at bar {bar.symbol} {bar.ts}; expected OrderIntent")
        for field in _NUMERIC:
            value = getattr(item, field)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                raise StrategyError(f"strategy {name} returned {field}={value!r} at bar {bar.symbol} {bar.ts}; expected a finite number")
            setattr(item, field, float(value))
        if not isinstance(item.symbol, str) or not isinstance(item.side, str) or not isinstance(item.type, str) or not isinstance(item.reason, str):
            raise StrategyError(f"strategy {name} returned an intent with non-text symbol/side/type/reason at bar {bar.symbol} {bar.ts}")
    return list(out)


class Engine:
    def __init__(self, *, strategy: Strategy, gateway: OrderGateway, executor: BarExecutor, account: Portfolio,
                 state: RiskState, breakers: CircuitBreakers, timeframe_ms: int, history: int = 500):
        self.strategy = strategy
        self.name = type(strategy).__name__
        self.gateway, self.executor, self.account = gateway, executor, account
        self.state, self.breakers = state, breakers
        self.journal = gateway.journal
        self.tf = timeframe_ms
        self.ctx = StrategyContext(account, history)
        self.bars = 0
        self._safe = float("inf")  # below this equity the breakers must look (see CircuitBreakers.safe_equity)
        self._stops: dict[str, float] = {}  # protective stop price per open position
        self._dust_at: dict[str, float] = {}  # per open position: the price below which it is dust
        self._watch: dict[str, float] = {}  # per open position: the higher of the two (one look a bar)
        self._fills_seen = 0
        self._decisions: Sequence[Decision] = _NO_DECISIONS  # the gateway's answers to the strategy's latest intents
        self._decided = -1  # the bar (`bars`) they were given at
        self.bar_time: int | None = None  # the opening time of the bars being processed
        self._corr_pairs, self._corr_each = breakers.watches_positions, breakers.watches_strategy

    def on_bar(self, bar: Bar, trade: bool = True, call_strategy: bool = True) -> None:
        """Process one closed bar. `trade=False` only warms up (after a resume, or for bars
        missed while down): the strategy sees the bar (unless `call_strategy=False`, when it
        restored its own state) but nothing fills and its intents are dropped.

        This is the hot loop of a replay (a year of minutes in seconds), hence the locals."""
        now = bar.ts + self.tf
        ctx = self.ctx
        ctx.now_ms = now
        symbol = bar.symbol
        hist = ctx._history.get(symbol)
        if hist is None:
            hist = ctx._history[symbol] = deque(maxlen=ctx._size)
        hist.append(bar)
        account = self.account
        if not trade:
            self._decided = -1
            account.last_price[symbol] = bar.close
            if call_strategy:
                self._call_strategy(bar)
            return
        self.bars += 1
        gateway = self.gateway
        if bar.ts != self.bar_time:  # the first bar of a new bar time: the one before is complete
            done, self.bar_time = self.bar_time, bar.ts
            if done is not None and (self._corr_each or (self._corr_pairs and len(account.positions) > 1)):
                self._look_at_correlation(done, now)
        moved = False
        if self.executor.pending:
            fills, dropped = self.executor.on_bar(bar, account)
            for order in dropped:
                self.journal.emit("order_canceled", {"client_id": order.client_id, "reason": "insufficient funds at the fill price"})
            if fills:
                gateway.settle(fills, now)
        if account.closing:  # a reducing order's trade in progress: recorded once the order is done
            gateway.finish_trades(now)
        if gateway.fill_count != self._fills_seen:  # fills here, or at once against a book last bar
            self._fills_seen = gateway.fill_count
            moved = True
        account.last_price[symbol] = bar.close
        state = self.state
        positions = account.positions
        # Equity only moves with a position or a fill; a new UTC day or a tripped breaker must
        # be looked at anyway (day-open equity, cooldowns). Between such events the breakers
        # are consulted only when equity falls to the level where one could trip.
        if moved or positions or now // 86_400_000 != state.day or self.breakers.tripped:
            equity = account.cash + account.exposure()
            if moved or equity <= self._safe or equity > state.peak_equity or now // 86_400_000 != state.day or self.breakers.tripped:
                self._check_breakers(now, equity, moved)
            else:
                state.equity = equity
                dd = 1.0 - equity / state.peak_equity
                if dd > state.max_drawdown:
                    state.max_drawdown = dd
            if symbol in positions and bar.close <= self._watch.get(symbol, 0.0):
                self._closer_look(symbol, bar.close, now)
        try:
            out = self.strategy.on_bar(bar, ctx)  # inlined (not _call_strategy): the hot loop
        except Exception as exc:  # noqa: BLE001 - the user's code; stop cleanly, resumably
            raise self._raised(exc, bar) from None
        if out is not None:
            decided = self._decisions = []
            for intent in check_intents(out, self.name, bar):
                decided.append(gateway.submit(intent, now))
            self._decided = self.bars

    @property
    def decisions(self) -> Sequence[Decision]:
        """The gateway's answers to the strategy's intents at the last bar (none asked: empty)."""
        return self._decisions if self._decided == self.bars else _NO_DECISIONS

    @property
    def asked(self) -> int:
        """How many orders the strategy asked for at the last bar."""
        return len(self.decisions)

    @property
    def accepted(self) -> int:
        """How many of them the gateway accepted and the executor took."""
        return sum(1 for d in self.decisions if d.accepted)

    @property
    def refusals(self) -> list[str]:
        """The rules that refused the last bar's asks (one per block)."""
        return [b.rule for d in self.decisions for b in d.blocks]

    def _closer_look(self, symbol: str, close: float, now: int) -> None:
        """The close reached the position's dust price or its protective stop. Too small to sell
        now: dust, no longer an open position (and no stop for it). At the stop: sell it."""
        gateway, account = self.gateway, self.account
        if close < self._dust_at.get(symbol, 0.0) and gateway.check_dust(symbol, now):
            return
        if close <= self._stops.get(symbol, 0.0) and gateway.guardian.stop_loss_due(account, symbol):
            gateway.submit(OrderIntent(symbol, SELL, reason="max_single_trade_loss reached"), now, origin="guardian")
            self._stops.clear()
            self._watch = dict(self._dust_at)

    def _look_at_correlation(self, done: int, now: int) -> None:
        """The correlation breaker on the bar time opened at `done`: the positions held and the
        equity as it ended, the recent bars up to it."""
        for trip in self.breakers.on_bar_time(done, self.ctx._history, self.account.positions, self.state.equity, now):
            self.gateway.on_trip(trip)

    def _check_breakers(self, now: int, equity: float, moved: bool) -> None:
        state, gateway = self.state, self.gateway
        state.mark(now, equity)
        new, rearmed = self.breakers.on_equity(state, now)
        for trip in rearmed:
            self.journal.emit("breaker_rearmed", {"breaker": trip.breaker, "at": now, "tripped_at": trip.at_ms})
        for trip in new:
            gateway.on_trip(trip)
        self._safe = self.breakers.safe_equity(state)
        if moved or not self._stops:
            limit = gateway.guardian.limits.max_single_trade_loss
            positions, rules = self.account.positions, gateway.rules
            self._stops = stops = {s: self.account.stop_price(s, limit) for s in positions}
            self._dust_at = dust = {s: rules[s].dust_price(p.amount) for s, p in positions.items() if s in rules}
            self._watch = {s: max(stops[s], dust.get(s, 0.0)) for s in positions}

    def _call_strategy(self, bar: Bar) -> list[OrderIntent]:
        try:
            out = self.strategy.on_bar(bar, self.ctx)
        except Exception as exc:  # noqa: BLE001 - the user's code; stop cleanly, resumably
            raise self._raised(exc, bar) from None
        return check_intents(out, self.name, bar)

    def _raised(self, exc: Exception, bar: Bar) -> StrategyError:
        return StrategyError(f"strategy {self.name} raised {type(exc).__name__}: {exc} at bar {bar.symbol} {bar.ts}")

    def state_dict(self) -> dict[str, Any]:
        out = {
            "account": self.account.to_dict(),
            "risk": self.state.to_dict(),
            "breakers": self.breakers.to_dict(),
            "executor": self.executor.to_dict(),
            "seq": self.gateway.seq,
            "bars": self.bars,
            "bar_time": self.bar_time,
        }
        getter = getattr(self.strategy, "state", None)
        if callable(getter):
            out["strategy"] = getter()
        return out
