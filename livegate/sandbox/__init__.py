"""`livegate sandbox`: a local Binance spot REST emulator for offline rehearsals and tests.

`SandboxExchange` runs it in a background thread; `serve()` is the async entry point.
Names are imported on first use, so importing this package stays light."""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "SandboxExchange": "livegate.sandbox.exchange",
    "SandboxServer": "livegate.sandbox.exchange",
    "serve": "livegate.sandbox.exchange",
    "Venue": "livegate.sandbox.venue",
    "Faults": "livegate.sandbox.faults",
    "MarketSpec": "livegate.sandbox.market",
    "BookShape": "livegate.sandbox.market",
    "DEFAULT_KEYS": "livegate.sandbox.defaults",
    "KeyPair": "livegate.sandbox.defaults",
    "default_markets": "livegate.sandbox.defaults",
    "build_venue": "livegate.sandbox.defaults",
    "random_walk": "livegate.sandbox.defaults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'livegate.sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
