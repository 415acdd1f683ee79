"""Production fixtures: the local exchange, a local alert receiver, and a workspace walked up to
stage 4.1d signed off with both configured."""

from __future__ import annotations

import pytest

from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from tests.alerts.conftest import configure, http_receiver  # noqa: F401 - fixtures
from tests.protocol_helpers import sign_off

LADDER = ("env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d")


@pytest.fixture
def make_prod_ws(workspace, sandbox, http_receiver, operator_key):
    """make(alerts=True, url=None) -> a workspace on the sandbox, alerts to the local receiver
    (or `url`), every step up to 4.1d signed off."""

    def make(alerts: bool = True, url: str | None = None):
        write_workspace(Workspace(workspace), describe(sandbox))
        if alerts:
            configure(workspace, [{"url": url or http_receiver.url(), "min_severity": "warning", "name": "ops hook"}],
                      retries=1, timeout=2.0)
        sign_off(workspace, operator_key, *LADDER)
        return workspace

    return make
