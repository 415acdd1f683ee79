"""`livegate testnet` fixtures: the local exchange with a thin book (the best level holds a few
dollars, as on a real testnet, so a partial fill can be forced), and workspaces pointed at it
with the paper phase signed off."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from tests.protocol_helpers import sign_off


@pytest.fixture
def testnet_ws(workspace, sandbox, operator_key):
    """A workspace on the sandbox exchange (no chain), env and paper signed off."""
    write_workspace(Workspace(workspace), describe(sandbox))
    sign_off(workspace, operator_key, "env", "paper")
    return workspace


@pytest.fixture
def testnet(run_cli, testnet_ws):
    """testnet(*args) -> (exit code, --json report or None, output)."""

    def run(*args: str, ws: Path | None = None):
        return run_cli.json("-w", ws or testnet_ws, "testnet", "--json", "--yes", *args)

    return run


@pytest.fixture
def full_ws(workspace, sandbox, default_chain, operator_key):
    """A workspace on the sandbox exchange and the local chain (what `sandbox serve --write-config`
    writes), env and paper signed off."""
    write_workspace(Workspace(workspace), describe(sandbox, default_chain))
    sign_off(workspace, operator_key, "env", "paper")
    return workspace
