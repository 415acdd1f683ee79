"""`EthTesterNode`: the fallback chain when anvil is not installed. web3's
`EthereumTesterProvider` (py-evm in process) served as JSON-RPC over HTTP on 127.0.0.1, so
callers get an `rpc_url` just as with anvil.

It holds the same development accounts, balances and chain id as `AnvilNode`; every
transaction is mined into its own block at once. Requests are answered one at a time on the
server's own thread (py-evm is not thread-safe).

eth-tester and py-evm are an optional extra (`pip install 'livegate[chain-fallback]'`): without
them, starting this node raises VenueUnreachable saying how to get either local chain."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from livegate.adapters.chain import node_modules
from livegate.adapters.chain.accounts import DEV_ACCOUNTS, DEV_BALANCE_ETH, DEV_HD_PATH, DEV_MNEMONIC
from livegate.adapters.chain.rpc import LOOPBACK
from livegate.core.errors import VenueUnreachable

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
SERVER_ERROR = -32000
REVERTED = 3  # the code geth and anvil answer a reverted call or gas estimate with
FALLBACK_EXTRA = "livegate[chain-fallback]"
FALLBACK_PACKAGES = (("eth_tester", "eth-tester"), ("eth", "py-evm"))  # (module, distribution)


def missing_fallback() -> list[str]:
    """The distributions of the eth-tester chain that are not installed (none: it can run)."""
    from importlib.util import find_spec

    return [dist for module, dist in FALLBACK_PACKAGES if find_spec(module) is None]


def fallback_missing_message(missing: str) -> str:
    """Why no eth-tester chain can start, and how to get a local chain: anvil or the extra."""

    anvil = ("anvil is installed: use it (LIVEGATE_CHAIN_BACKEND=anvil or auto)" if node_modules.find_anvil()
             else f"node/anvil is missing too (no anvil binary; searched {node_modules.searched()} and PATH)")
    return (f"cannot start the eth-tester chain: {missing}; {anvil}. Get a local chain with `npm install` "
            f"in the livegate repository root (anvil), or `pip install '{FALLBACK_EXTRA}'` (eth-tester)")


def build_request_handler(chain_id: int) -> Callable[[str, list], dict]:
    """An in-process chain with the development accounts; returns `handle(method, params)` ->
    the JSON-RPC response dict, formatted by web3's own eth-tester middleware."""
    missing = missing_fallback()
    if missing:
        raise VenueUnreachable(fallback_missing_message(f"{' and '.join(missing)} not installed"))
    try:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import Web3
        from web3.providers.eth_tester import EthereumTesterProvider
        from web3.providers.eth_tester.defaults import API_ENDPOINTS
    except ImportError as exc:
        raise VenueUnreachable(fallback_missing_message(str(exc))) from exc

    backend = PyEVMBackend.from_mnemonic(
        DEV_MNEMONIC, num_accounts=len(DEV_ACCOUNTS), hd_path=DEV_HD_PATH,
        genesis_state_overrides={"balance": DEV_BALANCE_ETH * 10**18})
    # py-evm reads the chain id from the chain object on every block, so the instance value
    # is the one transactions are signed and checked against.
    backend.chain.chain_id = chain_id
    endpoints = {**API_ENDPOINTS, "eth": {**API_ENDPOINTS["eth"], "chainId": lambda *_: chain_id},
                 "net": {**API_ENDPOINTS["net"], "version": lambda *_: str(chain_id)}}
    provider = EthereumTesterProvider(EthereumTester(backend), api_endpoints=endpoints)
    w3 = Web3(provider, middleware=[])  # only the provider's own formatting, no client-side extras
    return provider.request_func(w3, w3.middleware_onion)


def to_wire(value: Any) -> Any:
    """A result as JSON-RPC writes it: integers as hex quantities, bytes as hex data."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    return value


def answer(handle: Callable[[str, list], dict], call: Any) -> dict:
    """One JSON-RPC call answered: the result, or an error object (a revert as code 3)."""
    if not isinstance(call, dict) or not isinstance(call.get("method"), str):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call.get("id")}
    try:
        response = handle(call["method"], list(call.get("params") or []))
    except Exception as exc:  # noqa: BLE001 - every failure becomes the caller's error object
        message = str(exc) or type(exc).__name__
        code = REVERTED if message.startswith("execution reverted") else SERVER_ERROR
        reply["error"] = {"code": code, "message": message}
        return reply
    if response.get("error"):
        reply["error"] = response["error"]
    else:
        reply["result"] = to_wire(response.get("result"))
    return reply


class EthTesterNode:
    """The eth-tester chain behind an aiohttp JSON-RPC server in a background thread:
    `start()` returns the RPC URL, `stop()` closes the server and joins the thread."""

    backend = "eth-tester"

    def __init__(self, chain_id: int = 31337, *, host: str = LOOPBACK):
        self.chain_id, self.host = chain_id, host
        self.rpc_url: str | None = None
        self._loop = None  # the server thread's asyncio loop while it runs
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Build the chain, serve it on a free port, and return the RPC URL once it listens."""
        if self.rpc_url is not None:
            return self.rpc_url
        handle = build_request_handler(self.chain_id)
        outcome: dict[str, object] = {}
        listening = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(handle, outcome, listening),
                                        name="livegate-eth-tester", daemon=True)
        self._thread.start()
        if not listening.wait(START_TIMEOUT_S) or "error" in outcome:
            self.stop()
            raise VenueUnreachable(f"the eth-tester chain node on {self.host} did not start: "
                                   f"{outcome.get('error', 'timed out')}")
        self.rpc_url = str(outcome["url"])
        return self.rpc_url

    def stop(self) -> None:
        """Close the server and join its thread."""
        loop, thread = self._loop, self._thread
        self._loop, self._thread, self.rpc_url = None, None, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)

    def _serve(self, handle: Callable, outcome: dict, listening: threading.Event) -> None:
        import asyncio

        from aiohttp import web

        async def rpc(request: web.Request) -> web.Response:
            try:
                calls = json.loads(await request.read())
            except ValueError:
                return web.json_response({"jsonrpc": "2.0", "id": None,
                                          "error": {"code": -32700, "message": "parse error"}})
            if isinstance(calls, list):
                return web.json_response([answer(handle, call) for call in calls])
            return web.json_response(answer(handle, calls))

        app = web.Application()
        app.router.add_post("/", rpc)
        runner = web.AppRunner(app, access_log=None)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, self.host, 0).start())
            outcome["url"] = f"http://{self.host}:{runner.addresses[0][1]}"
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            outcome["error"] = exc
            listening.set()
            loop.close()
            return
        self._loop = loop
        listening.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> EthTesterNode:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
