"""Emergency-control fixtures: workspaces on the local exchange (tests/sandbox_fixtures.py), each with
an API key of its own holding only USDT (no position, no order until a test makes one)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from tests.protocol_helpers import sign_off

_ids = itertools.count(1)


class Venue:
    """The workspace's account on the sandbox, traded on directly (as another tool would)."""

    def __init__(self, sandbox, root: Path):
        n = next(_ids)
        self.pair = sandbox.add_key(f"controls-key-{n}", f"controls-secret-{n}-Qx", balances={"USDT": 10_000})
        self.client = sandbox.client(self.pair)
        self.sandbox = sandbox
        write_workspace(Workspace(root), {**describe(sandbox), "api_key": self.pair.api_key, "secret": self.pair.secret})

    def buy(self, amount: float = 0.002) -> dict:
        return self.client.create_order("BTC/USDT", "market", "buy", amount)

    def rest(self, amount: float = 0.001) -> dict:
        """A limit buy far below the market: it rests on the book."""
        price = round(self.sandbox.price("BTC/USDT") * 0.5, 2)
        return self.client.create_order("BTC/USDT", "limit", "buy", amount, price)

    def open_orders(self) -> list[dict]:
        return self.client.fetch_open_orders("BTC/USDT")


@pytest.fixture
def venue(workspace, sandbox) -> Venue:
    """`workspace` pointed at the sandbox with a fresh USDT-only key; nothing signed off yet
    (the gate to micro-live is closed)."""
    return Venue(sandbox, workspace)


@pytest.fixture
def ready(venue, workspace, operator_key) -> Venue:
    """`venue` with env, paper and testnet signed off: a switch to live passes every check."""
    sign_off(workspace, operator_key, "env", "paper", "testnet")
    return venue


def set_env(root: Path, **values: str) -> None:
    path = root / ".env"
    path.write_text(set_env_values(path.read_text(), values))


def events(root: Path, *kinds: str) -> list[dict]:
    from livegate.ledger.queries import connect_readonly
    from livegate.ledger.queries import events as iter_events

    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return list(iter_events(conn, kinds=kinds))
    finally:
        conn.close()


def await_approval(root) -> str:
    """An order waiting for approval in the ledger; its id."""
    from livegate.core.orders import Order
    from livegate.services import approvals

    order = Order("ctl-1", "BTC/USDT", "buy", "market", 0.001, None, 0)
    return approvals.request(Workspace(root), order, expiry_s=300, context="test").id


def drop_risk_key(root, key: str) -> None:
    """Delete a required key from risk_limits.yaml."""
    path = root / "risk_limits.yaml"
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True) if not line.strip().startswith(f"{key}:")))


@pytest.fixture(autouse=True)
def _operator_key(operator_key):
    """Resumes and mode changes count only with the operator's signature: every test here has the key."""
    return operator_key
