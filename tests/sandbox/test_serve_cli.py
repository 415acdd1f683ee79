"""`livegate sandbox serve` as a user runs it: a real process, its first stdout line one JSON
object, both servers reachable through ccxt and web3, SIGTERM / SIGINT stopping both cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REQUIRED = {"exchange_url", "api_key", "secret", "rpc_url", "chain_id", "router", "weth", "tokens"}


def start(*options: str, workspace: Path | None = None) -> tuple[subprocess.Popen, dict]:
    """`livegate [-w WS] sandbox serve --json OPTIONS` and the JSON object of its first line."""
    where = ["-w", str(workspace)] if workspace else []
    proc = subprocess.Popen([sys.executable, "-m", "livegate", *where, "sandbox", "serve", "--json", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(f"no JSON line; stderr: {proc.stderr.read()}")
    return proc, json.loads(line)


def closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_one_json_line_serves_and_stops_cleanly(stop):
    from web3 import Web3

    from livegate.adapters.exchange.client import build_exchange

    proc, info = start()
    try:
        assert REQUIRED <= set(info) and info["chain_id"] == 31337 and set(info["tokens"]) == {"TKA", "TKB"}
        client = build_exchange("binance", testnet=False, base_url=info["exchange_url"], api_key=info["api_key"],
                                secret=info["secret"], rate_limit_ms=0)
        assert client.fetch_balance()["total"]["USDT"] > 0
        w3 = Web3(Web3.HTTPProvider(info["rpc_url"]))
        assert w3.eth.chain_id == 31337 and len(w3.eth.get_code(info["router"])) > 0
    finally:
        proc.send_signal(stop)
        code = proc.wait(timeout=20)
    assert code == 0, proc.stderr.read()
    assert closed(info["exchange_url"]) and closed(info["rpc_url"])


def test_serve_without_chain_and_write_config(workspace):
    from livegate.config.environment import load_env
    from livegate.config.workspace import Workspace

    proc, info = start("--no-chain", "--write-config", workspace=workspace)
    try:
        assert info["rpc_url"] is None and info["exchange_url"].startswith("http://127.0.0.1:")
        config = yaml.safe_load((workspace / "livegate.yaml").read_text())
        assert config["exchange"]["base_url"] == info["exchange_url"] and config["exchange"]["testnet"] is False
        assert config["chain"]["enabled"] is False
        assert "# livegate workspace configuration" in (workspace / "livegate.yaml").read_text()  # comments kept
        env = load_env(workspace, {})
        assert env.get("EXCHANGE_API_KEY") == info["api_key"] and env.get("EXCHANGE_API_SECRET") == info["secret"]
        assert env.flag("TRADING_HALTED") is True  # the rest of .env.example is kept
        _ = Workspace(workspace).effective  # the written config validates
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
