"""Shared fixtures: an isolated environment for every test, a CLI runner, workspaces and keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livegate.cli import app
from tests.chain_fixtures import any_chain, chain, default_chain, tester_chain, w3  # noqa: F401 - the local chains
from tests.sandbox_fixtures import sandbox, sandbox_options, sandbox_pool  # noqa: F401 - the local exchange


@pytest.fixture(autouse=True)
def isolation(tmp_path, monkeypatch):
    """Every test: its own HOME and key dir, no secrets or livegate variables, no colour."""
    for name in list(os.environ):
        if name.startswith(("LIVEGATE_", "EXCHANGE_", "SIGNER_", "ALLOW_")) or name in (
            "PAPER_MODE", "LIVE_TRADING_ENABLED", "TRADING_HALTED", "EXECUTION_APPROVAL_MODE", "MAX_TRADE_AMOUNT",
            "MAX_CEX_ORDER_AMOUNT",
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(home / ".config" / "livegate"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.chdir(tmp_path)
    from livegate.cli import prompts

    monkeypatch.setattr(prompts, "PROMPTER", prompts.ScriptedPrompter([]))
    from livegate.core import redact

    redact._extra.clear()  # secrets a process registered belong to that process: each test starts with none
    yield


class Run:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    def json(self, *args: str):
        """Run a command given `--json` among `args`: (exit code, the parsed report or None, output)."""
        import json

        result = self(*args)
        try:
            report = json.loads(result.stdout)
        except ValueError:
            report = None
        return result.exit_code, report, result.output


def by_id(report: dict) -> dict[str, dict]:
    """A phase report's checks by criterion id."""
    return {c["criterion"]: c for c in report["checks"]}


@pytest.fixture
def run_cli():
    """run_cli("status", "--json") -> click Result (exit_code, output, stdout, stderr)."""
    return Run()


@pytest.fixture
def workspace(tmp_path, run_cli) -> Path:
    """An initialised workspace at tmp_path/ws."""
    root = tmp_path / "ws"
    result = run_cli("init", root)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def operator_key(run_cli, tmp_path):
    """The operator's signing key, created in the isolated key dir."""
    result = run_cli("keys", "init")
    assert result.exit_code == 0, result.output
    from livegate.ledger.keys import load_private

    return load_private()
