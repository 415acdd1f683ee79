"""Plain JSON-RPC over HTTP with the standard library: enough to see that a node answers and
to send it node-specific calls (`anvil_*`) before web3 is ever imported."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

from livegate.core.errors import VenueUnreachable

LOOPBACK = "127.0.0.1"


class RpcError(VenueUnreachable):
    """The node answered a JSON-RPC call with an error object."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None, *, timeout: float = 5.0) -> Any:
    """Call `method` on the node at `url`; returns the `result`, raises `RpcError` on an error
    answer and `VenueUnreachable` when the node cannot be reached."""
    import urllib.error
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise VenueUnreachable(f"chain node at {url} did not answer {method}: {exc}") from exc
    if answer.get("error"):
        error = answer["error"]
        raise RpcError(f"chain node at {url} refused {method}: {error.get('message', error)}")
    return answer.get("result")


def wait_until_answering(url: str, timeout: float, still_starting: Callable[[], str | None] = lambda: None) -> None:
    """Poll `eth_chainId` until the node at `url` answers. `still_starting` returns a reason to
    give up early (the process died); after `timeout` seconds, `VenueUnreachable`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rpc_call(url, "eth_chainId", timeout=1.0)
            return
        except RpcError:
            raise
        except VenueUnreachable as exc:
            last = exc
        reason = still_starting()
        if reason:
            raise VenueUnreachable(f"chain node at {url} did not start: {reason}")
        if time.monotonic() >= deadline:
            raise VenueUnreachable(f"chain node at {url} did not answer within {timeout:g} s: {last}")
        time.sleep(0.05)
