"""Fixtures for the ledger tests: the real SQLite file of a workspace and a way to append to it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from livegate.ledger.store import Ledger


@pytest.fixture
def ledger_path(workspace) -> Path:
    path = workspace / ".livegate" / "ledger.db"
    assert path.is_file()
    return path


@pytest.fixture
def append(ledger_path):
    """append(kind, payload, key=None, sign=False, actor=None) -> Event, through a fresh Ledger."""

    def _append(kind: str, payload: dict, key=None, sign: bool = False, actor: str | None = None):
        with Ledger.open(ledger_path, key=key) as ledger:
            return ledger.append(kind, payload, actor=actor, sign=sign)

    return _append


@pytest.fixture
def verify(run_cli, workspace):
    """verify(*extra) -> (exit_code, report dict from --json, plain text output)."""

    def _verify(*extra: str):
        text = run_cli("-w", workspace, "ledger", "verify", *extra)
        as_json = run_cli("-w", workspace, "ledger", "verify", "--json", *extra)
        assert as_json.exit_code == text.exit_code, (text.output, as_json.output)
        return text.exit_code, json.loads(as_json.stdout), text.output

    return _verify


@pytest.fixture
def read_events(ledger_path):
    """read_events() -> every row of the events table, straight from SQLite, in id order."""

    def _read() -> list[tuple]:
        conn = sqlite3.connect(ledger_path)
        try:
            return conn.execute("SELECT id, ts, kind, actor, payload, prev_hash, hash FROM events ORDER BY id").fetchall()
        finally:
            conn.close()

    return _read
