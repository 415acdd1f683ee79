"""Binance's websocket streams on the sandbox's own server (same host and port as the REST API).

Market streams `<symbol>@kline_<interval>` and `<symbol>@trade`, reached as raw streams at
`/ws/<stream>[/<stream>...]`, combined at `/stream?streams=<a>/<b>` (each event wrapped as
`{"stream": ..., "data": ...}`), or subscribed live on any `/ws...` connection with Binance's
SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY messages (ccxt pro
connects to `/ws/<n>` and subscribes that way). Events are pushed as market time moves: every
`tick_s` of wall time, and at once when the market clock is advanced. A kline that closed since
the last push is sent once more, final (`"x": true`), before the next one opens; trades are the
synthetic market's, one per push, at the current price with the volume traded since the last.

The user data stream: `/ws/<listenKey>` (a key from POST /api/v3/userDataStream), or a listen
key SUBSCRIBEd to, receives `executionReport` and `outboundAccountPosition` events of its
account's orders while the key is active."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livegate.adapters.sandbox.market import INTERVALS_MS, fmt
from livegate.adapters.sandbox.matching import NOT_WORKING, OPEN, Order, Trade
from livegate.adapters.sandbox.venue import Venue
from livegate.adapters.serving import text_response

if TYPE_CHECKING:
    from aiohttp import web

TICK_S = 0.25
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
MAX_QUEUED = 10_000  # events waiting for a client that does not read: it is disconnected


def is_stream_path(path: str) -> bool:
    return path in ("/ws", "/stream") or path.startswith(("/ws/", "/stream/"))


def _dumps(body) -> str:
    return json.dumps(body, separators=(",", ":"))


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    combined: bool
    names: set[str] = field(default_factory=set)
    account: str | None = None
    listen_key: str | None = None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def send(self, text: str) -> None:
        if self.queue.qsize() < MAX_QUEUED:
            self.queue.put_nowait(text)
        else:
            self.queue.put_nowait(None)  # the writer closes the connection

    def event(self, name: str, payload: dict) -> None:
        self.send(_dumps({"stream": name, "data": payload}) if self.combined else _dumps(payload))


@dataclass
class _Kline:
    symbol: str
    interval: str
    interval_ms: int
    last_open: int | None = None
    last_now: int = -1


class StreamHub:
    """The websocket connections of one sandbox server and what they subscribed to."""

    def __init__(self, venue: Venue, tick_s: float = TICK_S):
        self.venue, self.tick_s = venue, tick_s
        self.connections: set[_Connection] = set()
        self._subscribers: dict[str, set[_Connection]] = {}
        self._klines: dict[str, _Kline] = {}
        self._trades: dict[str, list[int]] = {}  # symbol -> [last market ms, trade ids so far]
        self._users: dict[str, set[_Connection]] = {}  # account -> its user data connections
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        venue.advanced.append(self.wake)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")

    def wake(self) -> None:
        """Market time was moved: push now rather than at the next tick."""
        if self._wake is not None:
            self._wake.set()

    # -- connections ---------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        from aiohttp import WSMsgType, web  # loaded by the server already: a backtest never imports it

        ws = web.WebSocketResponse(heartbeat=20.0)
        if not ws.can_prepare(request).ok:
            return text_response(400, "Expected a websocket upgrade")
        await ws.prepare(request)
        path = request.path
        conn = _Connection(ws, combined=path.startswith("/stream"))
        names = [n for n in path.split("/")[2:] if n]
        if conn.combined:
            names += [n for n in request.query.get("streams", "").split("/") if n]
        self.connections.add(conn)
        writer = asyncio.get_running_loop().create_task(self._write(conn))
        try:
            for name in names:
                self._subscribe(conn, name)
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reply = self._control(conn, message.data)
                    if reply is not None:
                        conn.send(reply)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._drop(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, conn: _Connection) -> None:
        while True:
            text = await conn.queue.get()
            if text is None or conn.ws.closed:
                await conn.ws.close(code=1008, message=b"too many queued messages")
                return
            await conn.ws.send_str(text)

    def _drop(self, conn: _Connection) -> None:
        self.connections.discard(conn)
        for name in list(conn.names):
            self._unsubscribe(conn, name)
        self._remove_user(conn)

    def _control(self, conn: _Connection, text: str) -> str | None:
        """Answer one of Binance's stream control messages (None: answered already)."""
        try:
            request = json.loads(text)
        except ValueError as exc:
            return _dumps({"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None})
        if not isinstance(request, dict) or "method" not in request:
            return _dumps({"error": {"code": 2, "msg": "Invalid request: missing field `method`"}, "id": None})
        rid, method, params = request.get("id"), request["method"], request.get("params", [])
        if not (rid is None or (isinstance(rid, int) and not isinstance(rid, bool))
                or (isinstance(rid, str) and len(rid) <= 36)):
            return _dumps({"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"},
                           "id": None})
        if method not in METHODS:
            return _dumps({"error": {"code": 2, "msg": f"Invalid request: unknown variant {method}, expected one "
                                                        f"of `{'`, `'.join(METHODS)}`"}, "id": rid})
        if not isinstance(params, list):
            return _dumps({"error": {"code": 2, "msg": "Invalid request: params must be an array"}, "id": rid})
        result = None
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) for p in params):
                return _dumps({"error": {"code": 2, "msg": "Invalid request: stream names must be strings"}, "id": rid})
            conn.send(_dumps({"result": None, "id": rid}))  # before the first events
            for name in params:
                (self._subscribe if method == "SUBSCRIBE" else self._unsubscribe)(conn, name)
            return None
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(conn.names)
        elif not params or params[0] != "combined":
            return _dumps({"error": {"code": 0, "msg": "Unknown property"}, "id": rid})
        elif method == "GET_PROPERTY":
            result = conn.combined
        elif len(params) != 2 or not isinstance(params[1], bool):
            return _dumps({"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": rid})
        else:
            conn.combined = params[1]
        return _dumps({"result": result, "id": rid})

    def _subscribe(self, conn: _Connection, name: str) -> None:
        """Subscribe to a market stream, or to the user data stream of a listen key."""
        if name in conn.names:
            return
        conn.names.add(name)
        account = self.venue.listen_keys.account(name, self.venue.server_ms())
        if account is not None:
            self._remove_user(conn)
            self._add_user(conn, name, account)
            return
        self._subscribers.setdefault(name, set()).add(conn)
        symbol, _, kind = name.partition("@")
        market = self.venue.markets.get(symbol.upper())
        if market is None or not kind.startswith("kline_") or name in self._klines:
            return
        interval_ms = INTERVALS_MS.get(kind[6:])
        if interval_ms is not None and interval_ms % market.path.tf == 0:
            self._klines[name] = kline = _Kline(market.spec.id, kind[6:], interval_ms)
            self._push_kline(name, kline, self.venue.clock.market_ms())  # the current bar at once

    def _unsubscribe(self, conn: _Connection, name: str) -> None:
        conn.names.discard(name)
        if name == conn.listen_key:
            self._remove_user(conn)
        subscribers = self._subscribers.get(name)
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[name]
                self._klines.pop(name, None)

    # -- market streams ------------------------------------------------------------------------

    async def _pump(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            self._wake.clear()
            if self._subscribers:
                self.push()

    def push(self) -> None:
        """Send every subscribed stream's news since its last push."""
        now = self.venue.clock.market_ms()
        for name, kline in list(self._klines.items()):
            if now != kline.last_now:
                self._push_kline(name, kline, now)
        trades: dict[str, dict | None] = {}
        for name in list(self._subscribers):
            symbol, _, kind = name.partition("@")
            if kind == "trade":
                if symbol not in trades:
                    trades[symbol] = self._trade(symbol, now)
                event = trades[symbol]
                if event is not None:
                    for conn in self._subscribers[name]:
                        conn.event(name, event)

    def _push_kline(self, name: str, kline: _Kline, now: int) -> None:
        market = self.venue.markets[kline.symbol]
        if kline.last_open is None:
            rows = market.path.klines(kline.interval_ms, now, None, None, 1)
        else:
            rows = market.path.klines(kline.interval_ms, now, kline.last_open, None, 1000)
        kline.last_now = now
        if not rows:
            return
        kline.last_open = rows[-1][0]
        subscribers = self._subscribers.get(name, ())
        price, sid, step = market.round_price, kline.symbol, kline.interval_ms
        for t, o, h, lo, c, v, qv in rows:
            trades = int(v) + 1
            event = {"e": "kline", "E": now, "s": sid, "k": {
                "t": t, "T": t + step - 1, "s": sid, "i": kline.interval, "f": t // 1000, "L": t // 1000 + trades - 1,
                "o": fmt(price(o)), "c": fmt(price(c)), "h": fmt(price(h)), "l": fmt(price(lo)), "v": fmt(v),
                "n": trades, "x": t + step <= now, "q": fmt(qv), "V": fmt(v / 2), "Q": fmt(qv / 2), "B": "0"}}
            for conn in subscribers:
                conn.event(name, event)

    def _trade(self, symbol: str, now: int) -> dict | None:
        """One synthetic trade for the market time passed since the last, or None if none passed."""
        market = self.venue.markets.get(symbol.upper())
        if market is None:
            return None
        state = self._trades.get(symbol)
        if state is None:
            self._trades[symbol] = [now, 0]
            return None
        last_ms, count = state
        if now <= last_ms:
            return None
        before, price = market.path.price(last_ms), market.path.price(now)
        volume = market.path.window(now, now - last_ms)[3]
        state[:] = [now, count + 1]
        return {"e": "trade", "E": now, "s": market.spec.id, "t": count + 1, "p": fmt(market.round_price(price)),
                "q": fmt(max(market.step, market.floor_qty(volume))), "T": now, "m": price < before, "M": True}

    # -- the user data stream --------------------------------------------------------------------

    def _add_user(self, conn: _Connection, listen_key: str, account: str) -> None:
        conn.account, conn.listen_key = account, listen_key
        self._users.setdefault(account, set()).add(conn)
        if self._order_event not in self.venue.engine.listeners:
            self.venue.engine.listeners.append(self._order_event)

    def _remove_user(self, conn: _Connection) -> None:
        if conn.account is None:
            return
        users = self._users.get(conn.account, set())
        users.discard(conn)
        if not users:
            self._users.pop(conn.account, None)
        conn.account = conn.listen_key = None
        if not self._users and self._order_event in self.venue.engine.listeners:
            self.venue.engine.listeners.remove(self._order_event)

    def _order_event(self, order: Order, execution: str, trade: Trade | None) -> None:
        users = self._users.get(order.account.name)
        if not users:
            return
        now = self.venue.server_ms()
        users = {c for c in users if self.venue.listen_keys.account(c.listen_key, now) is not None}
        if not users:
            return
        stamp = self.venue.engine.stamp_ms()
        report = {
            "e": "executionReport", "E": stamp, "s": order.symbol, "c": order.client_id, "S": order.side,
            "o": order.type, "f": order.tif, "q": fmt(order.orig_qty), "p": fmt(order.price),
            "P": fmt(order.stop_price), "F": "0.00000000", "g": -1,
            "C": order.client_id if execution == "CANCELED" else "", "x": execution, "X": order.status, "r": "NONE",
            "i": order.order_id, "l": fmt(trade.qty if trade else 0.0), "z": fmt(order.executed),
            "L": fmt(trade.price if trade else 0.0), "n": fmt(trade.commission) if trade else "0",
            "N": trade.commission_asset if trade else None, "T": trade.time if trade else order.update_time,
            "t": trade.id if trade else -1, "I": 0, "w": order.status in OPEN and order.working_time != NOT_WORKING,
            "m": trade.is_maker if trade else False, "M": False, "O": order.time, "Z": fmt(order.cum_quote),
            "Y": fmt(trade.price * trade.qty if trade else 0.0), "Q": fmt(order.orig_quote_qty),
            "V": "EXPIRE_MAKER",
        }
        if order.working_time != NOT_WORKING:
            report["W"] = order.working_time
        spec = self.venue.markets[order.symbol].spec
        balances = order.account.balances
        position = {"e": "outboundAccountPosition", "E": stamp, "u": order.account.update_time, "B": [
            {"a": a, "f": fmt(max(balances.get(a, [0.0, 0.0])[0], 0.0)), "l": fmt(max(balances.get(a, [0.0, 0.0])[1], 0.0))}
            for a in (spec.base, spec.quote)]}
        for conn in users:
            conn.event(conn.listen_key or "", report)
            conn.event(conn.listen_key or "", position)
