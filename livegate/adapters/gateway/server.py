"""The gateway a trader's own bot talks to: Binance spot's REST API on 127.0.0.1, in front of
the real venue. The bot signs with a gateway key livegate issued; livegate holds the only real
exchange key and re-signs what it forwards.

- `POST /api/v3/order` never reaches the venue from here: it goes to `desk.place` (livegate's one
  order gateway — halt, breakers, guardian, caps, approvals, exactly-once journaling).
- Cancels go to `desk.cancel` / `desk.cancel_open` (they pass while trading is halted).
- The other routes of the surface are reads, forwarded by `desk.forward` (re-signed when SIGNED).
- Anything that can move money another way — withdrawals, transfers, sub-accounts, margin,
  futures, OCO and other order lists, cancel-replace — is refused with 403 before any check,
  whatever the real key could do. Unknown routes get 404.

Errors are Binance's bodies and codes (`{"code": -2010, "msg": ...}`); a malformed or wrongly
signed request is answered here and nothing is forwarded."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from livegate.adapters.sandbox.auth import ApiKey, verify_key, verify_signed
from livegate.adapters.sandbox.errors import ApiError, bad_request
from livegate.adapters.sandbox.exchange import parse_params
from livegate.adapters.serving import ServerThread, json_response, listen, text_response

if TYPE_CHECKING:
    from aiohttp import web  # loaded when a server starts (`serving`)

NONE, USER_DATA, TRADE, USER_STREAM = "NONE", "USER_DATA", "TRADE", "USER_STREAM"
SIGNING = ("timestamp", "recvWindow", "signature")  # the bot's own signing: replaced when forwarded
READ_THREADS = 4
# An order's answer goes back to the bot at once; the rest of its ledger write (acknowledgement,
# fills, trade) is done by the next order, in the write it makes before it is sent anyway — or,
# when none comes within this many seconds, on its own. Never while the bot waits for an answer.
AFTER_IDLE_S = 0.02

# The surface a spot bot needs (the local sandbox emulates the same), and each route's security.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v3/ping"): NONE, ("GET", "/api/v3/time"): NONE, ("GET", "/api/v3/exchangeInfo"): NONE,
    ("GET", "/api/v3/depth"): NONE, ("GET", "/api/v3/trades"): NONE, ("GET", "/api/v3/klines"): NONE,
    ("GET", "/api/v3/ticker/price"): NONE, ("GET", "/api/v3/ticker/24hr"): NONE, ("GET", "/api/v3/ticker"): NONE,
    ("GET", "/api/v3/ticker/bookTicker"): NONE, ("GET", "/api/v3/avgPrice"): NONE,
    ("POST", "/api/v3/order"): TRADE, ("GET", "/api/v3/order"): USER_DATA, ("DELETE", "/api/v3/order"): TRADE,
    ("GET", "/api/v3/openOrders"): USER_DATA, ("DELETE", "/api/v3/openOrders"): TRADE,
    ("GET", "/api/v3/allOrders"): USER_DATA, ("GET", "/api/v3/account"): USER_DATA,
    ("GET", "/api/v3/myTrades"): USER_DATA,
    # the listen key of the account's order-update stream: read-only, the key header only
    ("POST", "/api/v3/userDataStream"): USER_STREAM, ("PUT", "/api/v3/userDataStream"): USER_STREAM,
    ("DELETE", "/api/v3/userDataStream"): USER_STREAM,
}
PLACE, CANCEL, CANCEL_OPEN = ("POST", "/api/v3/order"), ("DELETE", "/api/v3/order"), ("DELETE", "/api/v3/openOrders")

# Never through the gateway: every other way to move or lever money. `/sapi/` holds withdrawals,
# transfers, sub-accounts and margin; the others are futures, options and portfolio margin.
FORBIDDEN_PREFIXES = ("/sapi/", "/wapi/", "/fapi/", "/dapi/", "/papi/", "/eapi/", "/vapi/", "/api/v1/")
FORBIDDEN_V3 = ("/api/v3/order/oco", "/api/v3/orderList", "/api/v3/order/cancelReplace", "/api/v3/sor/",
                "/api/v3/order/amend")
FORBIDDEN_MSG = ("livegate: withdrawals, transfers, sub-accounts, margin, futures, order lists and cancel-replace "
                 "are never allowed through the gateway")


class Desk(Protocol):
    """What the gateway hands requests to (livegate's services): parameters are the bot's,
    without its signing (`timestamp`, `recvWindow`, `signature`). Each returns the JSON body,
    or raises ApiError with Binance's status and code."""

    def place(self, params: dict[str, str]) -> Any: ...

    def cancel(self, params: dict[str, str]) -> Any: ...

    def cancel_open(self, params: dict[str, str]) -> Any: ...

    def forward(self, method: str, path: str, params: dict[str, str], signed: bool) -> Any: ...

    def server_ms(self) -> int: ...

    def refused(self, method: str, path: str, status: int, code: int) -> None: ...

    def after_answer(self) -> None: ...


def forbidden(path: str) -> bool:
    return path.startswith(FORBIDDEN_PREFIXES) or path.startswith(FORBIDDEN_V3)


class GatewayServer:
    """The HTTP face of a Desk. `keys`: the gateway keys a bot may sign with (api key → ApiKey)."""

    def __init__(self, desk: Desk, keys: dict[str, ApiKey], host: str = "127.0.0.1", port: int = 0):
        self.desk, self.keys, self.host, self.port = desk, keys, host, port
        self.url: str | None = None
        self.internal_errors: list[str] = []
        self._runner: web.BaseRunner | None = None
        # Orders and cancels take the engine one at a time: one thread for them (threads queueing
        # on one lock only trade the GIL back and forth); reads have a few of their own.
        self._orders = ThreadPoolExecutor(1, thread_name_prefix="livegate-gateway-orders")
        self._queued = 0  # order requests handed to `_orders` and not started yet
        self._queued_lock = threading.Lock()
        self._after: asyncio.TimerHandle | None = None  # the last order's remaining write, when no order follows soon
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="livegate-gateway-reads")

    async def start(self) -> str:
        self._runner, self.port = await listen(self._dispatch, self.host, self.port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._after is not None:
            self._after.cancel()
            self._after = None
        for pool in (self._orders, self._reads):
            pool.shutdown(wait=False, cancel_futures=True)
        self._after_answer()  # what the last order left to write is in the ledger when serving stops

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        method, path = request.method, request.path
        desk = self.desk
        if forbidden(path):
            desk.refused(method, path, 403, -2015)
            return json_response(403, {"code": -2015, "msg": FORBIDDEN_MSG})
        security = ROUTES.get((method, path))
        if security is None:
            desk.refused(method, path, 404, 0)
            return text_response(404, "Not Found")
        try:
            raw_query = request.rel_url.raw_query_string
            raw_body = await request.text() if request.body_exists else ""
            params, count = parse_params(raw_query, raw_body)
            if len(params) != count:
                raise bad_request(-1101, "Duplicate values for a parameter detected.")
            header_key = request.headers.get("X-MBX-APIKEY")
            if security == USER_STREAM:
                verify_key(self.keys.get(header_key or ""), header_key, request.remote)
            elif security != NONE:
                verify_signed(self.keys.get(header_key or ""), header_key, raw_query, raw_body, params,
                              desk.server_ms(), request.remote, security == TRADE)
                params = {k: v for k, v in params.items() if k not in SIGNING}
            handler = self._handler(method, path, security in (USER_DATA, TRADE))
            if (method, path) in (PLACE, CANCEL, CANCEL_OPEN):
                body = await self._in_turn(handler, params)
            else:
                body = await asyncio.get_running_loop().run_in_executor(self._reads, handler, params)
            return json_response(200, body)
        except ApiError as err:
            desk.refused(method, path, err.status, err.code)
            return json_response(err.status, err.body(), err.headers)
        except Exception as exc:  # noqa: BLE001 - answered like Binance's -1000; kept (without parameters)
            self.internal_errors.append(f"{method} {path}: {type(exc).__name__}")
            return json_response(500, {"code": -1000, "msg": "An unknown error occurred while processing the request."})

    async def _in_turn(self, handler: Callable[[dict[str, str]], Any], params: dict[str, str]) -> Any:
        """An order or cancel on the orders thread, one at a time. Its answer goes back to the bot as
        soon as it is known; what it left to write (`desk.after_answer`) is written by the next
        order first, or AFTER_IDLE_S after the last one (see AFTER_IDLE_S)."""
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        if self._after is not None:  # this order writes what the last one left, before it is sent
            self._after.cancel()
            self._after = None
        with self._queued_lock:
            self._queued += 1

        def job() -> None:
            with self._queued_lock:
                self._queued -= 1
            try:
                loop.call_soon_threadsafe(_settle, answer, handler(params), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the request, answered there
                loop.call_soon_threadsafe(_settle, answer, None, exc)

        self._orders.submit(job)
        try:
            return await answer
        finally:
            if not self._queued:
                self._after = loop.call_later(AFTER_IDLE_S, self._finish_after)

    def _finish_after(self) -> None:
        """(On the loop, once no order came for AFTER_IDLE_S.) The last order's remaining write."""
        self._after = None
        if not self._queued:
            self._orders.submit(self._after_answer)

    def _after_answer(self) -> None:
        try:
            self.desk.after_answer()
        except Exception as exc:  # noqa: BLE001 - kept; the next order's own write reports a ledger that fails
            self.internal_errors.append(f"after an order: {type(exc).__name__}")

    def _handler(self, method: str, path: str, signed: bool) -> Callable[[dict[str, str]], Any]:
        desk = self.desk
        if (method, path) == PLACE:
            return desk.place
        if (method, path) == CANCEL:
            return desk.cancel
        if (method, path) == CANCEL_OPEN:
            return desk.cancel_open
        return lambda params: desk.forward(method, path, params, signed)


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():  # the bot hung up: nobody to answer
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class GatewayThread(ServerThread):
    """A GatewayServer on its own event loop in a background thread: `start()` → its URL, `stop()`."""

    def __init__(self, server: GatewayServer):
        super().__init__(server, "livegate-gateway")

    def start(self) -> str:
        """Start serving; then move everything built so far (ccxt's markets, the modules) out of
        the garbage collector's reach, so a full collection — tens of milliseconds over all of it —
        never lands in the middle of a bot's order."""
        url = super().start()
        gc.collect()
        gc.freeze()
        return url
