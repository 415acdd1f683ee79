"""kill -9 of `livegate testnet` right after the venue accepted an order, at several points of
its script, then `livegate testnet` again (the README's resume): one run, no order doubled, no
fill lost or left unapplied, nothing left resting, the venue's record and the ledger equal."""

from __future__ import annotations

import json

import pytest

from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.defaults import DEFAULT_KEYS
from livegate.adapters.sandbox.local import THIN_BOOK, describe
from livegate.config.workspace import Workspace
from tests.crash.harness import exactly_once, kill_after_each, kill_points, run_livegate
from tests.protocol_helpers import sign_off


@pytest.fixture
def sandbox_options():
    return {"seed": 11, "book": THIN_BOOK, "share": "module"}


def test_testnet_killed_after_accepted_orders_resumes_without_doubling_or_losing_a_fill(workspace, sandbox, operator_key,
                                                                                       killer, run_cli):
    write_workspace(Workspace(workspace), describe(sandbox))
    sign_off(workspace, operator_key, "env", "paper")
    # each process is killed right after the venue accepts its n-th order: the 1st (the market
    # buy), then, resumed, its 2nd, its 3rd and its 5th — five kills in all with the 1st again
    points = kill_points((1, 2, 1, 3, 5))
    kill_after_each(workspace, ("testnet", "--json", "--yes"), killer, points)
    done = run_livegate(workspace, "testnet", "--json", "--yes")
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps([report["cex"]["steps"], report["cex"].get("recovered")], indent=0)
    assert report["resumed"] is True and report["run"] == "lgt1"  # one run, resumed, never a new one
    rec = report["cex"]["reconciliation"]
    assert rec["ok"] and rec["fill_differences"] == {} and rec["resting"] == [] and rec["orders_checked"] >= 7
    _, c = exactly_once(sandbox, DEFAULT_KEYS["trader"].api_key, workspace, "lgt1", killer, "testnet")
    assert c.venue_orders >= 7 + len(points) and c.venue_fills >= c.venue_orders - 2  # the killed orders are all there
    verify = run_cli("-w", workspace, "ledger", "verify")
    assert verify.exit_code == 0, verify.output
