"""The alert delivery's retries, through livegate.core.retry: BACKOFF_SECONDS before the second
attempt, doubled each time, at most MAX_BACKOFF_SECONDS; a failure not worth retrying stops."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from livegate.config.models import AlertDestination
from livegate.services.alerts import dispatch


@pytest.fixture
def slept(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(dispatch.time, "sleep", waits.append)
    return waits


def deliver(retries: int) -> dict:
    settings = SimpleNamespace(section=SimpleNamespace(retries=retries, timeout_seconds=1.0))
    dest = AlertDestination(url="json://127.0.0.1:9/hook", name="hook")
    return dispatch._deliver("hook", dest, settings, lambda name: None, "title", "body", "warning")


@pytest.mark.parametrize(
    "base, retries, expected",
    [
        (0.5, 6, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]),  # the defaults: 0.5 s doubled, capped at 4 s
        (0.01, 2, [0.01, 0.02]),  # the tests' quick backoff
        (0.5, 0, []),  # no retries: one attempt, no wait
    ],
)
def test_every_retry_waits_the_capped_doubling_backoff(monkeypatch, slept, base, retries, expected):
    monkeypatch.setattr(dispatch, "BACKOFF_SECONDS", base)
    monkeypatch.setattr(dispatch, "_attempt", lambda *a: ("connection refused", True))
    result = deliver(retries)
    assert slept == pytest.approx(expected)
    assert result["attempts"] == retries + 1 and not result["delivered"] and result["error"] == "connection refused"


def test_a_retry_that_succeeds_stops_there(monkeypatch, slept):
    outcomes = iter([("HTTP 500", True), None])
    monkeypatch.setattr(dispatch, "_attempt", lambda *a: next(outcomes))
    result = deliver(3)
    assert result == {"destination": "hook", "min_severity": "warning", "delivered": True, "attempts": 2, "error": None}
    assert slept == [0.01]  # the alert tests' quick backoff (conftest)


def test_a_failure_not_worth_retrying_stops_at_once(monkeypatch, slept):
    outcomes = iter([("HTTP 500", True), ("apprise cannot use this URL", False)])
    monkeypatch.setattr(dispatch, "_attempt", lambda *a: next(outcomes))
    result = deliver(5)
    assert result["attempts"] == 2 and not result["delivered"] and result["error"] == "apprise cannot use this URL"
    assert slept == [0.01]  # the alert tests' quick backoff (conftest)
