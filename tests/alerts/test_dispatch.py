"""Delivering alerts through apprise to real local receivers; failures retried, recorded, never raised."""

from __future__ import annotations

import time

import pytest

from livegate.services.alerts import Alerter, dispatch, send_alert
from tests.alerts.conftest import configure, events, free_port, ledger_text


def test_json_webhook_receives_title_body_and_type(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "name": "webhook"}])
    results = send_alert(workspace, "error", "order failed", "BTC/USDT buy 0.01 rejected: -2010", kind="order_failed")
    assert results == [{"destination": "webhook", "min_severity": "warning", "delivered": True, "attempts": 1, "error": None}]
    [request] = http_receiver.requests
    assert request["path"] == "/hook"
    assert request["body"]["title"] == "[ERROR] my-bot: order failed"
    assert request["body"]["message"].startswith("BTC/USDT buy 0.01 rejected: -2010\n")
    assert "order_failed" in request["body"]["message"]
    assert request["body"]["type"] == "failure"  # error and critical map to apprise's failure
    [sent] = events(workspace, "alert_sent")
    assert {k: sent[k] for k in ("kind", "severity", "title", "destination", "attempts")} == {
        "kind": "order_failed", "severity": "error", "title": "order failed", "destination": "webhook", "attempts": 1}
    assert "error" not in sent and len(sent["alert_id"]) == 12


@pytest.mark.parametrize(("severity", "apprise_type"), [("info", "info"), ("warning", "warning"), ("critical", "failure")])
def test_severity_maps_to_apprise_type(workspace, http_receiver, severity, apprise_type):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "info"}])
    send_alert(workspace, severity, "t", "b", kind="k")
    assert http_receiver.requests[-1]["body"]["type"] == apprise_type


def test_mail_through_local_smtp_with_password_from_env(workspace, smtp_receiver):
    configure(workspace, [{"url": smtp_receiver.url(), "min_severity": "critical"}], env={"SMTP_PASSWORD": smtp_receiver.PASSWORD})
    [result] = send_alert(workspace, "critical", "kill switch engaged", "halted by alice: manual halt", kind="kill_switch")
    assert result["delivered"], result
    assert result["destination"] == "mailto://127.0.0.1"
    [mail] = smtp_receiver.mails
    assert mail.mail_from == "bot@example.com" and mail.rcpt_tos == ["ops@example.com"]
    content = mail.content.decode()
    assert "Subject: [CRITICAL] my-bot: kill switch engaged" in content
    assert "halted by alice: manual halt" in content


def test_smtp_refusing_the_password_fails_without_hanging(workspace, smtp_receiver):
    configure(workspace, [{"url": smtp_receiver.url("wrong-password")}], retries=1)
    start = time.monotonic()
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert time.monotonic() - start < 5
    assert not result["delivered"] and result["attempts"] == 2
    assert smtp_receiver.mails == []
    assert "wrong-password" not in (result["error"] or "")


def test_min_severity_filters_per_destination(workspace, http_receiver):
    configure(workspace, [
        {"url": http_receiver.url("ops"), "min_severity": "warning", "name": "ops"},
        {"url": http_receiver.url("pager"), "min_severity": "critical", "name": "pager"},
    ])
    assert [r["destination"] for r in send_alert(workspace, "error", "t", "b", kind="k")] == ["ops"]
    assert [r["destination"] for r in send_alert(workspace, "critical", "t", "b", kind="k")] == ["ops", "pager"]
    assert send_alert(workspace, "info", "t", "b", kind="k") == []
    assert sorted(r["path"] for r in http_receiver.requests) == ["/ops", "/ops", "/pager"]
    assert len(events(workspace, "alert_sent")) == 3  # info reached nobody and recorded nothing


def test_failing_receiver_is_retried_then_recorded_and_never_raises(workspace, http_receiver):
    http_receiver.statuses = [500, 500, 500]
    configure(workspace, [{"url": http_receiver.url(), "name": "webhook"}], retries=2)
    [result] = send_alert(workspace, "critical", "breaker tripped", "daily loss", kind="breaker_trip")
    assert result["delivered"] is False and result["attempts"] == 3
    assert "500" in result["error"]
    assert len(http_receiver.requests) == 3
    [failed] = events(workspace, "alert_failed")
    assert failed["destination"] == "webhook" and failed["attempts"] == 3 and failed["kind"] == "breaker_trip"
    assert "500" in failed["error"]


def test_a_retry_that_succeeds_counts_its_attempts(workspace, http_receiver):
    http_receiver.statuses = [503]
    configure(workspace, [{"url": http_receiver.url()}], retries=2)
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert result["delivered"] and result["attempts"] == 2
    assert [e["attempts"] for e in events(workspace, "alert_sent")] == [2]


def test_closed_port_fails_fast_and_is_recorded(workspace):
    configure(workspace, [{"url": f"json://127.0.0.1:{free_port()}/hook"}], retries=1)
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert not result["delivered"] and result["attempts"] == 2 and result["error"]
    assert events(workspace, "alert_failed")[0]["destination"] == "json://127.0.0.1"


def test_a_hanging_receiver_does_not_block_beyond_the_timeout(workspace, http_receiver):
    http_receiver.hang = 5
    configure(workspace, [{"url": http_receiver.url()}], retries=0, timeout=0.5)
    start = time.monotonic()
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert time.monotonic() - start < 2
    assert not result["delivered"] and result["attempts"] == 1


def test_the_attempt_guard_stops_waiting_for_a_plugin_that_ignores_its_timeout(monkeypatch):
    from livegate.adapters import notify

    monkeypatch.setattr(notify, "_notify", lambda *a: time.sleep(5))
    start = time.monotonic()
    assert notify.attempt("json://x/y", "t", "b", "info", 0.3) == ("no answer within 0.3 s", True)
    assert time.monotonic() - start < 1


def test_an_exception_inside_apprise_is_a_failed_delivery(workspace, http_receiver, monkeypatch):
    import apprise

    def explode(self, *args, **kwargs):
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(apprise.Apprise, "notify", explode)
    configure(workspace, [{"url": http_receiver.url()}], retries=1)
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert result == {"destination": "json://127.0.0.1", "min_severity": "warning", "delivered": False, "attempts": 2,
                      "error": "RuntimeError: plugin bug"}


def test_one_dead_destination_does_not_stop_the_others(workspace, http_receiver):
    configure(workspace, [{"url": f"json://127.0.0.1:{free_port()}/dead", "name": "dead"}, {"url": http_receiver.url(), "name": "live"}], retries=0)
    results = {r["destination"]: r["delivered"] for r in send_alert(workspace, "error", "t", "b", kind="k")}
    assert results == {"dead": False, "live": True}
    assert [e["destination"] for e in events(workspace, "alert_sent")] == ["live"]
    assert [e["destination"] for e in events(workspace, "alert_failed")] == ["dead"]


def test_the_url_and_its_secret_never_reach_the_ledger_or_results(workspace, http_receiver, run_cli):
    token = "tok-9f8e7d6c5b4a"
    ws = configure(workspace, [{"url": http_receiver.url("hook/${ALERT_TOKEN}")},
                               {"url": f"json://127.0.0.1:{free_port()}/down/${{ALERT_TOKEN}}"}],  # and one that fails
                   retries=0, env={"ALERT_TOKEN": token})
    results = send_alert(workspace, "critical", "t", "b", kind="k")
    assert http_receiver.requests[0]["path"] == f"/hook/{token}"  # the receiver got the real URL
    text = ledger_text(workspace) + repr(results)
    for leak in (token, "/hook", "/down", "ALERT_TOKEN", f":{http_receiver.port}"):
        assert leak not in text
    assert token not in repr(ws.effective.snapshot)  # the sign-off snapshot holds a digest, not the URL
    assert "${ALERT_TOKEN}" not in repr(ws.effective.snapshot)
    assert run_cli("-w", workspace, "ledger", "verify").exit_code == 0


def test_a_missing_variable_is_named_and_nothing_is_sent(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url("hook/${NOT_SET_ANYWHERE}")}])
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert result["attempts"] == 0 and "NOT_SET_ANYWHERE not set" in result["error"]
    assert http_receiver.requests == []


def test_a_url_apprise_cannot_use_is_not_retried(workspace):
    configure(workspace, [{"url": "nosuchscheme://somewhere/x"}], retries=3)
    [result] = send_alert(workspace, "error", "t", "b", kind="k")
    assert result["attempts"] == 1 and "apprise cannot use this URL" in result["error"]


def test_a_broken_alerts_section_is_recorded_not_raised(workspace):
    configure(workspace, [{"url": "json://127.0.0.1/x", "min_severity": "loud"}])
    [result] = send_alert(workspace, "critical", "crash", "Traceback ...", kind="crash")
    assert result["destination"] == "livegate.yaml" and not result["delivered"]
    assert "alerts.destinations[0].min_severity" in result["error"]
    assert events(workspace, "alert_failed")[0]["kind"] == "crash"


def test_another_broken_section_does_not_stop_alerts(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url()}])
    path = workspace / "livegate.yaml"
    path.write_text(path.read_text().replace("symbols: [BTC/USDT]", "symbols: [BTCUSDT]"))
    assert send_alert(workspace, "error", "crash", "config broken", kind="crash")[0]["delivered"]


def test_no_workspace_at_all_returns_a_failure(tmp_path):
    [result] = send_alert(tmp_path / "nowhere", "critical", "t", "b", kind="k")
    assert not result["delivered"] and result["destination"] == "livegate.yaml"


def test_no_destination_means_no_network_and_no_record(workspace, monkeypatch):
    monkeypatch.setattr(dispatch, "_attempt", lambda *a: pytest.fail("must not send"))
    alerter = Alerter(workspace)
    assert alerter.emit("session_start", "critical", "t", "b") == []
    assert events(workspace, "alert_sent", "alert_failed") == []


def test_background_emit_returns_at_once_and_delivers(workspace, http_receiver):
    http_receiver.hang = 0.3
    configure(workspace, [{"url": http_receiver.url()}])
    alerter = Alerter(workspace)
    start = time.monotonic()
    assert alerter.emit("approval_pending", "warning", "approval pending", "order #1", wait=False) == []
    assert time.monotonic() - start < 0.2
    alerter.drain(5)
    assert len(http_receiver.requests) == 1
    assert events(workspace, "alert_sent")[0]["kind"] == "approval_pending"


def test_an_unknown_severity_is_sent_as_critical(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical"}])
    assert Alerter(workspace).emit("k", "urgent", "t")[0]["delivered"]
    assert events(workspace, "alert_sent")[0]["severity"] == "critical"
