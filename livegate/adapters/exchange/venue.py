"""Which venue a workspace's exchange section points at, decided from the configuration alone
(nothing is asked over the network, and ccxt is not loaded): its base URL, whether that is this
machine, and so whether a result there is a rehearsal."""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

BASE_URL_ENV = "LIVEGATE_EXCHANGE_BASE_URL"


def exchange_base_url(section: Any) -> str | None:
    """The base URL every request of the workspace's exchange goes to (as `build_exchange`
    decides it): `exchange.base_url`, else $LIVEGATE_EXCHANGE_BASE_URL, else none (the venue itself)."""
    return getattr(section, "base_url", None) or os.environ.get(BASE_URL_ENV) or None


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rehearsal_venue(section: Any, step: str | None = None) -> str | None:
    """Why trading on the workspace's exchange (its `exchange:` section) is a rehearsal rather
    than the real venue, or None for the venue itself: its base URL (`exchange.base_url`, else
    $LIVEGATE_EXCHANGE_BASE_URL) is on this machine — the local sandbox; or `exchange.testnet`
    sends every phase to the exchange's test network (except the `testnet` step, which is
    meant to run there). Decided from the configuration alone: nothing is asked over the network."""
    venue = getattr(section, "id", "the exchange")
    url = exchange_base_url(section)
    if url and is_loopback(url):
        return f"the exchange is {url}, on this machine (the local sandbox), not {venue} itself"
    if getattr(section, "testnet", False) and step != "testnet":
        return f"exchange.testnet is on: {venue}'s test network, no real money"
    return None
