"""`livegate alert test` and the `alerts:` section of livegate.yaml."""

from __future__ import annotations

import json

from tests.alerts.conftest import configure, events, free_port


def test_alert_test_reaches_every_destination_whatever_its_min_severity(run_cli, workspace, http_receiver, smtp_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical", "name": "webhook"},
                          {"url": smtp_receiver.url(), "min_severity": "error"}],
              env={"SMTP_PASSWORD": smtp_receiver.PASSWORD})
    result = run_cli("-w", workspace, "alert", "test")
    assert result.exit_code == 0, result.output
    assert "webhook" in result.output and "mailto://127.0.0.1" in result.output
    assert "Delivered to every destination (2)" in result.output
    assert http_receiver.requests[0]["body"]["title"] == "[INFO] my-bot: test alert"
    assert len(smtp_receiver.mails) == 1
    assert {e["destination"] for e in events(workspace, "alert_sent") if e["kind"] == "test"} == {"webhook", "mailto://127.0.0.1"}


def test_alert_test_json_and_a_failing_destination_exit_1(run_cli, workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "name": "ok"}, {"url": f"json://127.0.0.1:{free_port()}/x", "name": "down"}], retries=1)
    code, report, output = run_cli.json("-w", workspace, "alert", "test", "--severity", "warning", "--json")
    assert code == 1, output
    assert report["delivered"] is False and report["severity"] == "warning"
    by_name = {r["destination"]: r for r in report["results"]}
    assert by_name["ok"]["delivered"] and by_name["ok"]["attempts"] == 1
    assert not by_name["down"]["delivered"] and by_name["down"]["attempts"] == 2 and by_name["down"]["error"]
    assert http_receiver.requests[0]["body"]["type"] == "warning"


def test_alert_test_without_destinations_exits_2(run_cli, workspace):
    result = run_cli("-w", workspace, "alert", "test")
    assert result.exit_code == 2, result.output
    assert "no alert destination" in result.output


def test_alert_test_rejects_an_unknown_severity(run_cli, workspace):
    result = run_cli("-w", workspace, "alert", "test", "--severity", "loud")
    assert result.exit_code == 2 and "info, warning, error, critical" in result.output


def test_alert_test_never_shows_the_url(run_cli, workspace, http_receiver):
    token = "hook-secret-77aa55"
    configure(workspace, [{"url": http_receiver.url("${HOOK_TOKEN}")}, {"url": f"json://127.0.0.1:{free_port()}/${{HOOK_TOKEN}}"}],
              retries=0, env={"HOOK_TOKEN": token})
    for args in ((), ("--json",)):
        result = run_cli("-w", workspace, "alert", "test", *args)
        assert result.exit_code == 1, result.output
        assert token not in result.output and "HOOK_TOKEN" not in result.output and str(http_receiver.port) not in result.output


def test_a_bad_alerts_section_exits_2_naming_line_and_key_not_the_url(run_cli, workspace):
    configure(workspace, [{"url": "not a url with p4ssw0rd-inside", "min_severity": "loud"}])
    result = run_cli("-w", workspace, "alert", "test")
    assert result.exit_code == 2, result.output
    assert "alerts.destinations[0].url: must not contain spaces" in result.output
    assert "alerts.destinations[0].min_severity: must be one of" in result.output
    assert "p4ssw0rd" not in result.output
    check = run_cli("check-config", workspace / "livegate.yaml")  # the full config check hides it too
    assert check.exit_code == 2 and "alerts.destinations[0].url" in check.output and "p4ssw0rd" not in check.output


def test_config_rejects_a_malformed_reference(run_cli, workspace):
    configure(workspace, [{"url": "json://host/${bad-name}"}])
    result = run_cli("check-config", workspace / "livegate.yaml")
    assert result.exit_code == 2 and "a reference must be written ${NAME}" in result.output


def test_the_config_schema_documents_alerts(run_cli):
    schema = json.loads(run_cli("config", "schema", "--kind", "workspace").stdout)
    assert "alerts" in schema["properties"]
    assert "AlertDestination" in json.dumps(schema)
