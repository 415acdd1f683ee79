"""`LocalSandbox`: the local Binance-compatible exchange and the local EVM chain (Uniswap V2
deployed) started together — what `livegate sandbox serve`, `livegate demo` and the tests use.

`info()` is everything a client needs: URLs, the test API keys, the chain id, contract
addresses and the chain's trader account. Every key in it is a test key that is valid nowhere
else (the chain's accounts are anvil's public development accounts)."""

from __future__ import annotations

from typing import Any

from livegate.adapters.chain import LocalChain
from livegate.adapters.sandbox.defaults import DEFAULT_KEY_FLAGS, DEFAULT_KEYS
from livegate.adapters.sandbox.exchange import SandboxExchange
from livegate.adapters.sandbox.market import WALL, BookShape

# A thin book, as on a real testnet: the best level holds a few dollars, so `livegate testnet`
# can place an order larger than it (a partial fill) within small caps.
THIN_BOOK = BookShape(depth_ratio=1e-6, min_level_steps=5)


class LocalSandbox:
    """Start with `start()` (or `with`), stop with `stop()`; `chain=False` runs the exchange only;
    `markets` (MarketSpecs) replace the default BTC/USDT and ETH/USDT paths; `clock="step"`
    holds the exchange's market time still until a rehearsal advances it."""

    def __init__(self, *, port: int = 0, speed: float = 1.0, seed: int = 0, chain: bool = True,
                 chain_backend: str | None = None, markets: list | None = None, clock: str = WALL):

        self.exchange = SandboxExchange(markets, speed=speed, seed=seed, port=port, book=THIN_BOOK, clock=clock)
        self.chain = None
        if chain:
            self.chain = LocalChain(chain_backend)

    def start(self) -> dict[str, Any]:
        """Start both (the exchange first); returns `info()`. Nothing is left running on failure."""
        try:
            self.exchange.start()
            if self.chain is not None:
                self.chain.start()
        except BaseException:
            self.stop()
            raise
        return self.info()

    def stop(self) -> None:
        """Stop both; safe to call twice."""
        try:
            if self.chain is not None:
                self.chain.stop()
        finally:
            self.exchange.stop()

    def __enter__(self) -> LocalSandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        return describe(self.exchange, self.chain)


def describe(exchange: Any, chain: Any = None) -> dict[str, Any]:
    """URLs, keys and addresses of a running SandboxExchange and LocalChain. `api_key`/`secret`
    are the trader's key (read + trade, no withdrawal)."""
    trader = DEFAULT_KEYS["trader"]
    out: dict[str, Any] = {
        "exchange_url": exchange.url, "exchange_id": "binance", "clock": exchange.venue.clock.mode,
        "api_key": trader.api_key, "secret": trader.secret,
        "keys": {name: {"api_key": pair.api_key, "secret": pair.secret, **_permissions(DEFAULT_KEY_FLAGS[name])}
                 for name, pair in DEFAULT_KEYS.items()},
        "symbols": sorted(m.spec.symbol for m in exchange.venue.markets.values()),
        "rpc_url": None, "chain_id": None, "chain_backend": None, "router": None, "factory": None, "weth": None,
        "tokens": {}, "signer_address": None, "signer_test_key": None,
    }
    if chain is not None and chain.rpc_url is not None:
        deployment = chain.deployment.to_dict() if chain.deployment else {}
        out.update(rpc_url=chain.rpc_url, chain_id=chain.chain_id, chain_backend=chain.backend,
                   router=deployment.get("router"), factory=deployment.get("factory"), weth=deployment.get("weth"),
                   tokens=dict(deployment.get("tokens") or {}), signer_address=chain.trader.address,
                   signer_test_key=chain.trader.test_private_key)
    return out


def _permissions(flags: dict) -> dict:
    """A default key's permissions as a trader reads them."""
    return {"trade": flags.get("can_trade", True), "withdraw": bool(flags.get("can_withdraw")),
            "ip_restricted": flags.get("ip_restrict", True)}
