"""Chain test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_anvil(tmp_path, monkeypatch):
    """No anvil anywhere: an empty node_modules and a PATH without it."""
    empty = tmp_path / "node_modules"
    empty.mkdir()
    monkeypatch.setenv("LIVEGATE_NODE_MODULES", str(empty))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return empty
