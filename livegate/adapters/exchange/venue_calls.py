"""Every venue call, observed once: its outcome, its latency and the venue's rate-limit signals,
for the API circuit breakers and the alert thresholds (seed 000 §5.3, seed 004).

    calls = observe(client)                      # once, right after the client is built
    calls.listen(breaker_feed(gateway.breakers, gateway.on_trip), replay=True, slot=BREAKER_SLOT)  # once per request
    calls.vitals()                               # the recent window, for ThresholdWatch (thresholds.with_venue)

`observe` instruments the ccxt client in place, at its HTTP request (`fetch`, and the
`on_rest_response` hook that sees each answer's status and headers), rather than wrapping its
public methods in a proxy:

- the latency is the venue's: ccxt paces requests itself (`enableRateLimit`) before `fetch`,
  and that wait, up to 60 / `exchange.rate_limit_per_minute` seconds, is ours, not the venue's;
- one method may send several requests (`load_markets`), and each request is its own success or
  failure with its own used-weight header, read from the answer it came with (not from
  `last_response_headers`, which the next request overwrites);
- the client stays the same ccxt object: the executor's raw `create_order` / `cancel_order`, the
  reads through `Retry`, the feed, `translate_error(exchange=client)` and ccxt's own retries are
  all seen without a change to any of them, and nothing has to forward attributes.

A call is *failed* when the venue gave no usable answer: no answer (connection, timeout), a 5xx,
a 429/418, or a refusal of the caller (key, permissions, clock). A refusal of the request itself
— no such order, an order rejected by a filter, insufficient balance — is an answer: the API
works, and the trade failure rate counts the order. A rate-limit warning is a 429/418, or an
answer whose used weight of the minute (Binance's `X-MBX-USED-WEIGHT-1M`) is above
`warn_ratio` of the limit; the limit is `weight_limit_1m` when given, else the venue's own
(exchangeInfo's REQUEST_WEIGHT per minute, read when markets load), else Binance spot's 6000.

Fail closed, never crash trading: the call's own result or exception always reaches the caller
unchanged. When the observer cannot classify a failed call it counts it as failed, never as OK.
An error inside the observer or a listener is caught, counted and kept (scrubbed of secrets) in
`observer_errors` / `last_observer_error`, which the alert thresholds report. Listeners are called
one at a time: a call made from inside a listener (a breaker trip cancelling orders) is recorded
at once and handed to the listeners after the current one returns. Nothing of a request — URL,
query string, request headers, body — is kept."""

from __future__ import annotations

import inspect
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from livegate.adapters.exchange.client import scrub, translate_error
from livegate.core.breakers import CircuitBreakers, Trip
from livegate.core.errors import InsufficientFundsError, OrderNotFound, OrderRejected, RateLimited

RATE_LIMIT_STATUSES = frozenset({418, 429})  # Binance: 429 too many requests, 418 the IP banned for it
WEIGHT_HEADER = "x-mbx-used-weight-1m"  # the request weight used this minute (Binance, and the local sandbox)
WEIGHT_WARN_RATIO = 0.8
# Binance spot's REQUEST_WEIGHT limit per minute (its exchangeInfo `rateLimits`); the same figure
# ccxt's binance encodes (rateLimit 50 ms at a cost of 0.2 per unit of weight).
DEFAULT_WEIGHT_LIMIT_1M = 6000
WINDOW_S = 300.0  # the alert vitals' window
MAX_CALLS = 2000  # at most this many calls kept in the window
ANSWERS = (OrderNotFound, OrderRejected, InsufficientFundsError)  # refusals of the request, not of the API
MARK = "_livegate_venue_calls"
HOOKED = ("fetch", "on_rest_response")  # the client's methods observe() replaces on the instance

OnCall = Callable[[bool, float], None]

# The status and headers of the answer to the request in flight (per thread and per task).
_ANSWER: ContextVar[tuple[int, Any] | None] = ContextVar("livegate_venue_answer", default=None)


class Call(NamedTuple):
    at: float  # monotonic seconds
    ok: bool
    seconds: float
    status: int | None  # the HTTP status, None when no answer came
    rate_limited: bool  # a 429 / 418
    used_weight: int | None  # the minute's used weight the answer reported
    weight_warning: bool  # used_weight above the warning level


@dataclass(frozen=True)
class CallVitals:
    """The venue calls of the recent window (latencies in ms; None when no call was timed)."""

    window_s: float
    calls: int
    failed: int
    latency_median_ms: float | None
    latency_max_ms: float | None
    rate_limit_warnings: int  # calls with a 429/418 or a used weight above the warning level (each once)
    rate_limited: int  # of them: 429/418 answers
    weight_warnings: int  # of them: used weight above the warning level
    used_weight_1m: int | None  # the latest answer's
    weight_limit_1m: int
    weight_limit_source: str
    observer_errors: int  # errors of the observer or its listeners in the window
    last_observer_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VenueCalls:
    """The record of one client's venue calls: totals since it was attached, a rolling window
    for the alert vitals, and the listeners told of every call (`on_call(ok, seconds)`)."""

    def __init__(self, *, exchange: Any = None, weight_limit_1m: int | None = None, warn_ratio: float = WEIGHT_WARN_RATIO,
                 window_s: float = WINDOW_S, max_calls: int = MAX_CALLS, clock: Callable[[], float] = time.monotonic):
        self.exchange = exchange  # the client, to classify its errors and mask its credentials
        self.warn_ratio, self.window_s, self.clock = warn_ratio, window_s, clock
        self._configured = weight_limit_1m
        self._venue_limit: int | None = None
        self._window: deque[Call] = deque(maxlen=max_calls)
        self._faults: deque[float] = deque(maxlen=max_calls)
        self._listeners: list[OnCall] = []
        self._slots: dict[str, OnCall] = {}
        self._pending: deque[tuple[bool, float]] = deque()
        self._delivering = False
        self._lock = threading.Lock()
        self.calls = self.failed = self.rate_limited = self.weight_warnings = 0
        self.observer_errors = 0
        self.last_observer_error: str | None = None
        self.used_weight_1m: int | None = None
        self.used_weight_minute: int | None = None  # the wall-clock minute (epoch // 60) that reading is of
        self.replaced: dict[str, Any] = {}  # the client's own instance attributes observe() replaced

    # -- the limit ------------------------------------------------------------------------------

    @property
    def weight_limit_1m(self) -> int:
        return self._configured or self._venue_limit or DEFAULT_WEIGHT_LIMIT_1M

    @property
    def weight_limit_source(self) -> str:
        if self._configured:
            return "configured"
        if self._venue_limit:
            return "the venue's exchangeInfo"
        return f"default (Binance spot, {DEFAULT_WEIGHT_LIMIT_1M}/min)"

    def busy_for(self, share: float, now: float | None = None) -> float | None:
        """Seconds until the venue's minute of request weight starts again, when the weight it
        last reported for the current minute is `share` of its limit or more; else None. (Binance
        counts weight per clock minute.)"""
        now = time.time() if now is None else now
        used, minute = self.used_weight_1m, self.used_weight_minute
        if used is None or minute != int(now // 60) or used < share * self.weight_limit_1m:
            return None
        return 60.0 - now % 60.0

    def learn_limits(self, rate_limits: Any) -> None:
        """Take the venue's REQUEST_WEIGHT limit per minute from exchangeInfo's `rateLimits`."""
        for item in rate_limits if isinstance(rate_limits, list) else ():
            if (isinstance(item, dict) and item.get("rateLimitType") == "REQUEST_WEIGHT" and item.get("interval") == "MINUTE"
                    and int(item.get("intervalNum") or 1) == 1 and int(item.get("limit") or 0) > 0):
                self._venue_limit = int(item["limit"])

    # -- listeners ------------------------------------------------------------------------------

    def listen(self, on_call: OnCall, *, replay: bool = False, slot: str | None = None) -> OnCall:
        """Tell `on_call(ok, seconds)` of every call from now on (returns it, to unlisten).
        `replay`: first of the calls already kept, oldest first (those made before the breakers
        existed: loading markets, the balance). `slot`: replaces the listener that held it — a
        client feeds one set of breakers, the latest gateway's, never a finished run's too."""
        with self._lock:
            backlog = [(c.ok, c.seconds) for c in self._window] if replay else []
            if slot is not None:
                before = self._slots.get(slot)
                if before is not None and before in self._listeners:
                    self._listeners.remove(before)
                self._slots[slot] = on_call
            self._listeners.append(on_call)
        for ok, seconds in backlog:
            self._tell(on_call, ok, seconds)
        return on_call

    def unlisten(self, on_call: OnCall) -> None:
        with self._lock:
            if on_call in self._listeners:
                self._listeners.remove(on_call)

    # -- recording ------------------------------------------------------------------------------

    def record(self, ok: bool, seconds: float, *, status: int | None = None, rate_limited: bool = False,
               used_weight: int | None = None) -> None:
        """One call's outcome; then the listeners. Never raises (see the module's docstring)."""
        try:
            limit = self.weight_limit_1m
            warn = used_weight is not None and used_weight > self.warn_ratio * limit
            call = Call(self.clock(), ok, seconds, status, rate_limited, used_weight, warn)
            with self._lock:
                self._window.append(call)
                self.calls += 1
                self.failed += not ok
                self.rate_limited += rate_limited
                self.weight_warnings += warn
                if used_weight is not None:
                    self.used_weight_1m = used_weight
                    self.used_weight_minute = int(time.time() // 60)
        except Exception as exc:  # noqa: BLE001 - the observer never breaks a call
            self.fault(exc)
        self._notify(ok, seconds)

    def answered(self, seconds: float, error: BaseException | None, result: Any = None) -> None:
        """What the client's `fetch` hook calls when a request is done (`error`: what it raised)."""
        ok, status, limited, weight = error is None, None, False, None
        try:
            answer = _ANSWER.get()
            if answer is not None:
                status, headers = answer
                limited = status in RATE_LIMIT_STATUSES
                weight = used_weight(headers)
            if error is not None:
                ok, limited = self.classify(error, status, limited)
            elif type(result) is dict and "rateLimits" in result:
                self.learn_limits(result["rateLimits"])
        except Exception as exc:  # noqa: BLE001 - counted; a failed call stays failed
            self.fault(exc)
        self.record(ok, seconds, status=status, rate_limited=limited, used_weight=weight)

    def classify(self, error: BaseException, status: int | None, limited: bool) -> tuple[bool, bool]:
        """(ok, rate_limited) of a call that raised `error` after an answer with `status`."""
        if status is not None and status >= 500:
            return False, limited
        kind = translate_error(error, exchange=self.exchange)
        if isinstance(kind, RateLimited):
            return False, True
        return (not limited and status is not None and isinstance(kind, ANSWERS)), limited

    def fault(self, exc: BaseException) -> None:
        """An error of the observer or a listener: counted and kept, scrubbed of secrets. Never raises."""
        try:
            text = f"{type(exc).__name__}: {scrub(str(exc), self.exchange)}"
        except Exception:  # noqa: BLE001 - the type alone, then
            text = type(exc).__name__
        try:
            at = self.clock()
        except Exception:  # noqa: BLE001 - a broken injected clock: the process's own
            at = time.monotonic()
        with self._lock:
            self.observer_errors += 1
            self.last_observer_error = text
            self._faults.append(at)

    def _notify(self, ok: bool, seconds: float) -> None:
        with self._lock:
            if not self._listeners:
                return
            self._pending.append((ok, seconds))
            if self._delivering:
                return  # a call made from inside a listener: delivered when that listener returns
            self._delivering = True
        done = False
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        done, self._delivering = True, False
                        return
                    ok, seconds = self._pending.popleft()
                    listeners = tuple(self._listeners)
                for on_call in listeners:
                    self._tell(on_call, ok, seconds)
        finally:
            if not done:
                with self._lock:
                    self._delivering = False

    def _tell(self, on_call: OnCall, ok: bool, seconds: float) -> None:
        try:
            on_call(ok, seconds)
        except Exception as exc:  # noqa: BLE001 - counted, never raised into the call
            self.fault(exc)

    # -- reading --------------------------------------------------------------------------------

    def recent(self) -> list[Call]:
        """The calls kept (at most `max_calls`, oldest first; `vitals` drops those past the window)."""
        with self._lock:
            return list(self._window)

    def vitals(self) -> CallVitals:
        """The calls of the last `window_s` seconds."""
        since = self.clock() - self.window_s
        with self._lock:
            while self._window and self._window[0].at < since:
                self._window.popleft()
            while self._faults and self._faults[0] < since:
                self._faults.popleft()
            calls = list(self._window)
            faults = len(self._faults)
            last_fault = self.last_observer_error if faults else None
        latencies = [c.seconds for c in calls]
        return CallVitals(
            window_s=self.window_s, calls=len(calls), failed=sum(1 for c in calls if not c.ok),
            latency_median_ms=1000.0 * statistics.median(latencies) if latencies else None,
            latency_max_ms=1000.0 * max(latencies) if latencies else None,
            rate_limit_warnings=sum(1 for c in calls if c.rate_limited or c.weight_warning),
            rate_limited=sum(1 for c in calls if c.rate_limited), weight_warnings=sum(1 for c in calls if c.weight_warning),
            used_weight_1m=self.used_weight_1m, weight_limit_1m=self.weight_limit_1m,
            weight_limit_source=self.weight_limit_source, observer_errors=faults, last_observer_error=last_fault)


BREAKER_SLOT = "breakers"  # the listener slot of the circuit breakers' feed


def breaker_feed(breakers: CircuitBreakers, on_trip: Callable[[Trip], None],
                 clock: Callable[[], float] = time.time) -> OnCall:
    """The listener that feeds `breakers` (the API error-rate and latency breakers, at `clock()`)
    and hands every new trip to `on_trip` (the gateway's: journal it, cancel open orders).
    Listen with `slot=BREAKER_SLOT`, so that a client feeds only the latest gateway's breakers."""

    def on_call(ok: bool, seconds: float) -> None:
        failed: Exception | None = None
        for trip in breakers.on_api_call(ok, seconds, int(clock() * 1000)):
            try:
                on_trip(trip)
            except Exception as exc:  # noqa: BLE001 - every trip is handed on; the first error is then counted
                failed = failed or exc
        if failed is not None:
            raise failed

    return on_call


def used_weight(headers: Mapping[str, Any] | None) -> int | None:
    """The minute's used request weight an answer's headers report, or None."""
    if not headers:
        return None
    value = headers.get(WEIGHT_HEADER)  # requests' and aiohttp's headers ignore case
    if value is None:
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == WEIGHT_HEADER), None)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def observe(client: Any, **options: Any) -> VenueCalls:
    """Record every request `client` (a ccxt client, sync or async) sends from now on; returns
    its VenueCalls (the same one when the client is observed already). `options`: VenueCalls'
    (`weight_limit_1m`, `warn_ratio`, `window_s`, `max_calls`, `clock`)."""
    existing = observed(client)
    if existing is not None:
        return existing
    if not (hasattr(client, "__dict__") and callable(getattr(client, "fetch", None))
            and callable(getattr(client, "on_rest_response", None))):
        raise TypeError(f"observe() needs a ccxt client (fetch and on_rest_response), not {type(client).__name__}")
    calls = VenueCalls(exchange=client, **options)
    calls.replaced = {name: vars(client).get(name) for name in HOOKED}
    fetch, on_rest_response = client.fetch, client.on_rest_response

    def seen(code: int, reason: str, url: str, method: str, response_headers: Any, response_body: str,
             request_headers: Any, request_body: Any) -> Any:
        _ANSWER.set((code, response_headers))
        return on_rest_response(code, reason, url, method, response_headers, response_body, request_headers, request_body)

    if inspect.iscoroutinefunction(fetch):
        async def timed_async(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            with _Timed(calls) as timed:
                return timed.answer(await fetch(url, method, headers, body))

        client.fetch = timed_async
    else:
        def timed_sync(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            with _Timed(calls) as timed:
                return timed.answer(fetch(url, method, headers, body))

        client.fetch = timed_sync
    client.on_rest_response = seen
    setattr(client, MARK, calls)
    return calls


def _done(calls: VenueCalls, t0: float, error: BaseException | None, result: Any = None) -> None:
    try:
        calls.answered(time.perf_counter() - t0, error, result)
    except Exception:  # noqa: BLE001 - `answered` never raises; this guards the call's outcome regardless
        pass


class _Timed:
    """One request, timed: `answer(out)` records it as answered; leaving on an exception records
    it as failed with that exception. The answer's status and headers (`on_rest_response`) are
    kept for this request alone."""

    def __init__(self, calls: VenueCalls):
        self.calls = calls

    def __enter__(self) -> _Timed:
        self.token = _ANSWER.set(None)
        self.t0 = time.perf_counter()
        return self

    def answer(self, out: Any) -> Any:
        _done(self.calls, self.t0, None, out)
        return out

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if isinstance(exc, Exception):
                _done(self.calls, self.t0, exc)
        finally:
            _ANSWER.reset(self.token)


def observed(client: Any) -> VenueCalls | None:
    """The VenueCalls recording `client`, or None."""
    calls = vars(client).get(MARK) if hasattr(client, "__dict__") else None
    return calls if isinstance(calls, VenueCalls) else None


def unobserve(client: Any) -> None:
    """Stop recording `client`'s requests (its own `fetch` and `on_rest_response` back)."""
    calls = observed(client)
    if calls is None:
        return
    for name in HOOKED:
        before = calls.replaced.get(name)
        if before is None:
            vars(client).pop(name, None)
        else:
            setattr(client, name, before)
    vars(client).pop(MARK, None)

