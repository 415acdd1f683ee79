"""Seed 000 §5.3 thresholds against hand-computed cases, and alerting once per start and clear."""

from __future__ import annotations

import pytest

from livegate.adapters.exchange.venue_calls import VenueCalls
from livegate.services.alerts.thresholds import (
    WEBSOCKET_NOT_USED,
    AlertLimits,
    Breach,
    Reading,
    ThresholdWatch,
    Vitals,
    alert_limits,
    evaluate,
    readings,
    websocket_status,
    with_venue,
)

LIMITS = AlertLimits()  # 5 %, 2000 ms, 3 %, 7 %


@pytest.mark.parametrize(("vitals", "expected"), [
    (Vitals(), []),
    # 1 of 20 = 5.0 %: not above 5 %; 2 of 20 = 10 %
    (Vitals(orders=20, orders_failed=1), []),
    (Vitals(orders=20, orders_failed=2), [("trade_failure_rate", "error", "trade failure rate 10.0% (2 of 20 orders) > 5%")]),
    (Vitals(orders=0, orders_failed=0), []),
    # latency: the median over 2 s is an error, only the slowest call a warning, 2000 exactly is within
    (Vitals(latency_median_ms=2000, latency_max_ms=2000), []),
    (Vitals(latency_median_ms=2100, latency_max_ms=4000), [("latency", "error", "median API latency 2100 ms > 2000 ms")]),
    (Vitals(latency_median_ms=300, latency_max_ms=2500), [("latency", "warning", "slowest API call 2500 ms > 2000 ms (median 300 ms)")]),
    (Vitals(latency_max_ms=2001), [("latency", "warning", "slowest API call 2001 ms > 2000 ms")]),
    # money: strictly above the limit; a gain (negative loss) is no breach
    (Vitals(daily_loss_pct=3.0, drawdown_pct=7.0), []),
    (Vitals(daily_loss_pct=-4.0), []),
    (Vitals(daily_loss_pct=3.25), [("daily_loss", "error", "daily loss 3.25% > 3%")]),
    (Vitals(drawdown_pct=7.5), [("drawdown", "critical", "drawdown 7.50% > 7%")]),
    (Vitals(websocket_disconnects=1), [("websocket", "warning", "1 websocket disconnection in the window")]),
    (Vitals(rate_limit_warnings=3), [("rate_limit", "warning", "3 rate-limit warnings in the window")]),
    (Vitals(rate_limit_warnings=0, websocket_disconnects=0, observer_errors=0), []),
    (Vitals(observer_errors=1), [("observer", "warning", "1 venue-call observer error in the window: "
                                                        "the API error-rate and latency breakers may not see every call")]),
])
def test_evaluate(vitals, expected):
    assert evaluate(vitals, LIMITS) == [Breach(*e) for e in expected]


def test_every_threshold_at_once_in_a_fixed_order():
    vitals = Vitals(orders=10, orders_failed=1, latency_median_ms=2500, daily_loss_pct=4, drawdown_pct=8,
                    websocket_disconnects=2, rate_limit_warnings=1)
    assert [b.kind for b in evaluate(vitals, LIMITS)] == ["trade_failure_rate", "latency", "daily_loss", "drawdown", "websocket", "rate_limit"]


def test_limits_come_from_the_effective_production_spec(workspace):
    from livegate.config.workspace import Workspace

    assert alert_limits(Workspace(workspace)) == AlertLimits(5.0, 2000.0, 3.0, 7.0)
    path = workspace / "livegate.yaml"
    path.write_text(path.read_text().replace("thresholds: {}", "thresholds:\n  production:\n    alert_latency_ms: 1500\n    alert_drawdown_pct: 5"))
    limits = alert_limits(Workspace(workspace))
    assert (limits.latency_ms, limits.drawdown_pct, limits.daily_loss_pct) == (1500.0, 5.0, 3.0)
    assert evaluate(Vitals(latency_median_ms=1600), limits)[0].kind == "latency"


def test_watch_alerts_once_on_start_and_once_on_clear():
    watch = ThresholdWatch()
    slow = Vitals(latency_median_ms=2500)
    started = watch.check(slow, LIMITS)
    assert [(c.kind, c.state, c.severity) for c in started] == [("latency", "started", "error")]
    assert started[0].title == "threshold breached: API latency"
    for _ in range(5):
        assert watch.check(slow, LIMITS) == []  # persisting: no storm
    cleared = watch.check(Vitals(latency_median_ms=100), LIMITS)
    assert [(c.kind, c.state, c.severity) for c in cleared] == [("latency", "cleared", "error")]
    assert cleared[0].message == "cleared; last: median API latency 2500 ms > 2000 ms"
    assert watch.check(Vitals(), LIMITS) == []
    assert [c.state for c in watch.check(slow, LIMITS)] == ["started"]  # a new episode alerts again


def test_watch_alerts_again_only_when_worse():
    watch = ThresholdWatch()
    spike = Vitals(latency_median_ms=500, latency_max_ms=3000)
    all_slow = Vitals(latency_median_ms=2500, latency_max_ms=3000)
    assert [(c.state, c.severity) for c in watch.check(spike, LIMITS)] == [("started", "warning")]
    assert [(c.state, c.severity) for c in watch.check(all_slow, LIMITS)] == [("worse", "error")]
    assert watch.check(spike, LIMITS) == []  # better but still breached: quiet
    assert watch.check(all_slow, LIMITS) == []  # and back up to the level already alerted: quiet
    assert [(c.state, c.severity) for c in watch.check(Vitals(), LIMITS)] == [("cleared", "error")]


def test_watch_tracks_each_threshold_apart():
    watch = ThresholdWatch()
    watch.update(evaluate(Vitals(daily_loss_pct=4, websocket_disconnects=1), LIMITS))
    changes = watch.update(evaluate(Vitals(daily_loss_pct=4, drawdown_pct=9), LIMITS))
    assert [(c.kind, c.state) for c in changes] == [("drawdown", "started"), ("websocket", "cleared")]
    assert set(watch.active) == {"daily_loss", "drawdown"}


class RecordingAlerter:
    def __init__(self):
        self.sent = []

    def emit(self, kind, severity, title, body=""):
        self.sent.append((kind, severity, title, body))
        return []


def test_check_sends_each_change_through_the_alerter():
    alerter, watch = RecordingAlerter(), ThresholdWatch()
    watch.check(Vitals(drawdown_pct=8), LIMITS, alerter)
    watch.check(Vitals(drawdown_pct=9), LIMITS, alerter)
    watch.check(Vitals(drawdown_pct=1), LIMITS, alerter)
    assert alerter.sent == [
        ("threshold_drawdown", "critical", "threshold breached: drawdown", "drawdown 8.00% > 7%"),
        ("threshold_drawdown", "critical", "back to normal: drawdown", "cleared; last: drawdown 9.00% > 7%"),
    ]


def test_nothing_measured_is_never_shown_as_healthy():
    assert Vitals().websocket == WEBSOCKET_NOT_USED == "not used (REST polling)"
    assert readings(Vitals()) == [
        Reading("trade_failure_rate", "trade failure rate", "not measured", "no order sent yet"),
        Reading("latency", "API latency", "not measured", "no venue call timed"),
        Reading("daily_loss", "daily loss", "not measured", "no equity yet"),
        Reading("drawdown", "drawdown", "not measured", "no equity yet"),
        Reading("websocket", "websocket disconnection", "not measured", "not used (REST polling)"),
        Reading("rate_limit", "rate-limit warnings", "not measured", "no venue call observed"),
        Reading("observer", "venue-call observer errors", "not measured", "no venue-call observer attached"),
    ]
    assert websocket_status() == {"measured": False, "reason": "not used (REST polling)"}


def test_readings_say_breached_ok_or_not_measured():
    vitals = Vitals(orders=20, orders_failed=2, latency_median_ms=120, latency_max_ms=900, daily_loss_pct=1.0,
                    drawdown_pct=8.0, rate_limit_warnings=0, observer_errors=0)
    got = {r.kind: (r.state, r.detail) for r in readings(vitals, LIMITS)}
    assert got == {
        "trade_failure_rate": ("breached", "trade failure rate 10.0% (2 of 20 orders) > 5%"),
        "latency": ("ok", "median 120 ms, slowest 900 ms (limit 2000 ms)"),
        "daily_loss": ("ok", "1.00% (limit 3%)"),
        "drawdown": ("breached", "drawdown 8.00% > 7%"),
        "websocket": ("not measured", "not used (REST polling)"),
        "rate_limit": ("ok", "0 in the window"),
        "observer": ("ok", "0 in the window"),
    }
    assert readings(Vitals(websocket_disconnects=0))[4] == Reading("websocket", "websocket disconnection", "ok",
                                                                  "0 disconnections in the window")


def test_with_venue_takes_the_observers_window():
    now = [0.0]
    calls = VenueCalls(clock=lambda: now[0])
    for seconds in (0.1, 0.3, 2.5):
        calls.record(True, seconds, status=200)
    calls.record(False, 0.2, status=429, rate_limited=True)
    vitals = with_venue(Vitals(orders=3), calls.vitals())
    # median of 0.1, 0.2, 0.3, 2.5 s = (0.2 + 0.3) / 2
    assert (vitals.orders, vitals.latency_median_ms, vitals.latency_max_ms) == (3, pytest.approx(250.0), pytest.approx(2500.0))
    assert (vitals.rate_limit_warnings, vitals.observer_errors) == (1, 0)
    assert [b.kind for b in evaluate(vitals, LIMITS)] == ["latency", "rate_limit"]
    assert with_venue(Vitals(), None) == Vitals()
