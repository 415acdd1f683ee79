"""The local exchange for phase tests (validate, testnet): one per session and test directory,
with a thin book (the best level holds a few dollars, as on a real testnet, so a partial fill
can be forced); fault knobs cleared after every test."""

from __future__ import annotations

import pytest

from livegate.adapters.sandbox.exchange import SandboxExchange
from livegate.adapters.sandbox.local import THIN_BOOK


@pytest.fixture(scope="session")
def sandbox():
    with SandboxExchange(seed=5, book=THIN_BOOK) as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_faults(sandbox):
    yield
    sandbox.clear_faults()
