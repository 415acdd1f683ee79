"""The order gateway: the one path every order takes, in every mode (SPEC §6).

intent → halt and circuit breakers → sanity → sizing and exchange filters → risk guardian
(caps, blocks) → stage cap → approval → executor → fills → portfolio. The executor is a
`Executor`: the paper simulator today, a ccxt or web3 executor behind the same gateway
later. Every decision is reported to the journal; nothing here does I/O itself."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from livegate.core.breakers import CircuitBreakers, Trip
from livegate.core.fills import MarketRules
from livegate.core.formats import number
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, LIMIT, MARKET, PROTECTIVE, SELL, Block, Fill, Order, OrderIntent, Trade
from livegate.core.portfolio import Portfolio


class Journal(Protocol):
    def emit(self, kind: str, payload: dict[str, Any]) -> None: ...


class NullJournal:
    """A journal that keeps nothing: drills and stress scenarios are summarised, not logged."""

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        return None


class Executor(Protocol):
    """Where accepted orders go. `place` returns fills it made at once (possibly none) or the
    venue's refusal; later fills come from `on_bar` (simulator) or polling (live)."""

    def place(self, order: Order, now_ms: int, account: Portfolio) -> list[Fill] | Block: ...

    def cancel_all(self, symbol: str | None = None) -> list[Order]: ...

    def open_orders(self) -> list[Order]: ...


@dataclass
class Decision:
    intent: OrderIntent
    order: Order | None = None
    blocks: list[Block] = field(default_factory=list)
    caps: list[str] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.order is not None and not self.blocks


REDUCE_TOLERANCE = 1e-9  # relative: a sell of "all of it" as the bot counts it still reduces when the fills' sum is a hair less


@dataclass(frozen=True)
class Reducing:
    """What the halt check returns while trading is REDUCING: only an order that reduces an open
    position passes (spot is long only: a sell no larger than the position held). `reason` says
    who entered it, when and why."""

    reason: str


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


class OrderGateway:
    """`halt_check()` returns a reason while trading is halted (kill switch, EMERGENCY_STOP —
    read at every order, never cached), or `Reducing` while only orders that reduce an open
    position may pass; `approve(order)` returns None to let an order
    through or a Block (approve_each); `stage_cap` is the micro-live stage's trade cap."""

    def __init__(self, *, guardian: RiskGuardian, breakers: CircuitBreakers, executor: Executor, account: Portfolio,
                 state: RiskState, rules: dict[str, MarketRules], journal: Journal, id_prefix: str,
                 halt_check: Callable[[], str | Reducing | None] | None = None,
                 approve: Callable[[Order], Block | None] | None = None, stage_cap: float | None = None):
        self.guardian, self.breakers, self.executor = guardian, breakers, executor
        self.account, self.state, self.rules, self.journal = account, state, rules, journal
        self.id_prefix = id_prefix
        self.halt_check = halt_check
        self.approve = approve
        self.stage_cap = stage_cap
        self.seq = 0  # orders sent so far (reported; never part of an order's id)
        self._asked: dict[tuple[str, str, str], int] = {}  # submissions at `_asked_at`, per (origin, symbol, side)
        self._asked_at: int | None = None
        self.fill_count = 0  # fills settled so far (the engine re-marks equity when it moves)
        self.trades: list[Trade] = []

    def submit(self, intent: OrderIntent, now_ms: int, origin: str = "strategy", client_id: str | None = None) -> Decision:
        """Decide on `intent` and, accepted, place it. `client_id`: the id a bot gave its order
        (the gateway keeps it, so the bot finds its order at the venue); else one derived from
        the intent. Either way an id already sent is never sent again."""
        decision = Decision(intent)
        client_id = client_id or self._intent_id(intent, now_ms, origin)
        blocks = decision.blocks
        self._halt_rule(intent, blocks)
        for trip in self.breakers.active():
            if trip.breaker == "correlation" and intent.side == SELL:  # concentration: selling reduces it
                continue
            blocks.append(Block(f"breaker:{trip.breaker}", trip.message))
        order = None if blocks else self._size(intent, now_ms, origin, decision)
        if order is not None and self.approve is not None:
            refusal = self.approve(order)
            if refusal is not None:
                blocks.append(refusal)
            else:  # an approval can take minutes: a halt pulled meanwhile still stops the order
                self._halt_rule(intent, blocks)
        if blocks or order is None:
            self.journal.emit("order_blocked", {"origin": origin, "intent": _intent_dict(intent), "at": now_ms,
                                                "blocks": [[b.rule, b.message] for b in blocks], "caps": decision.caps})
            return decision
        self.seq += 1
        order.client_id = client_id
        self.journal.emit("order_placed", {**order.to_dict(), "caps": decision.caps, "reason": intent.reason})
        result = self.executor.place(order, now_ms, self.account)
        if isinstance(result, Block):
            order.status = "rejected"
            blocks.append(result)
            self.journal.emit("order_rejected", {"client_id": order.client_id, "rule": result.rule, "message": result.message, "at": now_ms})
            return decision
        self.state.record_order(now_ms)
        decision.order = order
        decision.fills = result
        self.settle(result, now_ms)
        return decision

    def _halt_rule(self, intent: OrderIntent, blocks: list[Block]) -> None:
        """The halt, read now: halted, every order is blocked; REDUCING, all but one that reduces."""
        reason = self.halt_check() if self.halt_check else None
        if isinstance(reason, Reducing):
            refusal = self._not_reducing(intent, reason.reason)
            if refusal is not None:
                blocks.append(refusal)
        elif reason:
            blocks.append(Block("halted", reason))

    def _not_reducing(self, intent: OrderIntent, reason: str) -> Block | None:
        """None when `intent` reduces an open position — a sell of at most what is held of its
        symbol — else why it may not pass while REDUCING. A sell with no amount sells all of it."""
        if intent.side != SELL:
            return Block("reducing", f"{reason} — a {intent.side} opens or adds to a position")
        held = self.account.position(intent.symbol)
        px = intent.price if _positive(intent.price) else self.account.last_price.get(intent.symbol)
        quote = intent.quote_amount
        wanted = intent.amount if intent.amount is not None else (quote / px if quote is not None and _positive(quote) and px else None)
        if held <= 0:
            return Block("reducing", f"{reason} — there is no {intent.symbol} position to reduce")
        # an invalid amount is refused as such later; fills summed to the position carry float noise
        if wanted is not None and _positive(wanted) and wanted > held * (1 + REDUCE_TOLERANCE):
            return Block("reducing", f"{reason} — this sell of {number(wanted, 8)} is larger than the {number(held, 8)} "
                                     f"{intent.symbol.split('/')[0]} held")
        return None

    def _intent_id(self, intent: OrderIntent, now_ms: int, origin: str) -> str:
        """The client order id of an intent: a function of what was asked (run, decision time,
        origin, symbol, side, and its rank among the same asks at that time), never of a counter
        a resumed run could replay. A replayed bar asks again with the same id, and an id the
        ledger shows as sent is never sent again (the executor checks)."""
        if now_ms != self._asked_at:
            self._asked_at, self._asked = now_ms, {}
        key = (origin, str(intent.symbol), str(intent.side))
        rank = self._asked.get(key, 0)
        self._asked[key] = rank + 1
        return client_order_id(self.id_prefix, f"{now_ms}|{origin}|{intent.symbol}|{intent.side}|{rank}")

    def _size(self, intent: OrderIntent, now_ms: int, origin: str, decision: Decision) -> Order | None:
        """Sanity, size, guardian and filters. Appends blocks; returns the order or None."""
        blocks = decision.blocks
        rules = self.rules.get(intent.symbol)
        ref = self.account.last_price.get(intent.symbol)
        if rules is None or ref is None:
            blocks.append(Block("unknown_symbol", f"{intent.symbol!r} is not a configured symbol with a price"))
            return None
        protective = intent.type in PROTECTIVE
        if intent.side not in (BUY, SELL) or not (intent.type in (MARKET, LIMIT) or protective):
            blocks.append(Block("invalid", f"side must be buy/sell and type market/limit (got {intent.side!r}, {intent.type!r})"))
            return None
        if protective and not getattr(self.executor, "protective", False):
            blocks.append(Block("invalid", f"{intent.type} orders wait at a venue: this executor does not place them"))
            return None
        if protective and (intent.side != SELL or not _positive(intent.stop_price)):
            blocks.append(Block("invalid", "a protective order (stop-loss / take-profit limit) is a sell that reduces a position, "
                                           f"with a positive stop price (got {intent.side!r}, stop {intent.stop_price!r})"))
            return None
        if intent.type != MARKET and not _positive(intent.price):
            blocks.append(Block("invalid", f"a limit order needs a positive price (got {intent.price!r})"))
            return None
        for name in ("amount", "quote_amount"):
            value = getattr(intent, name)
            if value is not None and not _positive(value):
                blocks.append(Block("invalid", f"{name} must be a positive number (got {value!r})"))
                return None
        price = rules.round_price(intent.price) if intent.type != MARKET and intent.price is not None else None  # checked > 0 above
        if price is not None and price <= 0:
            blocks.append(Block("PRICE_FILTER", f"limit price {intent.price!r} rounds to {price} on the tick {rules.tick:g}"))
            return None
        px = price if price is not None else ref
        if intent.side == BUY:
            if intent.quote_amount is not None:
                value = intent.quote_amount
            elif intent.amount is not None:
                value = intent.amount * px
            else:
                blocks.append(Block("invalid", "a buy needs amount or quote_amount"))
                return None
            sizing = self.guardian.check_buy(value, intent.symbol, intent, self.account, self.state, now_ms, self.stage_cap)
            blocks += sizing.blocks
            decision.caps += sizing.caps
            amount = rules.floor_amount(sizing.value / px)
            approved: float | None = sizing.value
            reduce_only = False
        else:
            held = self.account.position(intent.symbol)
            if held <= 0:
                blocks.append(Block("no_position", f"no {intent.symbol} position to sell (spot cannot short)"))
                return None
            wanted = intent.amount if intent.amount is not None else (intent.quote_amount / px if intent.quote_amount is not None else held)
            amount = rules.floor_amount(min(wanted, held))
            approved = None
            reduce_only = True
        if not blocks:
            refusal = rules.check(amount, px, is_limit=intent.type != MARKET)
            if refusal is not None and intent.side == SELL and rules.is_dust(held, ref) and self.check_dust(intent.symbol, now_ms):
                refusal = Block("dust", f"the {intent.symbol} holding of {held:g} (worth {held * ref:,.2f}) is dust: below the "
                                        f"market's minimum order ({rules.min_notional:g}); it is kept, not sold")
            if refusal is not None:
                blocks.append(refusal)
        if blocks:
            return None
        stop = rules.round_price(intent.stop_price) if protective and intent.stop_price is not None else None
        return Order("", intent.symbol, intent.side, intent.type, amount, price, now_ms, origin, reduce_only,
                     quote_value=approved, stop_price=stop)

    def settle(self, fills: list[Fill], now_ms: int) -> list[Trade]:
        """Apply fills to the account; report fills, closed trades, dust and breaker trips.

        The trade unit: one reducing order's fills make one trade (`core.portfolio`), whether
        they arrive in one call or over several polls. A trade is final, and recorded, when the
        position is flat after a fill, or when its order is no longer open at the executor once
        this call's fills are applied (filled, cancelled, expired, rejected); an order still
        open keeps its trade in progress for the fills to come. The breakers see each trade once,
        when it is final. Then every symbol these fills touched is checked for dust."""
        account, journal = self.account, self.journal
        closed: list[Trade] = []
        touched: set[str] = set()
        self.fill_count += len(fills)
        for fill in fills:
            journal.emit("fill", fill.to_dict())
            closed += account.apply(fill)
            touched.add(fill.symbol)
        if account.closing:
            closed += self._done()
        self._record(closed, now_ms)
        for symbol in touched:
            if symbol in account.positions:
                self.check_dust(symbol, now_ms)
        return closed

    def finish_trades(self, now_ms: int) -> list[Trade]:
        """Record the trades in progress whose order is done (no longer open at the executor):
        an order cancelled or expired after part of it filled, with no fill to say so. The
        engine asks at every bar while a trade is in progress."""
        closed = self._done()
        self._record(closed, now_ms)
        return closed

    def replay(self, fills: list[Fill], now_ms: int, recorded: Iterable[str] = (), *, breakers: bool = True) -> list[Trade]:
        """After a restart, bring the account up to fills the ledger already holds (those
        journaled after the last checkpoint) without recording anything again. The trades of
        the reducing orders in `recorded` (the `order_id` of the `trade` events the ledger holds
        after that checkpoint) were final before the restart: they close now, silently, and the
        breakers count them as they did. Every other trade stays in progress — the executor's
        view of its order is newer than these fills — for `settle` with the fills still to come,
        or `finish_trades`. `breakers=False`: the replayed trades are not counted by the breakers
        (a scripted run that starts its script over). Returns the trades closed."""
        account = self.account
        closed: list[Trade] = []
        self.fill_count += len(fills)
        for fill in fills:
            closed += account.apply(fill)
        for symbol in {f.symbol for f in fills}:
            self._to_dust(symbol, now_ms)  # as before the restart (its `dust` event, if any, is in the ledger)
        final = set(recorded)
        for oid in [o for o in account.closing if o in final]:
            trade = account.close_trade(oid)
            if trade is not None:
                closed.append(trade)
        for trade in closed:
            self.trades.append(trade)
            if breakers:
                self.breakers.on_trade(trade.net, now_ms)  # a trip is already in the ledger: state only
        return closed

    def _done(self) -> list[Trade]:
        """Close the trades in progress whose reducing order is no longer open at the executor."""
        account = self.account
        open_ids = {o.client_id for o in self.executor.open_orders()}
        closed = []
        for oid in [o for o in account.closing if o not in open_ids]:
            trade = account.close_trade(oid)
            if trade is not None:
                closed.append(trade)
        return closed

    def _record(self, closed: list[Trade], now_ms: int) -> None:
        for trade in closed:
            self.trades.append(trade)
            self.journal.emit("trade", trade.to_dict())
            for trip in self.breakers.on_trade(trade.net, now_ms):
                self.on_trip(trip)

    def check_dust(self, symbol: str, now_ms: int) -> bool:
        """Whether the holding of `symbol` is dust. An open position is moved to dust, and `dust`
        journaled (symbol, amount, value, price, the market's minimums), when one sell of all of
        it would be refused by the market's filters at the last price (`MarketRules.is_dust`) —
        unless a buy of ours for it is still open (a position being bought is not dust yet).
        The gateway asks after fills and when a sell is refused; the engine when a close falls
        below the position's dust price."""
        if symbol in self.account.dust:
            return True
        moved = self._to_dust(symbol, now_ms)
        if moved is not None:
            self.journal.emit("dust", moved)
        return moved is not None

    def _to_dust(self, symbol: str, now_ms: int) -> dict[str, Any] | None:
        account = self.account
        pos = account.positions.get(symbol)
        rules = self.rules.get(symbol)
        price = account.last_price.get(symbol)
        if pos is None or rules is None or price is None or not rules.is_dust(pos.amount, price):
            return None
        if any(o.symbol == symbol and o.side == BUY for o in self.executor.open_orders()):
            return None
        account.to_dust(symbol)
        value = pos.amount * price
        base = symbol.split("/")[0]
        return {"symbol": symbol, "amount": pos.amount, "value": value, "price": price, "cost": pos.cost, "at": now_ms,
                "min_notional": rules.min_notional, "min_amount": rules.min_amount, "step": rules.step,
                "message": f"{symbol}: {pos.amount:g} {base} worth {value:,.2f} is below the market's minimum order "
                           f"({rules.min_notional:g}, or {rules.min_amount:g} {base}): kept as dust, out of the open positions"}

    def on_trip(self, trip: Trip) -> None:
        """A breaker tripped: record it and cancel every open order (nothing keeps ordering)."""
        self.journal.emit("breaker_trip", trip.to_dict())
        for order in self.executor.cancel_all():
            self.journal.emit("order_canceled", {"client_id": order.client_id, "reason": f"breaker {trip.breaker}"})


CLIENT_ID_MAX = 36  # Binance's limit for newClientOrderId (and the sandbox's)


def client_order_id(prefix: str, intent_key: str) -> str:
    """`<prefix>-<16 hex of the intent>`, at most 36 characters of [A-Za-z0-9_-] (a longer
    prefix is shortened to a digest of itself)."""
    digest = hashlib.blake2b(f"{prefix}|{intent_key}".encode(), digest_size=8).hexdigest()
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in prefix)
    if len(safe) + 1 + len(digest) > CLIENT_ID_MAX:
        safe = hashlib.blake2b(safe.encode(), digest_size=5).hexdigest()
    return f"{safe}-{digest}"


def _intent_dict(intent: OrderIntent) -> dict[str, Any]:
    return {k: getattr(intent, k) for k in intent.__slots__ if getattr(intent, k) not in (None, "")}
