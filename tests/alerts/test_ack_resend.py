"""Critical alerts re-sent every `alerts.resend_critical_minutes` until `livegate alert ack ID`,
decided from the ledger (a restarted process re-sends on time, never twice); `alert list`; the
refusals of `alert ack`. Time moves through the `now` the loop passes, never by sleeping."""

from __future__ import annotations

from datetime import datetime

import pytest

from livegate.config.workspace import Workspace
from livegate.ledger.queries import events as ledger_events
from livegate.ledger.queries import reading
from livegate.services.alerts import Alerter, acks, resend_unacknowledged
from tests.alerts.conftest import configure, events

MIN = 60.0


def sent_at(root, alert_id: str) -> float:
    """The ledger time (epoch seconds) of the alert's first record, read from the ledger itself."""
    with reading(Workspace(root).ledger_path) as conn:
        ts = next(e["ts"] for e in ledger_events(conn, ("alert_sent", "alert_failed")) if e["payload"]["alert_id"] == alert_id)
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def restart():
    """What a new process starts with: nothing remembered about when to look again."""
    acks._next_look.clear()


@pytest.fixture(autouse=True)
def fresh_memory():
    restart()
    yield
    restart()


def raise_critical(root, title="circuit breaker daily_loss tripped", body="daily loss 3.2% > 3%"):
    Alerter(root).emit("breaker_trip", "critical", title, body)
    return events(root, "alert_sent", "alert_failed")[-1]["alert_id"]


def test_a_critical_alert_is_resent_each_interval_from_the_ledger_until_acknowledged(run_cli, workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical", "name": "pager"}], resend_minutes=15)
    ws = Workspace(workspace)
    alert_id = raise_critical(workspace)
    t0 = sent_at(workspace, alert_id)
    [first] = http_receiver.requests
    assert f"Acknowledge it with: livegate alert ack {alert_id}; until then it is sent again every 15 minutes." in first["body"]["message"]

    alerter = Alerter(workspace)
    assert resend_unacknowledged(ws, t0 + 15 * MIN - 1, alerter=alerter) == []  # not yet: 15 minutes after the sending
    assert resend_unacknowledged(ws, t0 + 15 * MIN + 1, alerter=alerter) == [alert_id]
    alerter.drain(10)
    assert len(http_receiver.requests) == 2
    again = http_receiver.requests[1]["body"]
    assert again["title"] == "[CRITICAL] my-bot: still not acknowledged: circuit breaker daily_loss tripped"
    assert "sent again 1 time." in again["message"] and f"livegate alert ack {alert_id}" in again["message"]
    [resent] = events(workspace, "alert_resent")
    assert resent == {"alert_id": alert_id, "kind": "breaker_trip", "severity": "critical", "title": "circuit breaker daily_loss tripped",
                      "resend": 1, "resent_ms": int((t0 + 15 * MIN + 1) * 1000)}
    assert [e.get("resend") for e in events(workspace, "alert_sent")] == [None, 1]  # the delivery, recorded under the same id
    assert {e["alert_id"] for e in events(workspace, "alert_sent")} == {alert_id}

    # the interval counts from the re-send; a restarted process reads that from the ledger
    restart()
    assert resend_unacknowledged(ws, t0 + 29 * MIN, alerter=Alerter(workspace)) == []
    restart()
    alerter = Alerter(workspace)
    assert resend_unacknowledged(ws, t0 + 30 * MIN + 1, alerter=alerter) == [alert_id]
    assert resend_unacknowledged(ws, t0 + 30 * MIN + 2, alerter=alerter) == []  # never twice in one interval
    alerter.drain(10)
    assert len(http_receiver.requests) == 3 and "sent again 2 times." in http_receiver.requests[2]["body"]["message"]

    result = run_cli("-w", workspace, "alert", "ack", alert_id, "--by", "Ann", "--note", "loss limit checked, flat")
    assert result.exit_code == 0, result.output
    assert f"Acknowledged {alert_id}" in result.output and "by Ann" in result.output
    [ack] = events(workspace, "alert_acknowledged")
    assert {k: ack[k] for k in ("alert_id", "by", "note", "severity")} == {
        "alert_id": alert_id, "by": "Ann", "note": "loss limit checked, flat", "severity": "critical"}
    for later in (45, 60, 24 * 60):
        restart()
        assert resend_unacknowledged(ws, t0 + later * MIN, alerter=Alerter(workspace)) == []
    assert len(http_receiver.requests) == 3 and len(events(workspace, "alert_resent")) == 2

    code, listed, output = run_cli.json("-w", workspace, "alert", "list", "--json")
    assert code == 0, output
    [shown] = listed["alerts"]
    assert shown["id"] == alert_id and shown["state"] == "acknowledged" and shown["resends"] == 2
    assert shown["delivered"] == {"pager": True} and shown["acknowledged"]["by"] == "Ann"


def test_each_critical_alert_keeps_its_own_interval(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical"}], resend_minutes=10)
    ws = Workspace(workspace)
    first = raise_critical(workspace, title="first")
    t1 = sent_at(workspace, first)
    second = raise_critical(workspace, title="second")
    t2 = sent_at(workspace, second)
    alerter = Alerter(workspace)
    assert t2 > t1
    assert resend_unacknowledged(ws, t1 + 10 * MIN, alerter=alerter) == [first]
    assert resend_unacknowledged(ws, t2 + 10 * MIN, alerter=alerter) == [second]  # the first was re-sent at t1 + 10 min
    assert sorted(e["alert_id"] for e in events(workspace, "alert_resent")) == sorted([first, second])
    alerter.drain(10)


def test_only_critical_alerts_wait_for_an_acknowledgement(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "info"}])
    Alerter(workspace).emit("order_rejected", "error", "order lg-1 refused")
    Alerter(workspace).test("critical")  # a test alert proves delivery, nobody acknowledges it
    assert all("alert ack" not in r["body"]["message"] for r in http_receiver.requests)
    assert resend_unacknowledged(Workspace(workspace), 10 ** 10) == []
    assert events(workspace, "alert_resent") == []


def test_re_sending_is_off_at_zero(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical"}], resend_minutes=0)
    alert_id = raise_critical(workspace)
    assert "livegate alert ack " + alert_id + "." in http_receiver.requests[0]["body"]["message"]  # no promise of a re-send
    assert resend_unacknowledged(Workspace(workspace), sent_at(workspace, alert_id) + 10 * 24 * 3600) == []
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize(("value", "ok"), [(0, True), (1, True), (15, True), (1440, True), (0.5, False), (-1, False), (1441, False)])
def test_the_resend_interval_has_a_floor_and_a_ceiling(run_cli, workspace, value, ok):
    configure(workspace, [], resend_minutes=value)
    result = run_cli("check-config", workspace / "livegate.yaml")
    assert (result.exit_code == 0) is ok, result.output
    if not ok:
        assert "alerts.resend_critical_minutes" in result.output


def test_a_failure_never_reaches_the_loop_and_is_recorded_as_a_warning(workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical"}])
    alert_id = raise_critical(workspace)
    path = workspace / "livegate.yaml"
    path.write_text(path.read_text().replace("min_severity: critical", "min_severity: loud"))
    now = sent_at(workspace, alert_id) + 20 * MIN
    assert resend_unacknowledged(Workspace(workspace), now) == []
    [warning] = events(workspace, "alert_resend_failed")
    assert warning["severity"] == "warning" and "min_severity" in warning["error"]
    assert resend_unacknowledged(Workspace(workspace), now + 1) == []  # tried again later, not on every turn
    assert len(events(workspace, "alert_resend_failed")) == 1
    assert resend_unacknowledged(Workspace(workspace / "gone"), now) == []  # no ledger at all: still no exception


def test_ack_refusals_and_a_second_ack(run_cli, workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "info"}])
    critical = raise_critical(workspace)
    Alerter(workspace).emit("order_rejected", "error", "order lg-1 refused")
    error = events(workspace, "alert_sent")[-1]["alert_id"]
    Alerter(workspace).test()
    test = events(workspace, "alert_sent")[-1]["alert_id"]

    unknown = run_cli("-w", workspace, "alert", "ack", "0123456789ab")
    assert unknown.exit_code == 2 and "no alert '0123456789ab'" in unknown.output
    short = run_cli("-w", workspace, "alert", "ack", critical[:5])
    assert short.exit_code == 2 and "no alert" in short.output  # a prefix counts from 6 characters
    not_critical = run_cli("-w", workspace, "alert", "ack", error)
    assert not_critical.exit_code == 2 and "only critical alerts are acknowledged" in not_critical.output
    test_alert = run_cli("-w", workspace, "alert", "ack", test)
    assert test_alert.exit_code == 2 and "test alert" in test_alert.output
    assert events(workspace, "alert_acknowledged") == []

    first = run_cli("-w", workspace, "alert", "ack", critical[:6].upper(), "--by", "Ann")
    assert first.exit_code == 0 and f"Acknowledged {critical}" in first.output
    second = run_cli("-w", workspace, "alert", "ack", critical, "--by", "Bob")
    assert second.exit_code == 0, second.output
    assert f"{critical} was already acknowledged by Ann" in second.output and "nothing recorded" in second.output
    assert [e["by"] for e in events(workspace, "alert_acknowledged")] == ["Ann"]


def test_ack_is_signed_with_the_operator_key_when_there_is_one(run_cli, workspace, http_receiver, operator_key):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "critical"}])
    alert_id = raise_critical(workspace)
    assert run_cli("-w", workspace, "alert", "ack", alert_id, "--by", "Ann").exit_code == 0
    [ack] = events(workspace, "alert_acknowledged")
    assert ack["key_id"] == operator_key.key_id and ack["signature"]
    assert run_cli("-w", workspace, "ledger", "verify").exit_code == 0


def test_alert_list_shows_every_id_and_what_waits(run_cli, workspace, http_receiver):
    configure(workspace, [{"url": http_receiver.url(), "min_severity": "info", "name": "ops"}])
    waiting = raise_critical(workspace, title="kill switch engaged")
    Alerter(workspace).emit("live_started", "info", "live session started (stage 4.1a, mode LIVE_MINIMAL)")
    info = events(workspace, "alert_sent")[-1]["alert_id"]

    result = run_cli("-w", workspace, "alert", "list")
    assert result.exit_code == 0, result.output
    assert waiting in result.output and info in result.output
    assert f"waiting: livegate alert ack {waiting}" in result.output and "kill switch engaged" in result.output
    code, report, output = run_cli.json("-w", workspace, "alert", "list", "--unacked", "--json")
    assert code == 0, output
    assert [(a["id"], a["state"], a["delivered"]) for a in report["alerts"]] == [(waiting, "waiting", {"ops": True})]
    code, report, _ = run_cli.json("-w", workspace, "alert", "list", "--json", "--limit", "1")
    assert [a["id"] for a in report["alerts"]] == [info]  # newest first

    assert run_cli("-w", workspace, "alert", "ack", waiting).exit_code == 0
    empty = run_cli("-w", workspace, "alert", "list", "--unacked")
    assert empty.exit_code == 0 and "No critical alert waits" in empty.output
