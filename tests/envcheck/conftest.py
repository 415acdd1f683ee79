"""`livegate validate` fixtures: the local Binance emulator (tests/sandbox_fixtures.py) and a workspace
pointed at it with the sandbox's trader key in `.env`."""

from __future__ import annotations

import itertools
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from livegate.adapters.sandbox.defaults import DEFAULT_KEYS, KeyPair

_ids = itertools.count(1)


@pytest.fixture
def new_key(sandbox):
    """make(**flags) -> a fresh funded KeyPair on the sandbox with these permission flags."""

    def make(**flags) -> KeyPair:
        n = next(_ids)
        return sandbox.add_key(f"validate-key-{n}", f"validate-secret-{n}-Xq7", balances={"USDT": 1000}, **flags)

    return make


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_env(root: Path, **values: str) -> None:
    """The scaffolded .env.example as .env, with `values` replacing or adding lines."""
    lines = (root / ".env.example").read_text().splitlines()
    out, seen = [], set()
    for line in lines:
        name = line.split("=", 1)[0]
        if name in values:
            out.append(f"{name}={values[name]}")
            seen.add(name)
        else:
            out.append(line)
    out += [f"{k}={v}" for k, v in values.items() if k not in seen]
    (root / ".env").write_text("\n".join(out) + "\n")


def set_config(root: Path, **sections) -> None:
    """Merge `sections` ({'exchange': {...}}) into livegate.yaml."""
    path = root / "livegate.yaml"
    data = yaml.safe_load(path.read_text())
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def env_ws(workspace, sandbox):
    """A workspace on the sandbox (not a testnet) with the trader key: every check can pass."""
    trader = DEFAULT_KEYS["trader"]
    set_config(workspace, exchange={"base_url": sandbox.url, "testnet": False})
    write_env(workspace, EXCHANGE_API_KEY=trader.api_key, EXCHANGE_API_SECRET=trader.secret)
    return workspace


@pytest.fixture
def validate(run_cli, env_ws):
    """validate(*args) -> (exit code, the --json report or None, output)."""

    def run(*args: str, ws: Path | None = None):
        return run_cli.json("-w", ws or env_ws, "validate", "--json", *args)

    return run


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=Test", "-C", str(root), *args],
                   check=True, capture_output=True)

