"""The sandbox's step clock: market time stands still until it is advanced (by the admin API or
by the requests that take time), never goes back, and the venue matches resting orders at the
market time the price crosses them — the same whatever the machine's load."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from livegate.adapters.sandbox.market import DAY_MS, Clock
from livegate.adapters.sandbox.rehearsal import follow_sandbox_clock
from tests.sandbox.test_serve_cli import start

MINUTE = 60_000


@pytest.fixture
def sandbox_options():
    """A step clock, default markets, one sandbox for this module."""
    return {"clock": "step", "history_bars": 1500, "seed": 7, "share": "module"}


def admin(sandbox, method: str, action: str, body=None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sandbox.url}/_sandbox/{action}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_market_time_stands_still_until_advanced_and_starts_at_midnight(sandbox, new_key):
    clock = sandbox.venue.clock
    assert clock.start_ms % DAY_MS == 0  # every interval up to a day begins on a bar boundary
    client = sandbox.client(new_key())
    before = clock.market_ms()
    first = client.fetch_ticker("BTC/USDT")["last"], client.fetch_ohlcv("BTC/USDT", "1m", limit=3)
    time.sleep(0.3)
    assert clock.market_ms() == before
    assert (client.fetch_ticker("BTC/USDT")["last"], client.fetch_ohlcv("BTC/USDT", "1m", limit=3)) == first
    sandbox.advance(5 * MINUTE)
    assert clock.market_ms() == before + 5 * MINUTE
    assert client.fetch_ohlcv("BTC/USDT", "1m", limit=3)[-1][0] > first[1][-1][0]


def test_a_signed_request_takes_its_round_trip_of_market_time_a_public_one_none(sandbox, new_key):
    clock = sandbox.venue.clock
    client = sandbox.client(new_key())
    client.load_markets()
    before = clock.market_ms()
    client.fetch_order_book("BTC/USDT")
    assert clock.market_ms() == before
    client.fetch_balance()
    assert clock.market_ms() == before + 100


def test_the_admin_api_shows_and_moves_the_clock_forward_only(sandbox):
    status, info = admin(sandbox, "GET", "clock")
    assert status == 200 and info["sandbox"] == "livegate" and info["clock"] == "step"
    assert info["bar_ms"] == MINUTE and info["request_ms"] == 100 and info["speed"] == 0
    now = info["market_time"]
    status, state = admin(sandbox, "POST", "advance", {"to": now + 3 * MINUTE})
    assert status == 200 and state["market_time"] == now + 3 * MINUTE and state["clock"] == "step"
    status, state = admin(sandbox, "POST", "advance", {"to": now + 3 * MINUTE})  # a repeated request moves nothing
    assert state["market_time"] == now + 3 * MINUTE
    status, state = admin(sandbox, "POST", "advance", {"to": now})  # a time already passed: nothing
    assert state["market_time"] == now + 3 * MINUTE
    assert admin(sandbox, "POST", "advance", {"ms": 1500})[1]["market_time"] == now + 3 * MINUTE + 1500
    for bad in ({"ms": -1}, {"ms": "soon"}, {"to": True}, {}, {"ms": 1, "to": now}, {"ms": float("nan")}):
        status, answer = admin(sandbox, "POST", "advance", bad)
        assert status == 400 and answer["error"], bad
    assert admin(sandbox, "GET", "clock")[1]["market_time"] == now + 3 * MINUTE + 1500


def test_a_resting_order_fills_when_the_market_reaches_it_stamped_with_market_time(sandbox, new_key):
    venue = sandbox.venue
    client = sandbox.client(new_key())
    market = venue.market("BTCUSDT")
    now = venue.clock.market_ms()
    i, _ = market.path.locate(now)
    low = float(market.path.l[i + 1:i + 30].min())  # the lowest price of the next half hour
    price = market.round_price(low * 1.0001)
    assert price < market.best(now)[0]
    order = client.create_order("BTC/USDT", "limit", "buy", 0.001, price)
    time.sleep(0.2)  # wall time passing moves nothing
    assert client.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    placed = venue.clock.market_ms()
    sandbox.advance(30 * MINUTE)
    filled = client.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed" and filled["average"] == pytest.approx(price)
    trade = client.fetch_my_trades("BTC/USDT")[-1]
    assert placed < trade["timestamp"] <= placed + 30 * MINUTE + 1000  # when, in market time, it filled
    assert trade["takerOrMaker"] == "maker"


def test_a_step_clock_has_no_speed():
    clock = Clock(mode="step")
    with pytest.raises(ValueError, match="no speed"):
        clock.set_speed(10)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="clock must be one of"):
        Clock(mode="hourly")


def test_sandbox_serve_refuses_a_speed_for_a_step_clock_and_an_unknown_clock(run_cli):
    result = run_cli("sandbox", "serve", "--clock", "step", "--speed", "60", "--no-chain")
    assert result.exit_code == 2 and "a step clock" in result.output and "Traceback" not in result.output
    result = run_cli("sandbox", "serve", "--clock", "hourly", "--no-chain")
    assert result.exit_code == 2 and "--clock must be one of wall, step" in result.output


def test_sandbox_serve_with_a_step_clock_is_recognised_by_a_rehearsal():
    proc, info = start("--clock", "step", "--no-chain")
    try:
        assert info["clock"] == "step"
        market = follow_sandbox_clock(SimpleNamespace(id="binance", base_url=info["exchange_url"]), True, "go-live")
        now = market.market_ms()
        assert now % DAY_MS == 0
        market.sleep(900)
        assert market.market_ms() == now + 900_000
        market.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
