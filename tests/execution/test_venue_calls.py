"""The venue-call observer against the local Binance emulator with real ccxt (real HTTP, real
signatures): every request is recorded once with its status, latency and used weight — checked
against the headers ccxt itself kept and the venue's own answers; 429s and used weight above the
warning level are rate-limit warnings; added latency reaches the vitals; 5xx answers trip the API
error-rate breaker; nothing the observer or a listener does changes a call's outcome."""

from __future__ import annotations

import asyncio
import itertools
import time

import ccxt
import pytest
from requests.structures import CaseInsensitiveDict

from livegate.adapters.exchange.retry import Retry
from livegate.adapters.exchange.venue_calls import (
    BREAKER_SLOT,
    DEFAULT_WEIGHT_LIMIT_1M,
    VenueCalls,
    breaker_feed,
    observe,
    observed,
    unobserve,
    used_weight,
)
from livegate.adapters.execution.cex import CcxtExecutor
from livegate.config.models import CircuitBreakerRules
from livegate.core.breakers import CircuitBreakers, Trip
from livegate.core.errors import VenueUnreachable
from livegate.core.orders import BUY, MARKET, Order
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.services.alerts.thresholds import AlertLimits, Breach, Vitals, evaluate, readings, with_venue
from tests.core.trading_helpers import limits

BTC = "BTC/USDT"
WEIGHT = "X-MBX-USED-WEIGHT-1M"
_ids = itertools.count(1)


@pytest.fixture
def sandbox_options():
    """An emulator of this module's own: its minute's request weight is counted by these tests alone."""
    return {"seed": 11, "share": "module"}


@pytest.fixture
def key(sandbox):
    n = next(_ids)
    pair = sandbox.add_key(f"calls-key-{n}", f"calls-secret-{n}-Zq7", balances={"USDT": 10_000, "BTC": 1})
    yield pair
    sandbox.clear_faults(pair.api_key)


@pytest.fixture
def client(sandbox, key):
    return sandbox.client(key)


def told(calls: VenueCalls) -> list[tuple[bool, float]]:
    """What the listeners are told, in order."""
    heard: list[tuple[bool, float]] = []
    calls.listen(lambda ok, seconds: heard.append((ok, seconds)))
    return heard


def fresh_minute(margin_s: float = 5.0) -> None:
    """Wait for the next minute when this one is nearly over: the venue counts weight per minute."""
    left = 60.0 - time.time() % 60.0
    if left < margin_s:
        time.sleep(left + 0.05)


def venue_weight(client) -> int:
    """The used weight of ccxt's own last answer (not the observer's record)."""
    return int(client.last_response_headers[WEIGHT])


# -- every request, once --------------------------------------------------------------------------

def test_every_request_is_recorded_once_with_the_venues_status_and_weight(client):
    calls = observe(client)
    heard = told(calls)
    weights, statuses = [], []
    t0 = time.perf_counter()
    client.load_markets()
    weights.append(venue_weight(client))
    statuses.append(200)
    client.fetch_ticker(BTC)
    weights.append(venue_weight(client))
    statuses.append(200)
    with pytest.raises(ccxt.OrderNotFound):  # -2013: the venue answered, the API works
        client.fetch_order("424242", BTC)
    weights.append(venue_weight(client))
    statuses.append(400)
    elapsed = time.perf_counter() - t0

    recent = calls.recent()
    assert [c.status for c in recent] == statuses
    assert [c.used_weight for c in recent] == weights
    assert [c.ok for c in recent] == [True, True, True]
    assert [(ok, seconds) for _, ok, seconds, *_ in recent] == heard  # the listeners heard each call once, in order
    assert 0 < sum(s for _, s in heard) <= elapsed
    v = calls.vitals()
    assert (v.calls, v.failed, v.rate_limit_warnings, v.used_weight_1m) == (3, 0, 0, weights[-1])
    assert (v.weight_limit_1m, v.weight_limit_source) == (6000, "the venue's exchangeInfo")  # its rateLimits, read at load_markets
    assert observe(client) is calls and observed(client) is calls  # attached once


def test_raw_create_order_calls_outside_retry_are_observed(sandbox, key, client, tmp_path):
    """The executor's own create_order (outside Retry) and its lookups reach the breakers."""
    calls = observe(client)
    breakers = CircuitBreakers(limits(), CircuitBreakerRules(api_window=10, api_error_rate=0.4))
    trips = []
    calls.listen(lambda ok, seconds: trips.extend(breakers.on_api_call(ok, seconds, 0)))
    sandbox.set_fault(key.api_key, error_rate=1.0, routes=("POST /api/v3/order",))
    path = tmp_path / "ledger.db"
    Ledger.create(path).close()
    with Ledger.open(path) as ledger:
        executor = CcxtExecutor(client, WriteThroughJournal(ledger, "t"), base_delay=0.01, halt_check=lambda: None)
        with pytest.raises(VenueUnreachable):
            executor.place(Order("cid-calls-503", BTC, BUY, MARKET, 0.001, None, int(time.time() * 1000), origin="test"), 0)
    recent = calls.recent()
    posts = [c for c in recent if c.status == 503]
    lookups = [c for c in recent if c.status == 400]  # by client order id: -2013, no such order
    assert len(posts) == executor.attempts and not any(c.ok for c in posts)
    assert len(lookups) == executor.lookups and all(c.ok for c in lookups)
    assert list(breakers.api) == [(c.ok, c.seconds) for c in recent][-10:]  # the breaker saw exactly these calls
    # markets, the quote, then each attempt a 503 and a lookup: 2 failed of the first 5 calls = 40 %
    assert [t.breaker for t in trips] == ["api_error_rate"]


# -- rate limits ----------------------------------------------------------------------------------

def test_429s_are_failed_calls_and_rate_limit_warnings(sandbox, client):
    calls = observe(client)
    client.load_markets()
    sandbox.set_fault(rate_limit_rate=1.0, retry_after_s=0)
    retry = Retry(attempts=3, base_delay=0.0, sleep=lambda s: None, venue="binance", client=client)
    with pytest.raises(VenueUnreachable, match="unreachable after 3 attempts"):
        retry(lambda: client.fetch_ticker(BTC))
    v = calls.vitals()
    assert retry.rate_limited == 3  # Retry's own count of RateLimited errors agrees
    assert (v.calls, v.failed, v.rate_limited, v.rate_limit_warnings) == (4, 3, 3, 3)
    assert [c.status for c in calls.recent()] == [200, 429, 429, 429]
    breaches = evaluate(with_venue(Vitals(), v))
    assert Breach("rate_limit", "warning", "3 rate-limit warnings in the window") in breaches


def test_used_weight_above_the_warning_level_warns_before_the_venue_refuses(sandbox):
    fresh_minute()
    probe = sandbox.client()
    probe.fetch_time()
    limit = int((venue_weight(probe) + 10) / 0.8) + 1  # the venue refuses above this much weight this minute
    sandbox.set_fault(weight_limit=limit)
    client = sandbox.client()
    calls = observe(client, weight_limit_1m=limit)
    seen: list[tuple[int, int]] = []  # (status, used weight) as ccxt kept them
    for _ in range(limit):
        try:
            client.fetch_time()  # weight 1
            seen.append((200, venue_weight(client)))
        except ccxt.DDoSProtection:  # ccxt's class for Binance's -1003
            seen.append((429, venue_weight(client)))
            break
    assert seen[-1][0] == 429
    level = 0.8 * limit
    expected = sum(1 for status, used in seen if status == 429 or used > level)
    first_warning = next(i for i, (_, used) in enumerate(seen) if used > level)
    assert 0 < first_warning < len(seen) - 1  # quiet below the level, then warned while the venue still answered
    v = calls.vitals()
    assert v.weight_limit_source == "configured" and v.weight_limit_1m == limit
    assert v.weight_warnings == sum(1 for _, used in seen if used > level)
    assert v.rate_limited == 1 and v.rate_limit_warnings == expected
    assert [c.weight_warning for c in calls.recent()] == [used > level for _, used in seen]


# -- latency --------------------------------------------------------------------------------------

def test_added_latency_shows_in_the_vitals_and_trips_the_latency_breaker(sandbox, client):
    calls = observe(client)
    for _ in range(2):
        client.fetch_time()
    assert calls.vitals().latency_max_ms < 150
    breakers = CircuitBreakers(limits(), CircuitBreakerRules(api_window=10, api_latency_seconds=0.15))
    trips = []
    calls.listen(lambda ok, seconds: trips.extend(breakers.on_api_call(ok, seconds, 0)))
    sandbox.set_fault(latency_ms=200)
    for _ in range(5):
        client.fetch_time()
    slow = calls.recent()[-5:]
    assert all(0.2 <= c.seconds < 2.0 for c in slow)
    v = calls.vitals()
    # 2 fast then 5 slow: the median of the 7 is the 4th fastest, a slow one
    assert v.latency_median_ms == pytest.approx(1000 * sorted(c.seconds for c in calls.recent())[3])
    assert v.latency_median_ms >= 200 and v.latency_max_ms >= v.latency_median_ms
    assert [t.breaker for t in trips] == ["api_latency"]  # the breaker saw the 5 slow calls: median >= 0.2 s > 0.15 s
    assert evaluate(with_venue(Vitals(), v), AlertLimits(latency_ms=150)) == [
        Breach("latency", "error", f"median API latency {v.latency_median_ms:.0f} ms > 150 ms")]


# -- 5xx ------------------------------------------------------------------------------------------

def test_5xx_trip_the_api_error_rate_breaker_on_the_call_that_reaches_it(sandbox, client):
    calls = observe(client)
    for _ in range(8):  # before the breakers exist (markets, balances): replayed to them
        client.fetch_time()
    breakers = CircuitBreakers(limits(), CircuitBreakerRules(api_window=10, api_error_rate=0.2))
    trips: list[tuple[int, Trip]] = []
    calls.listen(breaker_feed(breakers, lambda trip: trips.append((calls.calls, trip)), clock=lambda: 1_700_000_000.0),
                 replay=True, slot=BREAKER_SLOT)
    assert len(breakers.api) == 8
    sandbox.set_fault(error_rate=1.0, error_status=502)
    for _ in range(3):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.fetch_time()
    # 8 good then 1 bad: 1/9 = 11 %; the 10th call, the 2nd bad: 2/10 = 20 % >= 20 % trips
    assert [(n, t.breaker, t.value, t.at_ms) for n, t in trips] == [(10, "api_error_rate", pytest.approx(0.2), 1_700_000_000_000)]
    assert [c.status for c in calls.recent()][-3:] == [502, 502, 502]
    assert list(breakers.api) == [(c.ok, c.seconds) for c in calls.recent()][-10:]


def test_every_trip_is_handed_on_even_when_one_handler_fails(sandbox, client):
    calls = observe(client)
    breakers = CircuitBreakers(limits(), CircuitBreakerRules(api_window=5, api_error_rate=0.2, api_latency_seconds=0.001))
    handed: list[str] = []

    def on_trip(trip):
        handed.append(trip.breaker)
        raise VenueUnreachable("cancelling open orders failed")

    calls.listen(breaker_feed(breakers, on_trip))
    sandbox.set_fault(error_rate=1.0, latency_ms=5)
    for _ in range(5):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.fetch_time()
    assert handed == ["api_error_rate", "api_latency"]  # both trips of the 5th call
    assert calls.vitals().observer_errors == 1 and "cancelling open orders failed" in calls.vitals().last_observer_error


# -- the observer never changes a call ------------------------------------------------------------

def test_a_failing_listener_changes_no_call_and_leaks_no_secret(sandbox, key, client):
    calls = observe(client)

    def broken(ok, seconds):
        raise RuntimeError(f"listener bug holding {client.secret} and {client.apiKey}")

    calls.listen(broken)
    heard = told(calls)
    assert client.fetch_time() > 0  # the result, unchanged
    sandbox.set_fault(error_rate=1.0)
    with pytest.raises(ccxt.ExchangeNotAvailable):  # ccxt's own error, neither swallowed nor replaced
        client.fetch_time()
    assert heard == [(True, calls.recent()[0].seconds), (False, calls.recent()[1].seconds)]  # later listeners still told
    v = calls.vitals()
    assert v.observer_errors == 2 and v.failed == 1
    assert key.secret not in v.last_observer_error and key.api_key not in v.last_observer_error
    assert "RuntimeError: listener bug holding ***" in v.last_observer_error
    breach = evaluate(with_venue(Vitals(), v))[-1]
    assert (breach.kind, breach.severity) == ("observer", "warning")


def test_a_broken_observer_still_reports_a_failed_call_as_failed(sandbox, client):
    def broken_clock():
        raise OSError("clock gone")

    calls = observe(client, clock=broken_clock)
    heard = told(calls)
    assert client.fetch_time() > 0
    sandbox.set_fault(error_rate=1.0)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_time()
    assert [ok for ok, _ in heard] == [True, False]  # the breakers still hear it, as failed
    assert calls.observer_errors == 2 and calls.last_observer_error == "OSError: clock gone"


def test_a_call_made_inside_a_listener_is_delivered_after_it(sandbox, client):
    """A breaker trip cancels orders from inside a listener: those calls are told afterwards, not nested."""
    calls = observe(client)
    client.load_markets()
    log: list[str] = []

    def listener(ok, seconds):
        log.append(f"enter {ok}")
        if not ok:
            client.fetch_time()  # not disturbed (only the ticker route fails)
        log.append(f"exit {ok}")

    calls.listen(listener)
    sandbox.set_fault(error_rate=1.0, routes=("GET /api/v3/ticker/24hr",))
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_ticker(BTC)
    assert log == ["enter False", "exit False", "enter True", "exit True"]
    assert [c.ok for c in calls.recent()] == [True, False, True]  # markets loaded first, then the ticker, then the nested call


def test_an_async_client_is_observed_per_request(sandbox, key):
    async def run():
        client = sandbox.client(key, asynchronous=True)
        calls = observe(client)
        try:
            await client.load_markets()
            await asyncio.gather(*(client.fetch_ticker(BTC) for _ in range(4)))
            sandbox.set_fault(rate_limit_rate=1.0, retry_after_s=0)
            with pytest.raises(ccxt.DDoSProtection):
                await client.fetch_ticker(BTC)
        finally:
            await client.close()
        return calls

    calls = asyncio.run(run())
    recent = calls.recent()
    assert [c.status for c in recent] == [200] * 5 + [429]
    weights = [c.used_weight for c in recent[:5]]
    assert len(set(weights)) == 5  # each concurrent request kept its own answer's header
    assert calls.vitals().rate_limit_warnings == 1


def test_a_client_feeds_only_the_latest_breakers(client):
    """A second gateway on the same client (a resumed stage, the next testnet order) takes the slot over."""
    calls = observe(client)
    first = CircuitBreakers(limits(), CircuitBreakerRules())
    second = CircuitBreakers(limits(), CircuitBreakerRules())
    calls.listen(breaker_feed(first, lambda trip: None), slot=BREAKER_SLOT)
    client.fetch_time()
    calls.listen(breaker_feed(second, lambda trip: None), replay=True, slot=BREAKER_SLOT)
    client.fetch_time()
    assert (len(first.api), len(second.api)) == (1, 2)


def test_unobserve_stops_recording(client):
    calls = observe(client)
    client.fetch_time()
    unobserve(client)
    client.fetch_time()
    assert calls.calls == 1 and observed(client) is None
    assert observe(client) is not calls


# -- pure pieces ----------------------------------------------------------------------------------

def test_only_a_ccxt_client_can_be_observed():
    with pytest.raises(TypeError, match="needs a ccxt client"):
        observe(object())

@pytest.mark.parametrize(("headers", "expected"), [
    (None, None),
    ({}, None),
    ({"X-MBX-USED-WEIGHT-1M": "42"}, 42),
    ({"x-mbx-used-weight-1m": "7", "x-mbx-used-weight": "7"}, 7),  # aiohttp answers reach ccxt as a plain dict
    (CaseInsensitiveDict({"X-Mbx-Used-Weight-1m": "5"}), 5),
    ({"X-MBX-USED-WEIGHT": "9"}, None),  # not the one-minute counter
    ({"X-MBX-USED-WEIGHT-1M": "lots"}, None),
])
def test_used_weight_header(headers, expected):
    assert used_weight(headers) == expected


@pytest.mark.parametrize(("rate_limits", "expected"), [
    ([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
      {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100}], 1200),
    ([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 5, "limit": 9000}], DEFAULT_WEIGHT_LIMIT_1M),
    ("not a list", DEFAULT_WEIGHT_LIMIT_1M),
])
def test_the_weight_limit_comes_from_the_venue_else_the_default(rate_limits, expected):
    calls = VenueCalls()
    calls.learn_limits(rate_limits)
    assert calls.weight_limit_1m == expected


def test_calls_leave_the_window():
    now = [100.0]
    calls = VenueCalls(window_s=60.0, clock=lambda: now[0])
    calls.record(False, 3.0, status=429, rate_limited=True)
    now[0] += 30
    calls.record(True, 0.1, status=200, used_weight=10)
    assert (calls.vitals().calls, calls.vitals().rate_limit_warnings) == (2, 1)
    now[0] += 31
    v = calls.vitals()
    assert (v.calls, v.rate_limit_warnings, v.latency_max_ms) == (1, 0, pytest.approx(100.0))
    assert (calls.calls, calls.rate_limited) == (2, 1)  # totals stay
    assert [r.state for r in readings(with_venue(Vitals(), v)) if r.kind in ("latency", "rate_limit")] == ["ok", "ok"]
