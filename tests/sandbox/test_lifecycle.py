"""Starting and stopping: free ports, a clean stop even with an answer on hold, the async entry point."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

import pytest

from livegate.adapters.sandbox.defaults import random_walk
from livegate.adapters.sandbox.exchange import SandboxExchange, SandboxServer, serve
from livegate.adapters.sandbox.market import MarketSpec
from livegate.adapters.sandbox.venue import Venue


def _small_markets():
    return [MarketSpec.for_candles("SOL/USDT", random_walk("SOL/USDT", 300, seed=1, start_price=150.0))]


def _get(url: str, timeout: float = 5) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status


def test_two_sandboxes_on_free_ports_and_a_clean_stop_while_an_answer_hangs():
    with SandboxExchange(_small_markets(), history_bars=100) as first, SandboxExchange(_small_markets()) as second:
        assert first.url != second.url and first.url.startswith("http://127.0.0.1:")
        assert _get(second.url + "/api/v3/ping") == 200
        first.set_fault(timeout_rate=1.0, hang_s=60)
        outcome: list[object] = []

        def wait_for_answer():
            try:
                outcome.append(_get(first.url + "/api/v3/time", 30))
            except OSError as exc:
                outcome.append(exc)

        hung = threading.Thread(target=wait_for_answer, daemon=True)
        hung.start()
        time.sleep(0.2)
        start = time.perf_counter()
        first.stop()
        assert time.perf_counter() - start < 5
        hung.join(timeout=5)
        assert outcome  # released (answered or cut off) by the stop, not after 60 s
    with pytest.raises(RuntimeError, match="not running"):
        _ = first.url


def test_unknown_fault_knob_is_refused():
    with pytest.raises(ValueError, match="unknown fault knob"):
        SandboxExchange(_small_markets(), nonsense=1)


def test_async_serve_entry_point():
    async def scenario():
        stop = asyncio.Event()
        urls: list[str] = []
        task = asyncio.create_task(serve(SandboxServer(Venue(_small_markets())), stop, urls.append))
        while not urls:
            await asyncio.sleep(0.01)
        status = await asyncio.to_thread(_get, urls[0] + "/api/v3/exchangeInfo")
        stop.set()
        await asyncio.wait_for(task, 5)
        return status

    assert asyncio.run(scenario()) == 200
