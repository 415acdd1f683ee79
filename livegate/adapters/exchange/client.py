"""The one place a ccxt client is built, and where ccxt's exceptions become livegate's.

ccxt is imported inside the functions: importing this module stays light."""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from livegate.adapters.exchange.transport import PooledSession
from livegate.adapters.exchange.venue import BASE_URL_ENV
from livegate.core import errors
from livegate.core.redact import redact_text

URL_SECTIONS = ("api", "test", "demo")
_QUERY = re.compile(r"((?:https?|wss?)://[^\s?\"'<>]+)\?[^\s\"'<>]*")
_SIGNATURE = re.compile(r"signature=[0-9A-Za-z%+/=_-]+")
_TAGS = re.compile(r"<[^>]*>")
_CODE_MSG = re.compile(r"\{[^{}]*\"code\"\s*:\s*(-?\d+)[^{}]*\}")
MAX_DETAIL = 300


def build_exchange(exchange_id: str, *, testnet: bool, base_url: str | None = None, api_key: str | None = None,
                   secret: str | None = None, password: str | None = None, asynchronous: bool = False, timeout_ms: int = 10000,
                   options: dict | None = None, rate_limit_ms: float | None = None):
    """A ccxt client for `exchange_id` (sync, or `ccxt.async_support` when `asynchronous`).

    Rate limiting is on (`rate_limit_ms` overrides the exchange's own gap between requests).
    `testnet` switches ccxt's sandbox mode on. `base_url` (default: $LIVEGATE_EXCHANGE_BASE_URL)
    points every REST URL at that host, keeping each URL's path, and limits market loading to
    what a local sandbox serves (spot markets, no currencies, no margin pairs). `options` are
    merged into ccxt's options last."""
    if asynchronous:
        import ccxt.async_support as ccxt_module
    else:
        import ccxt as ccxt_module

    cls = getattr(ccxt_module, exchange_id, None) if exchange_id in ccxt_module.exchanges else None
    if cls is None:
        raise errors.UsageError(f"ccxt has no exchange {exchange_id!r} (see ccxt.exchanges for the ids it knows)")
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(timeout_ms)}
    if api_key:
        config["apiKey"] = api_key
    if secret:
        config["secret"] = secret
    if password:
        config["password"] = password
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    if not asynchronous:
        config["session"] = PooledSession()  # requests' per-request overhead is as large as a local round trip
    client = cls(config)
    if testnet:
        if "test" not in client.urls:
            raise errors.UsageError(f"{exchange_id} has no testnet in ccxt; set exchange.testnet to false or use base_url")
        client.set_sandbox_mode(True)
    base = base_url or os.environ.get(BASE_URL_ENV)
    if base:
        point_at(client, base)
    if options:
        client.options.update(options)
    return client


# ccxt's credential names → the environment variables livegate reads them from.
CREDENTIAL_ENV = {"apiKey": "EXCHANGE_API_KEY", "secret": "EXCHANGE_API_SECRET", "password": "EXCHANGE_API_PASSWORD"}


def workspace_exchange(section: Any, env: Any = None, *, sandbox: bool = False, **kwargs):
    """The client of a workspace's `exchange:` section: its testnet switch, base URL and rate
    limit; signed with the credentials of `env` (a WorkspaceEnv) when given. `sandbox` forces
    the exchange's sandbox (`livegate testnet`), signed with EXCHANGE_TESTNET_API_KEY/SECRET
    when set (a real testnet has keys of its own), else the main keys."""
    creds = {}
    if env is not None:
        prefix = "EXCHANGE_TESTNET_" if sandbox and env.get("EXCHANGE_TESTNET_API_KEY") else "EXCHANGE_"
        creds = {"api_key": env.get(f"{prefix}API_KEY"), "secret": env.get(f"{prefix}API_SECRET"),
                 "password": env.get(f"{prefix}API_PASSWORD")}
    if section.rate_limit_per_minute and "rate_limit_ms" not in kwargs:
        kwargs["rate_limit_ms"] = 60_000 / section.rate_limit_per_minute
    return build_exchange(section.id, testnet=sandbox or section.testnet, base_url=section.base_url, **creds, **kwargs)


@functools.cache
def exchange_facts(exchange_id: str) -> Any:
    """A bare ccxt instance of the exchange class, for its published facts (required
    credentials, rate limit), or None if ccxt has no such exchange. Makes no request."""
    import ccxt

    cls = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
    return cls() if cls is not None else None


def point_at(client: Any, base_url: str) -> None:
    """Rewrite `client.urls` api/test/demo to `base_url` (keeping each path) and load only spot
    markets, without currencies or margin pairs (SPEC §11)."""
    for section in URL_SECTIONS:
        if section in client.urls:
            client.urls[section] = rebase(client.urls[section], base_url)
    markets = client.options.get("fetchMarkets")
    client.options["fetchMarkets"] = {**markets, "types": ["spot"]} if isinstance(markets, dict) else {"types": ["spot"]}
    client.options["fetchCurrencies"] = False
    client.options["fetchMargins"] = False


def rebase(value: Any, base_url: str) -> Any:
    """`value` (a URL, or nested dicts of them) with scheme and host replaced by `base_url`'s:
    `https://api.binance.com/api/v3` → `{base}/api/v3`, `.../sapi/v1` → `{base}/sapi/v1`."""
    if isinstance(value, dict):
        return {k: rebase(v, base_url) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return value
    base = base_url.rstrip("/")
    if parts.scheme.startswith("ws"):
        base = re.sub(r"^http", "ws", base)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


# -- errors ------------------------------------------------------------------------------------

def _ccxt_errors():
    return sys.modules.get("ccxt.base.errors")


def is_exchange_error(exc: BaseException) -> bool:
    """ccxt's own errors and plain network failures (connection refused, timeouts)."""
    ccxt_errors = _ccxt_errors()
    return isinstance(exc, (OSError, TimeoutError)) or (ccxt_errors is not None and isinstance(exc, ccxt_errors.BaseError))


def _venue_in(exc: BaseException) -> str | None:
    """ccxt starts its messages with the exchange id."""
    ccxt = sys.modules.get("ccxt")
    first = str(exc).split(" ", 1)[0]
    return first if ccxt is not None and first in getattr(ccxt, "exchanges", ()) else None


def _clean(message: str, exchange: Any, venue: str) -> tuple[str, int | None]:
    """The message without signed query strings, credentials, HTML or the exchange-id prefix;
    and Binance-style `{"code": N, "msg": ...}` reduced to `N msg`."""
    code = None
    match = _CODE_MSG.search(message)
    if match:
        try:
            body = json.loads(match.group(0))
            code = int(body["code"])
            message = message.replace(match.group(0), f"{code} {body.get('msg', '')}".strip())
        except (ValueError, KeyError, TypeError):
            pass
    message = _SIGNATURE.sub("signature=***", _QUERY.sub(r"\1", message))
    message = " ".join(_TAGS.sub(" ", message).split())
    for value in (getattr(exchange, "apiKey", None), getattr(exchange, "secret", None)):
        if isinstance(value, str) and len(value) >= 4:
            message = message.replace(value, "***")
    if message.startswith(venue + " "):
        message = message[len(venue) + 1:]
    message = redact_text(message)
    return (message[:MAX_DETAIL] + "…" if len(message) > MAX_DETAIL else message), code


def scrub(text: str, exchange: Any = None) -> str:
    """`text` safe to keep or show: no signed query string, API key, secret or HTML, at most
    MAX_DETAIL characters (`exchange`, the client, names the key and secret to mask)."""
    return _clean(text, exchange, getattr(exchange, "id", None) or "exchange")[0]


def _code_of_last_answer(exchange: Any, message: str) -> int | None:
    """ccxt matched some errors by message alone; the code is in the last answer if it was this one."""
    try:
        body = json.loads(getattr(exchange, "last_http_response", None) or "")
        return int(body["code"]) if body.get("msg") and body["msg"] in message else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _retry_after(exchange: Any) -> float | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_error(exc: BaseException, *, venue: str | None = None, exchange: Any = None) -> errors.LivegateError:
    """The livegate error for a ccxt (or network) exception, with a message safe to show:
    no API key, secret or signed query string. Pass `exchange` (the client) for a better
    message and the Retry-After of a 429."""
    if isinstance(exc, errors.LivegateError):
        return exc
    name = venue or getattr(exchange, "id", None) or _venue_in(exc) or "exchange"
    detail, code = _clean(str(exc) or type(exc).__name__, exchange, name)
    if code is None:
        code = _code_of_last_answer(exchange, str(exc))
    kind = _classify(exc, code if name.startswith("binance") else None)
    if kind is errors.RateLimited:
        wait = _retry_after(exchange)
        hint = f"; retry after {wait:g} s" if wait is not None else ""
        return errors.RateLimited(f"{name} is rate-limiting requests{hint} ({detail})", venue=name, retry_after=wait)
    if kind is errors.VenueTimeout:
        return errors.VenueTimeout(
            f"{name} did not answer in time ({detail}); an order sent may or may not have been placed — "
            "look it up by its client order id before sending it again")
    if kind is errors.VenueUnreachable:
        return errors.VenueUnreachable(f"{name} is unreachable ({detail})")
    return kind(MESSAGES[kind].format(venue=name, detail=detail), venue=name, code=code)


MESSAGES: dict[type, str] = {
    errors.ExchangeAuthError: "{venue} refused the API credentials ({detail}). Check the API key and secret, "
                              "the key's permissions and its IP whitelist.",
    errors.ClockSkewError: "{venue} refused the request timestamp ({detail}): the local clock is off from the "
                           "exchange's. Sync the clock (NTP) or raise recvWindow.",
    errors.InsufficientFundsError: "{venue}: insufficient balance for the order ({detail})",
    errors.OrderNotFound: "{venue}: no such order ({detail})",
    errors.OrderRejected: "{venue} rejected the order ({detail})",
    errors.VenueRefused: "{venue} refused the request ({detail})",
}


def _classify(exc: BaseException, binance_code: int | None) -> type:
    """Which livegate error class an exception becomes: Binance's own code when it says more
    than ccxt's class (ccxt maps some codes only for binance.com URLs), else the most specific
    ccxt class."""
    ccxt_errors = _ccxt_errors()
    if ccxt_errors is not None and isinstance(exc, ccxt_errors.BaseError):
        if binance_code in BINANCE_CODES:
            return BINANCE_CODES[binance_code]
        for ccxt_name, kind in CCXT_TABLE:
            if isinstance(exc, getattr(ccxt_errors, ccxt_name)):
                return kind
        return errors.VenueUnreachable
    if isinstance(exc, TimeoutError):
        return errors.VenueTimeout
    if isinstance(exc, OSError):
        return errors.VenueUnreachable
    return errors.VenueRefused


BINANCE_CODES: dict[int, type] = {
    -1000: errors.VenueUnreachable, -1001: errors.VenueUnreachable, -1006: errors.VenueUnreachable,
    -1007: errors.VenueUnreachable, -1008: errors.VenueUnreachable,  # execution status unknown
    -1003: errors.RateLimited, -1015: errors.RateLimited,
    -1021: errors.ClockSkewError,
    -1022: errors.ExchangeAuthError, -2014: errors.ExchangeAuthError,
    -2015: errors.ExchangeAuthError,  # ccxt raises DDoSProtection for it once the key has worked
}

CCXT_TABLE: tuple[tuple[str, type], ...] = (
    ("InvalidNonce", errors.ClockSkewError),
    ("AuthenticationError", errors.ExchangeAuthError),  # also PermissionDenied, AccountSuspended
    ("InsufficientFunds", errors.InsufficientFundsError),
    ("OrderNotFound", errors.OrderNotFound),
    ("InvalidOrder", errors.OrderRejected),  # filters, duplicate client order id
    ("BadRequest", errors.OrderRejected),  # also BadSymbol; Binance's -1013 MIN_NOTIONAL lands here
    ("DDoSProtection", errors.RateLimited),
    ("RateLimitExceeded", errors.RateLimited),
    ("RequestTimeout", errors.VenueTimeout),
    ("NetworkError", errors.VenueUnreachable),  # ExchangeNotAvailable, OnMaintenance
    ("ExchangeError", errors.VenueRefused),  # NotSupported, ArgumentsRequired, OperationRejected, ...
    ("BaseError", errors.VenueUnreachable),  # BadResponse, NullResponse, OperationFailed
)


class with_exchange_errors:
    """Turn ccxt and network errors into livegate errors, in a block or around a function:

        with with_exchange_errors(exchange=client):
            client.fetch_balance()

        @with_exchange_errors(venue="binance")
        async def sync_orders(): ...
    """

    def __init__(self, *, venue: str | None = None, exchange: Any = None):
        self.venue, self.exchange = venue, exchange

    def __enter__(self) -> with_exchange_errors:
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and is_exchange_error(exc):
            raise translate_error(exc, venue=self.venue, exchange=self.exchange) from None
        return False

    def __call__(self, fn: Callable) -> Callable:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                with self:
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper
