"""Probes of the exchange and the chain node (seed 000 §1.3): round-trip latency, clock skew,
what the API key may do, the chain id. Each probe asks once and remembers the answer — or the
error — so several checks share one set of requests. A venue that cannot be reached is listed
in `unreachable` (the command then exits 5)."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

from livegate.adapters.exchange.permissions import read_permissions
from livegate.adapters.exchange.retry import Retry
from livegate.core.errors import LivegateError, VenueRefused, VenueUnreachable


def remembered(fn: Callable) -> Callable:
    """Run a probe method once; later calls return its result or raise its error again. A venue
    that could not be reached is noted in the probe's `unreachable` list."""
    @functools.wraps(fn)
    def wrapper(self):
        memo = self._memo
        if fn.__name__ not in memo and self.unreachable:  # once unreachable, don't wait for it again
            memo[fn.__name__] = (False, VenueUnreachable(self.unreachable[0]))
        if fn.__name__ not in memo:
            try:
                memo[fn.__name__] = (True, fn(self))
            except LivegateError as exc:
                if isinstance(exc, VenueUnreachable) and not isinstance(exc, VenueRefused) and str(exc) not in self.unreachable:
                    self.unreachable.append(str(exc))
                memo[fn.__name__] = (False, exc)
        ok, value = memo[fn.__name__]
        if not ok:
            raise value
        return value

    return wrapper


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


class ExchangeProbe:
    """The exchange through its ccxt client: `timing()` (median REST round trip and clock skew
    over `samples` calls of the server-time endpoint), `balance()`, `permissions()`."""

    def __init__(self, client: Any, where: str, samples: int = 5, retry: Retry | None = None):
        self.client, self.where, self.samples = client, where, samples
        self.retry = retry or Retry(attempts=3, base_delay=0.25, venue=client.id, client=client,
                                    then=f"check that {where} is reachable from here")
        self.unreachable: list[str] = []
        self._memo: dict[str, tuple[bool, Any]] = {}

    @remembered
    def timing(self) -> dict:
        """Latency is the median round trip; skew the median of server time minus the local
        midpoint of each round trip (positive: the exchange's clock is ahead)."""
        rtts, skews = [], []
        for _ in range(self.samples):
            def sample():
                t0 = time.time()
                server_ms = self.client.fetch_time()
                t1 = time.time()
                return t0, t1, server_ms

            t0, t1, server_ms = self.retry(sample)
            rtts.append(t1 - t0)
            skews.append(server_ms / 1000 - (t0 + t1) / 2)
        return {"latency_ms": _median_ms(rtts), "skew_ms": _median_ms(skews), "samples": self.samples,
                "retries": self.retry.retries, "rate_limited": self.retry.rate_limited, "url": self.where}

    @remembered
    def balance(self) -> dict:
        """How many assets the account holds, and `holdings`: each one held (asset → total
        amount, free and in orders), non-zero amounts only."""
        balance = self.retry(self.client.fetch_balance)
        total = balance.get("total") or {}
        holdings = {asset: float(v) for asset, v in sorted(total.items()) if v and float(v) > 0}
        return {"assets": sum(1 for v in total.values() if v), "holdings": holdings}

    @remembered
    def permissions(self):
        return read_permissions(self.client, self.retry)


class RpcProbe:
    """The chain node through web3: `timing()` (median JSON-RPC round trip of eth_blockNumber
    over `samples` calls) and the chain id it reports."""

    def __init__(self, url: str, samples: int = 5, timeout_s: float = 5.0):
        self.url, self.samples, self.timeout_s = url, samples, timeout_s
        self.unreachable: list[str] = []
        self._memo: dict[str, tuple[bool, Any]] = {}

    @remembered
    def timing(self) -> dict:
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": self.timeout_s}))
        rtts = []
        try:
            chain_id = int(w3.eth.chain_id)
            for _ in range(self.samples):
                t0 = time.perf_counter()
                block = int(w3.eth.block_number)
                rtts.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - requests/aiohttp/web3 errors: the node is not usable
            raise VenueUnreachable(f"RPC {self.url} is unreachable ({type(exc).__name__}: {_short(exc)})") from None
        return {"latency_ms": _median_ms(rtts), "chain_id": chain_id, "block": block, "samples": self.samples, "url": self.url}


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + "…" if len(text) > 160 else text
