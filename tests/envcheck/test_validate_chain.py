"""validate with the chain on: the RPC, chain id and signer checks against the local node."""

from __future__ import annotations

from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from tests.conftest import by_id
from tests.envcheck.conftest import set_config


def point_at(workspace, sandbox, chain):
    """What `sandbox serve --write-config` writes, for this session's exchange and chain."""
    write_workspace(Workspace(workspace), describe(sandbox, chain))


def test_everything_passes_against_the_local_exchange_and_chain(validate, workspace, sandbox, chain):
    point_at(workspace, sandbox, chain)
    code, report, _ = validate(ws=workspace)
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] != "pass"]
    assert all(c["verdict"] == "pass" for c in report["checks"])
    assert checks["chain_id_matches"]["evidence"]["node"] == 31337 and checks["rpc_latency_ms"]["measured"] < 2000
    assert checks["signer_address_pinned"]["evidence"]["address"] == chain.trader.address


def test_a_chain_id_mismatch_fails(validate, workspace, sandbox, chain):
    point_at(workspace, sandbox, chain)
    set_config(workspace, chain={"chain_id": 1})
    code, report, _ = validate(ws=workspace)
    check = by_id(report)["chain_id_matches"]
    assert code == 1 and check["verdict"] == "fail" and "is chain 31337, livegate.yaml says 1" in check["message"]
