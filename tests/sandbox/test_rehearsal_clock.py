"""Who may follow a sandbox's market clock (`--sandbox-clock`): only a livegate sandbox on this
machine with a step clock, recognised by its own admin API — every other venue is refused, so
a real stage's hours can never be shortened. And the client that moves the clock."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
from types import SimpleNamespace

import pytest

from livegate.adapters.exchange.venue import BASE_URL_ENV
from livegate.adapters.sandbox.defaults import random_walk
from livegate.adapters.sandbox.exchange import SandboxExchange
from livegate.adapters.sandbox.market import MarketSpec
from livegate.adapters.sandbox.rehearsal import SandboxClock, follow_sandbox_clock
from livegate.core.errors import UsageError, VenueUnreachable

MINUTE = 60_000


@pytest.fixture
def sandbox_options():
    return {"clock": "step", "history_bars": 300, "seed": 3, "share": "module"}


def exchange(base_url: str | None) -> SimpleNamespace:
    return SimpleNamespace(id="binance", base_url=base_url)


def small_markets():
    return [MarketSpec.for_candles("SOL/USDT", random_walk("SOL/USDT", 600, seed=1, start_price=150.0))]


@pytest.fixture
def not_a_sandbox():
    """A local HTTP server that is something else (404 for /_sandbox/clock, as any web server)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>Not Found</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_step_sandbox_on_this_machine_is_followed_and_moved(sandbox):
    market = follow_sandbox_clock(exchange(sandbox.url), True, "go-live")
    assert isinstance(market, SandboxClock)
    try:
        now = market.market_ms()
        assert now == sandbox.venue.clock.market_ms() and market.now() == now / 1000
        market.sleep(60)  # a bar's wait: the market moves by it, at once
        assert sandbox.venue.clock.market_ms() == now + MINUTE
        aligned = market.align(15 * MINUTE)
        assert aligned % (15 * MINUTE) == 0 and now + MINUTE <= aligned < now + 16 * MINUTE
        assert market.align(15 * MINUTE) == aligned  # on a boundary already: nothing moves
        assert market.advance_to(aligned - MINUTE) == aligned  # never back
    finally:
        market.close()


def test_localhost_counts_and_the_environment_base_url_does_not(sandbox, monkeypatch):
    port = sandbox.url.rsplit(":", 1)[1]
    assert follow_sandbox_clock(exchange(f"http://localhost:{port}"), True, "go-live") is not None
    # the environment may point ccxt at the sandbox, but a rehearsal on a config that names the
    # real venue would be recorded under that config's sign-offs: compressed time for real
    monkeypatch.setenv(BASE_URL_ENV, sandbox.url)
    with pytest.raises(UsageError, match=f"{BASE_URL_ENV} is not enough"):
        follow_sandbox_clock(exchange(None), True, "go-live")


def test_the_real_venue_is_refused_without_asking_it(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a real venue was asked")

    monkeypatch.setattr(http.client.HTTPConnection, "request", no_network)
    monkeypatch.setattr(http.client.HTTPSConnection, "request", no_network)
    with pytest.raises(UsageError, match=r"--sandbox-clock is for rehearsals on the local sandbox only.*exchange.base_url is not set"):
        follow_sandbox_clock(exchange(None), True, "go-live")
    for url in ("https://api.binance.com", "http://10.0.0.5:8080", "http://sandbox.example.com"):
        with pytest.raises(UsageError, match="is not on this machine"):
            follow_sandbox_clock(exchange(url), True, "go-live")
        assert follow_sandbox_clock(exchange(url), False, "go-live") is None


def test_a_local_server_that_is_not_a_livegate_sandbox_is_refused(not_a_sandbox):
    with pytest.raises(UsageError, match="does not answer as a livegate sandbox"):
        follow_sandbox_clock(exchange(not_a_sandbox), True, "go-live")
    assert follow_sandbox_clock(exchange(not_a_sandbox), False, "go-live") is None


def test_nothing_listening_is_an_unreachable_venue():
    url = closed_port_url()
    with pytest.raises(VenueUnreachable, match=url):
        follow_sandbox_clock(exchange(url), True, "go-live")
    assert follow_sandbox_clock(exchange(url), False, "go-live") is None  # the command reports it itself


def test_a_wall_clock_sandbox_is_refused_and_left_alone_without_the_flag():
    with SandboxExchange(small_markets(), history_bars=100, speed=600) as wall:
        with pytest.raises(UsageError, match="runs its market clock on wall time.*--clock step"):
            follow_sandbox_clock(exchange(wall.url), True, "go-live")
        assert follow_sandbox_clock(exchange(wall.url), False, "go-live") is None


def test_a_step_sandbox_without_the_flag_is_refused_it_would_never_move(sandbox):
    with pytest.raises(UsageError, match=r"holds market time still.*livegate paper-run --sandbox-clock"):
        follow_sandbox_clock(exchange(sandbox.url), False, "paper-run")


def test_a_sandbox_gone_mid_rehearsal_is_an_unreachable_venue():
    step = SandboxExchange(small_markets(), history_bars=100, clock="step")
    step.start()
    market = SandboxClock(step.url)
    market.sleep(60)
    step.stop()
    with pytest.raises(VenueUnreachable, match="did not answer"):
        market.sleep(60)


def test_a_rehearsal_stops_at_the_end_of_the_market_data_instead_of_waiting_forever():
    with SandboxExchange(small_markets(), history_bars=100, clock="step") as step:  # 500 one-minute bars ahead
        market = SandboxClock(step.url)
        ends = market.describe()["ends_at"]
        assert ends == market.market_ms() + 500 * MINUTE
        market.sleep(499 * 60)
        with pytest.raises(UsageError, match="market data ends at .* a longer rehearsal needs a new sandbox"):
            market.sleep(120)
        assert market.market_ms() == ends - MINUTE  # refused whole, not moved part of the way
        market.close()


def test_the_first_bar_boundary_is_reached_only_when_the_run_first_reads_the_clock(sandbox):
    market = SandboxClock(sandbox.url)
    sandbox.advance(7_000)  # between two bars
    before = sandbox.venue.clock.market_ms()
    market.start_on_bar(MINUTE)
    assert sandbox.venue.clock.market_ms() == before  # a run refused before its loop moves nothing
    now = market.market_ms()
    assert now % MINUTE == 0 and before < now < before + MINUTE
    market.sleep(60)
    assert market.market_ms() == now + MINUTE  # aligned once, then bar by bar
    market.close()
