"""`livegate production`: a test alert delivered to a local receiver, the runbooks, the
kill-switch drill against the local exchange (real ccxt), and the gate refusing each missing item."""

from __future__ import annotations

from tests.alerts.conftest import free_port
from tests.conftest import by_id


def test_production_passes_with_alerts_runbooks_and_a_drill(run_cli, make_prod_ws, http_receiver, sandbox):
    root = make_prod_ws()
    code, report, output = run_cli.json("-w", root, "production", "--yes", "--json")
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] != "pass"]
    assert checks["runbooks_present"]["measured"] == 5
    assert report["drill"]["cancelled"] >= 1 and report["drill"]["remaining"] == 0 and report["drill"]["resumed"]
    assert checks["kill_switch_drill_seconds"]["measured"] < 5
    assert any("test alert" in str(r["body"]) for r in http_receiver.requests)
    from livegate.config.workspace import Workspace
    from livegate.services import modes

    assert modes.halted_reason(Workspace(root)) is None  # the drill resumed what it halted
    assert run_cli("-w", root, "signoff", "production", "--by", "Ann", "--yes").exit_code == 0


def test_each_missing_item_fails_its_criterion(run_cli, make_prod_ws):
    root = make_prod_ws(alerts=False)
    (root / "runbooks" / "credential-rotation.md").write_text("todo\n")
    code, report, _ = run_cli.json("-w", root, "production", "--yes", "--json")
    checks = by_id(report)
    assert code == 1
    assert checks["alerting_configured"]["verdict"] == "fail" and checks["test_alert_delivered"]["verdict"] == "fail"
    assert checks["runbooks_present"]["measured"] == 4 and "credential-rotation.md" in checks["runbooks_present"]["message"]


def test_an_undeliverable_alert_fails_without_crashing(run_cli, make_prod_ws):
    root = make_prod_ws(url=f"json://127.0.0.1:{free_port()}/hook")
    code, report, _ = run_cli.json("-w", root, "production", "--yes", "--json")
    check = by_id(report)["test_alert_delivered"]
    assert code == 1 and check["verdict"] == "fail" and "json://" not in (check["message"] or "")  # never the URL
    assert by_id(report)["kill_switch_drill_seconds"]["verdict"] == "pass"


def test_the_gate_needs_the_last_stage_signed(run_cli, workspace, operator_key):
    from tests.protocol_helpers import sign_off

    sign_off(workspace, operator_key, "env", "paper", "testnet", "4.1a", "4.1b", "4.1c")
    result = run_cli("-w", workspace, "production", "--yes")
    assert result.exit_code == 3 and "4.1d" in result.output
