"""The local exchange emulator (`SandboxExchange`) for every test that needs one: ONE fixture,
`sandbox`, defined here and imported by tests/conftest.py.

Which emulator a test gets is `sandbox_options`: SandboxExchange's keyword arguments, plus
`share` — how widely one running emulator serves: "directory" (every test of a test directory
asking for the same options; the default) or "module" (a fresh one per test module). The
default is the phase tests' exchange (validate, testnet, controls, production): a thin book —
the best level holds a few dollars, as on a real testnet, so a partial fill can be forced —
seed 5, market clock at real time. A directory's conftest.py or a test module overrides the
`sandbox_options` fixture to get another variant (its dict is the whole set, not merged):

    @pytest.fixture
    def sandbox_options():
        return {"speed": 600, "history_bars": 1500, "seed": 7}  # a 1m bar every 0.1 s

An emulator starts when a test first asks for it and stops when its directory (or module) is
done; fault knobs are cleared after every test that used it."""

from __future__ import annotations

from typing import Any

import pytest

from livegate.adapters.sandbox.exchange import SandboxExchange
from livegate.adapters.sandbox.local import THIN_BOOK

SHARES = ("directory", "module")
DEFAULT_OPTIONS: dict[str, Any] = {"seed": 5, "book": THIN_BOOK, "share": "directory"}


class SandboxPool:
    """The running emulators of the session, one per (owner node, options); each stops when its
    owner (a test directory or module) is torn down, any left at the end of the session."""

    def __init__(self):
        self.running: dict[tuple[str, str], SandboxExchange] = {}

    def get(self, owner: pytest.Collector, options: dict[str, Any]) -> SandboxExchange:
        key = (owner.nodeid, repr(sorted(options.items())))
        running = self.running.get(key)
        if running is None:
            running = SandboxExchange(**options)
            running.start()
            self.running[key] = running
            owner.addfinalizer(lambda: self.stop(key))
        return running

    def stop(self, key: tuple[str, str]) -> None:
        running = self.running.pop(key, None)
        if running is not None:
            running.stop()

    def stop_all(self) -> None:
        for key in list(self.running):
            self.stop(key)


@pytest.fixture(scope="session")
def sandbox_pool():
    pool = SandboxPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """The emulator this test gets: SandboxExchange's keyword arguments and `share` (override me)."""
    return dict(DEFAULT_OPTIONS)


@pytest.fixture
def sandbox(request, sandbox_options, sandbox_pool) -> SandboxExchange:
    """A running SandboxExchange as `sandbox_options` describe it; its faults cleared afterwards."""
    options = dict(sandbox_options)
    share = options.pop("share", "directory")
    if share not in SHARES:
        raise ValueError(f"sandbox_options: share must be one of {SHARES} (got {share!r})")
    module = request.node.getparent(pytest.Module)
    running = sandbox_pool.get(module if share == "module" else module.parent, options)
    yield running
    running.clear_faults()
