"""The local Binance spot emulator on 127.0.0.1: `SandboxServer` (aiohttp, async) and
`SandboxExchange`, the same server on its own event loop in a background thread. The same port
serves Binance's websocket streams (`/ws/...`, `/stream?streams=...`, see `streams`).

Unmodified ccxt talks to it once its URLs point here (`livegate.adapters.exchange.client.build_exchange`
with `base_url`). A small admin API lives under `/_sandbox/` (state, faults, keys, clock, advance)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from livegate.adapters.exchange.client import build_exchange
from livegate.adapters.sandbox.auth import LOOPBACK, verify_key, verify_signed
from livegate.adapters.sandbox.defaults import DEFAULT_KEYS, KeyPair, build_venue
from livegate.adapters.sandbox.errors import TOO_MUCH_WEIGHT, ApiError, bad_request
from livegate.adapters.sandbox.faults import Faults
from livegate.adapters.sandbox.market import HISTORY_BARS, WALL, BookShape, MarketSpec
from livegate.adapters.sandbox.rest import NONE, ROUTES, TRADE, USER_STREAM, Call
from livegate.adapters.sandbox.streams import StreamHub, is_stream_path
from livegate.adapters.sandbox.venue import SANDBOX_ID, WEIGHT_LIMIT_1M, Venue
from livegate.adapters.serving import ServerThread, json_response, listen, text_response

if TYPE_CHECKING:
    from aiohttp import web  # loaded when a server starts (`serving`)

ADMIN = "/_sandbox/"
GATEWAY_ERROR = "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center></body></html>"


class SandboxServer:
    """The HTTP face of a `Venue`: Binance's REST routes, its auth and error rules, the faults,
    and its websocket streams."""

    def __init__(self, venue: Venue, host: str = "127.0.0.1", port: int = 0):
        self.venue, self.host, self.port = venue, host, port
        self.url: str | None = None
        self._runner: web.BaseRunner | None = None
        self.internal_errors: list[str] = []
        self._stopping: asyncio.Event | None = None
        self.streams = StreamHub(venue)

    async def start(self) -> str:
        """Listen on `host:port` (port 0: a free one); returns the base URL."""
        self._stopping = asyncio.Event()
        self._runner, self.port = await listen(self._dispatch, self.host, self.port)
        self.venue.engine.sync()
        await self.streams.start()
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        """Release hanging answers and close the listener."""
        if self._stopping is not None:
            self._stopping.set()
        await self.streams.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the Binance API -------------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        venue = self.venue
        header_key = request.headers.get("X-MBX-APIKEY")
        faults = venue.faults.get(header_key)
        path = request.path
        if path.startswith(ADMIN):
            return await self._admin(request, path[len(ADMIN):])
        if is_stream_path(path):
            return await self.streams.handle(request)
        if faults.testnet and path.startswith("/sapi/"):
            return text_response(404, "Not Found")
        route = ROUTES.get((request.method, path))
        if route is None:
            return text_response(404, "Not Found")
        hang = False
        if faults.hits(request.method, path):
            early = await self._disturb(faults)
            if early is not None:
                return early
            hang = venue.faults.roll(faults.timeout_rate)
        server_ms = venue.server_ms(faults)
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.body_exists else ""
        used = 0
        try:
            params, count = parse_params(raw_query, raw_body)
            used = venue.use_weight(route.weight(params), server_ms)
            if faults.weight_limit is not None and used > faults.weight_limit:
                return self._too_many(faults, used)
            if len(params) != count:
                raise bad_request(-1101, "Duplicate values for a parameter detected.")
            key = None
            if route.security == USER_STREAM:
                key = verify_key(venue.keys.get(header_key or ""), header_key, request.remote)
            elif route.security != NONE:
                key = verify_signed(venue.keys.get(header_key or ""), header_key, raw_query, raw_body, params,
                                    server_ms, request.remote, route.security == TRADE)
                venue.signed_request()
            status, body, headers = 200, route.handler(Call(venue, params, key, faults, server_ms)), {}
        except ApiError as err:
            status, body, headers = err.status, err.body(), err.headers
        except Exception as exc:  # noqa: BLE001 - a bug here answers like Binance's -1000, and is kept
            self.internal_errors.append(f"{request.method} {path}: {type(exc).__name__}: {exc}")
            status, body, headers = 500, {"code": -1000, "msg": "An unknown error occurred while processing the request."}, {}
        if hang:
            await self._hang(faults.hang_s)
        return json_response(status, body, {"X-MBX-USED-WEIGHT-1M": str(used), **headers})

    async def _disturb(self, faults: Faults) -> web.Response | None:
        """Latency first, then maybe a 429 or a 5xx instead of an answer."""
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        roll = self.venue.faults.roll
        if roll(faults.rate_limit_rate):
            return self._too_many(faults, WEIGHT_LIMIT_1M + 1)
        if roll(faults.error_rate):
            title = f"{faults.error_status} {_reason(faults.error_status)}"
            return text_response(faults.error_status, GATEWAY_ERROR.format(title), "text/html")
        return None

    def _too_many(self, faults: Faults, used: int) -> web.Response:
        code, msg = TOO_MUCH_WEIGHT
        limit = faults.weight_limit or WEIGHT_LIMIT_1M
        return json_response(429, {"code": code, "msg": msg.format(limit=limit)},
                             {"Retry-After": str(faults.retry_after_s), "X-MBX-USED-WEIGHT-1M": str(used)})

    async def _hang(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    # -- admin -----------------------------------------------------------------------------------

    async def _admin(self, request: web.BaseRequest, action: str) -> web.Response:
        """GET state · GET clock · GET/POST/DELETE faults · POST keys · POST advance {"ms": N} or
        {"to": MARKET_MS} (JSON bodies)."""
        method = request.method
        try:
            body = await request.json() if request.body_exists else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return json_response(400, {"sandbox": SANDBOX_ID, "error": f"bad JSON body: {exc}"})
        api_key = body.pop("api_key", None) or request.query.get("api_key")
        try:
            if (action, method) == ("state", "GET"):
                return json_response(200, self.venue.state())
            if (action, method) == ("faults", "GET"):
                return json_response(200, self.venue.faults.describe())
            if (action, method) == ("faults", "POST"):
                self.venue.faults.set(api_key, **body)
                return json_response(200, self.venue.faults.describe())
            if (action, method) == ("faults", "DELETE"):
                self.venue.faults.clear(api_key)
                return json_response(200, self.venue.faults.describe())
            if (action, method) == ("keys", "POST"):
                if "secret" in body or api_key not in self.venue.keys:
                    self.venue.add_key(api_key, body.pop("secret"), **body)
                else:
                    self.venue.set_key_flags(api_key, **body)
                return json_response(200, {"api_key": api_key})
            if (action, method) == ("clock", "GET"):
                return json_response(200, self.venue.describe_clock())
            if (action, method) == ("advance", "POST"):
                self.venue.advance(ms=_number(body, "ms"), to=_number(body, "to"))
                return json_response(200, self.venue.state())
        except (TypeError, ValueError, KeyError) as exc:
            return json_response(400, {"sandbox": SANDBOX_ID, "error": str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"})
        return json_response(404, {"sandbox": SANDBOX_ID, "error": f"no admin action {method} /_sandbox/{action}"})


def _number(body: dict, name: str) -> float | None:
    """A number of an admin request's body, or None when absent."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number (got {value!r})")
    return float(value)


def parse_params(query: str, body: str) -> tuple[dict[str, str], int]:
    """Form-encoded query string and body as one dict, and how many pairs were sent."""
    params: dict[str, str] = {}
    count = 0
    for raw in (query, body):
        if not raw:
            continue
        for pair in raw.split("&"):
            if not pair:
                continue
            name, _, value = pair.partition("=")
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            params[name] = value
            count += 1
    return params, count


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


async def serve(server: SandboxServer, stop: asyncio.Event, ready: Callable[[str], None] | None = None) -> None:
    """Run `server` until `stop` is set (the `livegate sandbox serve` entry point); `ready`
    gets the base URL once it listens."""
    url = await server.start()
    if ready is not None:
        ready(url)
    try:
        await stop.wait()
    finally:
        await server.stop()


class SandboxExchange:
    """A local Binance spot venue in a background thread.

        with SandboxExchange(speed=600) as sandbox:
            client = sandbox.client()            # ccxt.binance pointed at it, trader key
            client.create_order("BTC/USDT", "market", "buy", 0.001)

    `markets` default to BTC/USDT and ETH/USDT on generated paths; `speed` scales the market
    clock (600: a 1m bar lasts 0.1 s); `clock="step"` instead holds market time still until it
    is advanced (`advance`, or `POST /_sandbox/advance` — what a rehearsal's loop does bar by
    bar); `history_bars` bars lie before the start. Fault knobs (see `Faults`) may be given
    here, per key with `set_fault`, or through the admin API."""

    def __init__(self, markets: Sequence[MarketSpec] | None = None, *, speed: float = 1.0, history_bars: int = HISTORY_BARS,
                 seed: int = 0, default_keys: bool = True, book: BookShape | None = None, maker_fee: float = 0.001,
                 taker_fee: float = 0.001, host: str = "127.0.0.1", port: int = 0, clock: str = WALL, **faults):
        self.venue = build_venue(None if markets is None else list(markets), speed=speed, history_bars=history_bars,
                                 seed=seed, default_keys=default_keys, book=book, maker_fee=maker_fee,
                                 taker_fee=taker_fee, clock=clock, **faults)
        self.keys: dict[str, KeyPair] = dict(DEFAULT_KEYS) if default_keys else {}
        self.server = SandboxServer(self.venue, host, port)
        self._serving = ServerThread(self.server, "livegate-sandbox")

    @property
    def url(self) -> str:
        if self.server.url is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self.server.url

    def start(self) -> str:
        """Start serving in a background thread; returns the base URL (http://127.0.0.1:PORT)."""
        if self._serving.thread is not None:
            return self.url
        return self._serving.start()

    def stop(self) -> None:
        """Stop serving and join the thread (hanging answers are released at once)."""
        self._serving.stop()
        self.server.url = None

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return self._serving.loop

    @property
    def _thread(self) -> threading.Thread | None:
        return self._serving.thread

    def __enter__(self) -> SandboxExchange:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _on_loop(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run `fn` on the server's loop (state is only touched there), wait for its result."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            return fn(*args, **kwargs)

        async def call():
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    # -- the Python admin API --------------------------------------------------------------------

    def add_key(self, api_key: str, secret: str, *, balances: dict[str, float] | None = None,
                can_withdraw: bool = False, can_trade: bool = True, ip_restrict: bool = True,
                allowed_ips: Sequence[str] = LOOPBACK, **flags) -> KeyPair:
        """Register an API key (own account unless `account=` names one) and fund it."""
        self._on_loop(self.venue.add_key, api_key, secret, balances=balances, can_withdraw=can_withdraw,
                      can_trade=can_trade, ip_restrict=ip_restrict, allowed_ips=allowed_ips, **flags)
        return KeyPair(api_key, secret)

    def set_key(self, api_key: str, **flags) -> None:
        """Change a key's permissions at runtime: can_trade, can_withdraw, enable_reading,
        internal_transfer, universal_transfer, ip_restrict, allowed_ips."""
        self._on_loop(self.venue.set_key_flags, api_key, **flags)

    def set_fault(self, api_key: str | None = None, **knobs) -> Faults:
        """Set fault knobs server-wide, or for one API key; returns that key's effective faults."""
        return self._on_loop(self.venue.faults.set, api_key, **knobs)

    def clear_faults(self, api_key: str | None = None) -> None:
        """Remove one key's fault overrides, or all faults."""
        self._on_loop(self.venue.faults.clear, api_key)

    def advance(self, ms: float) -> None:
        """Move the market clock forward by `ms` milliseconds; resting orders the price crossed fill."""
        self._on_loop(self.venue.advance, ms)

    def set_speed(self, speed: float) -> None:
        """Change how fast a wall market clock runs from now on (no jump in market time); a step
        clock has no speed (ValueError)."""
        self._on_loop(self.venue.clock.set_speed, speed)

    def clock(self) -> dict:
        """The market clock, as `GET /_sandbox/clock` shows it (mode, market time, bar length)."""
        return self._on_loop(self.venue.describe_clock)

    def price(self, symbol: str) -> float:
        """The current price of `symbol` (`BTC/USDT` or `BTCUSDT`)."""
        market = self.venue.market(symbol.replace("/", ""))
        return market.round_price(market.path.price(self.venue.clock.market_ms()))

    def balances(self, api_key: str) -> dict[str, tuple[float, float]]:
        """The (free, locked) balances of the account behind `api_key`."""
        def read():
            self.venue.engine.sync()
            account = self.venue.account_of(self.venue.keys[api_key])
            return {asset: (free, locked) for asset, (free, locked) in account.balances.items()}

        return self._on_loop(read)

    def state(self) -> dict:
        """Clocks, prices, key names and faults, as `GET /_sandbox/state` shows them."""
        return self._on_loop(self.venue.state)

    def client(self, key: str | KeyPair = "trader", *, asynchronous: bool = False, **kwargs):
        """A ccxt binance client pointed at this sandbox, with a key of `self.keys` (by name) or
        any `KeyPair`; ccxt's own request pacing is off unless `rate_limit_ms` says otherwise."""

        pair = self.keys[key] if isinstance(key, str) else key
        kwargs.setdefault("rate_limit_ms", 0)
        return build_exchange("binance", testnet=False, base_url=self.url, api_key=pair.api_key,
                              secret=pair.secret, asynchronous=asynchronous, **kwargs)
