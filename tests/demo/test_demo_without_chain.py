"""The demo without any local chain (no `npm install`, no eth-tester extra) goes on with the
local exchange alone, saying why, instead of stopping with a traceback."""

from __future__ import annotations

import sys

from livegate.demo import start_sandbox


def test_the_demo_starts_without_a_chain_when_neither_anvil_nor_eth_tester_is_there(tmp_path, monkeypatch):
    empty = tmp_path / "node_modules"
    empty.mkdir()
    monkeypatch.setenv("LIVEGATE_NODE_MODULES", str(empty))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    for name in ("eth_tester", "eth"):
        monkeypatch.setitem(sys.modules, name, None)  # as if the chain-fallback extra were not installed
    said: list[str] = []
    sandbox, info = start_sandbox(said.append)
    try:
        assert sandbox.chain is None and info["rpc_url"] is None and info["exchange_url"].startswith("http://127.0.0.1:")
        assert len(said) == 1 and "No local chain" in said[0] and "goes on without the swap" in said[0]
        assert "livegate[chain-fallback]" in said[0] and "npm install" in said[0]
    finally:
        sandbox.stop()
