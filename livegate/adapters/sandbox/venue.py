"""The emulated venue's state in one place: markets on a clock, the matching engine, API keys,
fault knobs and the request-weight counter. No HTTP here."""

from __future__ import annotations

import secrets
import string
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from livegate.adapters.sandbox.auth import LOOPBACK, ApiKey
from livegate.adapters.sandbox.errors import INVALID_SYMBOL, NO_LISTEN_KEY, bad_request, mandatory
from livegate.adapters.sandbox.faults import FaultBoard, Faults
from livegate.adapters.sandbox.market import HISTORY_BARS, WALL, BookShape, Clock, Market, MarketSpec, PricePath
from livegate.adapters.sandbox.matching import Account, Engine
from livegate.core.timeparse import ms_to_iso as _iso

WEIGHT_LIMIT_1M = 6000
SANDBOX_ID = "livegate"  # the admin API's answer to "which venue is this?"
STEP_REQUEST_MS = 100.0  # market time a signed request takes on a step clock
LISTEN_KEY_TTL_MS = 60 * 60_000
LISTEN_KEY_CHARS = string.ascii_letters + string.digits
LISTEN_KEY_LENGTH = 60


class ListenKeys:
    """User data stream keys: one per account, valid for 60 minutes (server time) after it is
    created or kept alive; asking for one again returns the active one, kept alive."""

    def __init__(self):
        self._expiry: dict[str, tuple[str, int]] = {}  # listenKey -> (account, expires at)
        self._of_account: dict[str, str] = {}

    def open(self, account: str, now: int) -> str:
        key = self._of_account.get(account)
        if key is None or self.account(key, now) is None:
            key = "".join(secrets.choice(LISTEN_KEY_CHARS) for _ in range(LISTEN_KEY_LENGTH))
            self._of_account[account] = key
        self._expiry[key] = (account, now + LISTEN_KEY_TTL_MS)
        return key

    def account(self, key: str | None, now: int) -> str | None:
        """The account of an active `key`, or None."""
        entry = self._expiry.get(key or "")
        return entry[0] if entry is not None and entry[1] > now else None

    def _active(self, key: str | None, now: int) -> tuple[str, str]:
        if not key:
            raise mandatory("listenKey")
        account = self.account(key, now)
        if account is None:
            raise bad_request(*NO_LISTEN_KEY)
        return key, account

    def keep_alive(self, key: str | None, now: int) -> None:
        key, account = self._active(key, now)
        self._expiry[key] = (account, now + LISTEN_KEY_TTL_MS)

    def close(self, key: str | None, now: int) -> None:
        key, account = self._active(key, now)
        del self._expiry[key]
        self._of_account.pop(account, None)


class Venue:
    """Markets, accounts, keys and faults of one emulated Binance spot venue.

    `clock` is `wall` (market time runs at `speed` × the wall clock) or `step` (market time
    moves only when advanced: a rehearsal's loop moves it bar by bar). On a step clock, orders
    and fills carry market time, and every signed request (an order, a cancel, an order or
    account query) takes `request_ms` of market time, as its round trip to a venue would: an
    order resting at a price the market has already crossed fills at the next look, as on a
    wall clock — whatever the machine's load, since the requests, not the seconds, count."""

    def __init__(self, specs: Sequence[MarketSpec], *, speed: float = 1.0, history_bars: int = HISTORY_BARS, seed: int = 0,
                 book: BookShape | None = None, maker_fee: float = 0.001, taker_fee: float = 0.001, clock: str = WALL,
                 request_ms: float = STEP_REQUEST_MS, **faults):
        if not specs:
            raise ValueError("the sandbox needs at least one market")
        self.clock = Clock(speed, clock)
        self.request_ms = float(request_ms)
        self.faults = FaultBoard(seed, **faults)
        shape = book or BookShape()
        self.markets = {s.id: Market(s, PricePath(s.candles, self.clock.start_ms, history_bars), shape) for s in specs}
        stamp = self.clock.market_ms if self.clock.step else self.server_ms
        self.engine = Engine(self.markets, self.clock, stamp, maker_fee, taker_fee)
        self.keys: dict[str, ApiKey] = {}
        self.listen_keys = ListenKeys()
        self.advanced: list[Callable[[], None]] = []  # called after market time was moved on purpose
        self._minute, self._weight = 0, 0

    def server_ms(self, faults: Faults | None = None) -> int:
        """The server clock: wall time plus the configured skew."""
        return int(time.time() * 1000) + (faults or self.faults.base).clock_skew_ms

    def market(self, symbol: str | None) -> Market:
        market = self.markets.get(symbol or "")
        if market is None:
            raise bad_request(*INVALID_SYMBOL)
        return market

    def add_key(self, api_key: str, secret: str, *, balances: dict[str, float] | None = None, account: str | None = None,
                can_trade: bool = True, can_withdraw: bool = False, enable_reading: bool = True,
                internal_transfer: bool = False, universal_transfer: bool = False, ip_restrict: bool = True,
                allowed_ips: Sequence[str] = LOOPBACK) -> ApiKey:
        """Register a key for `account` (default: an account of its own), crediting `balances`."""
        target: Account = self.engine.account(account or api_key)
        target.deposit(balances or {})
        target.can_withdraw = target.can_withdraw or can_withdraw
        key = ApiKey(api_key, secret, target.name, can_trade=can_trade, can_withdraw=can_withdraw,
                     enable_reading=enable_reading, internal_transfer=internal_transfer,
                     universal_transfer=universal_transfer, ip_restrict=ip_restrict, allowed_ips=tuple(allowed_ips))
        self.keys[api_key] = key
        return key

    def set_key_flags(self, api_key: str, **flags) -> ApiKey:
        """Change an existing key's permissions (`can_trade`, `can_withdraw`, `ip_restrict`, ...)."""
        if api_key not in self.keys:
            raise KeyError(f"no such API key: {api_key}")
        key = self.keys[api_key] = replace(self.keys[api_key], **flags)
        if flags.get("can_withdraw"):
            self.engine.accounts[key.account].can_withdraw = True
        return key

    def account_of(self, key: ApiKey) -> Account:
        return self.engine.accounts[key.account]

    def uid(self, account: Account) -> int:
        return zlib.crc32(account.name.encode())

    def use_weight(self, weight: int, server_ms: int) -> int:
        """Count `weight` in the current minute; returns the minute's total (X-MBX-USED-WEIGHT-1M)."""
        minute = server_ms // 60_000
        if minute != self._minute:
            self._minute, self._weight = minute, 0
        self._weight += weight
        return self._weight

    def advance(self, ms: float | None = None, to: float | None = None) -> None:
        """Move market time forward by `ms`, or to the market time `to`; resting orders the
        price path crossed on the way fill at once, at their price. A step clock stops at the
        end of the price paths (ValueError): past it, no bar would ever close again."""
        if ms is not None and to is None:
            target = self.clock.market_ms() + float(ms)
        elif to is not None and ms is None:
            target = float(to)
        else:
            raise ValueError("give either ms (how far) or to (which market time)")
        if self.clock.step and target > self.ends_ms():
            raise ValueError(f"the sandbox's market data ends at {_iso(self.ends_ms())} (market time): it cannot move past it; "
                             "a longer rehearsal needs a new sandbox")
        if ms is not None:
            self.clock.advance(ms)
        else:
            self.clock.advance_to(target)
        self.engine.sync()
        for listener in self.advanced:
            listener()

    def ends_ms(self) -> int:
        """The market time at which the shortest price path ends."""
        return min(m.path.t0 + m.path.n * m.path.tf for m in self.markets.values())

    def signed_request(self) -> None:
        """A signed request arrived: on a step clock, its round trip's market time passes first."""
        if self.clock.step and self.request_ms > 0:
            self.clock.advance(self.request_ms)

    def describe_clock(self) -> dict:
        """What GET /_sandbox/clock shows: `sandbox: livegate` says this is a livegate sandbox
        (how a rehearsal recognises one), the clock's mode, market time and the bar length."""
        return {"sandbox": SANDBOX_ID, "clock": self.clock.mode, "market_time": self.clock.market_ms(),
                "speed": self.clock.speed, "bar_ms": min(m.path.tf for m in self.markets.values()),
                "request_ms": self.request_ms if self.clock.step else 0.0, "ends_at": self.ends_ms(),
                "server_time": self.server_ms()}

    def state(self) -> dict:
        """What the admin API shows: clocks, prices, keys (never secrets) and faults."""
        now = self.clock.market_ms()
        return {
            "sandbox": SANDBOX_ID, "clock": self.clock.mode,
            "server_time": self.server_ms(), "market_time": now, "speed": self.clock.speed,
            "prices": {sid: m.round_price(m.path.price(now)) for sid, m in self.markets.items()},
            "bar_index": {sid: m.path.locate(now)[0] for sid, m in self.markets.items()},
            "keys": sorted(self.keys), "faults": self.faults.describe(),
        }
