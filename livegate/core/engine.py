"""The paper engine: one loop for every feed (live, replay, historical).

For each closed bar: pending orders fill inside it, equity is marked, breakers are checked,
protective stops are sent, then the strategy sees the bar and its intents go through the
gateway. The engine holds no I/O: events go to the journal, state is saved by the caller."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from livegate.core.breakers import CircuitBreakers
from livegate.core.errors import StrategyError
from livegate.core.gateway import Executor, OrderGateway
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
        return {s: p.amount for s, p in self._account.positions.items()}

    def position(self, symbol: str) -> float:
        return self._account.position(symbol)

    def recent(self, symbol: str, n: int | None = None) -> list[Bar]:
        """The last `n` closed bars of `symbol` (oldest first), the current one included."""
        bars = self._history.get(symbol, ())
        return list(bars)[-n:] if n else list(bars)


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
        self._fills_seen = 0

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
            account.last_price[symbol] = bar.close
            if call_strategy:
                self._call_strategy(bar)
            return
        self.bars += 1
        gateway = self.gateway
        moved = False
        if self.executor.pending:
            fills, dropped = self.executor.on_bar(bar, account)
            for order in dropped:
                self.journal.emit("order_canceled", {"client_id": order.client_id, "reason": "insufficient funds at the fill price"})
            if fills:
                gateway.settle(fills, now)
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
            if symbol in positions and bar.close <= self._stops.get(symbol, 0.0) and gateway.guardian.stop_loss_due(account, symbol):
                gateway.submit(OrderIntent(symbol, SELL, reason="max_single_trade_loss reached"), now, origin="guardian")
                self._stops.clear()
        try:
            out = self.strategy.on_bar(bar, ctx)  # inlined (not _call_strategy): the hot loop
        except Exception as exc:  # noqa: BLE001 - the user's code; stop cleanly, resumably
            raise self._raised(exc, bar) from None
        if out is not None:
            for intent in check_intents(out, self.name, bar):
                gateway.submit(intent, now)

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
            self._stops = {s: self.account.stop_price(s, limit) for s in self.account.positions}

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
        }
        getter = getattr(self.strategy, "state", None)
        if callable(getter):
            out["strategy"] = getter()
        return out
