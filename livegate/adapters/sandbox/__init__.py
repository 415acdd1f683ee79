"""`livegate sandbox`: a local Binance spot REST emulator for offline rehearsals and tests.

`SandboxExchange` runs it in a background thread; `serve()` is the async entry point.
Names are imported on first use, so importing this package stays light."""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "SandboxExchange": "livegate.adapters.sandbox.exchange",
    "SandboxServer": "livegate.adapters.sandbox.exchange",
    "serve": "livegate.adapters.sandbox.exchange",
    "Venue": "livegate.adapters.sandbox.venue",
    "Faults": "livegate.adapters.sandbox.faults",
    "MarketSpec": "livegate.adapters.sandbox.market",
    "BookShape": "livegate.adapters.sandbox.market",
    "DEFAULT_KEYS": "livegate.adapters.sandbox.defaults",
    "KeyPair": "livegate.adapters.sandbox.defaults",
    "default_markets": "livegate.adapters.sandbox.defaults",
    "build_venue": "livegate.adapters.sandbox.defaults",
    "random_walk": "livegate.adapters.sandbox.defaults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'livegate.adapters.sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
