"""The seed 000 §5.3 alert thresholds: trade failure rate > 5 %, latency > 2 s, daily loss > 3 %,
drawdown > 7 %, websocket disconnection, rate-limit warnings — and the venue-call observer
that measures latency and rate limits failing.

Pure: a running session passes what it measured over its recent window (`Vitals`) and the
limits of `phases/production.yaml` (`AlertLimits`); out come the breaches. `ThresholdWatch`
turns a stream of evaluations into alerts: once when a breach starts, again only if it gets
more severe, once when it clears — never one alert per tick. `readings` says, per threshold,
whether it is breached, within its limit, or not measured (and why): a value nobody measured
is never shown as healthy. livegate polls venues over REST and opens no websocket, so the
websocket threshold reads `WEBSOCKET_NOT_USED`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from livegate.adapters.exchange import WEBSOCKET_NOT_USED
from livegate.adapters.exchange.venue_calls import CallVitals
from livegate.config.models import SEVERITIES

RANK = {name: i for i, name in enumerate(SEVERITIES)}
TITLES = {
    "trade_failure_rate": "trade failure rate",
    "latency": "API latency",
    "daily_loss": "daily loss",
    "drawdown": "drawdown",
    "websocket": "websocket disconnection",
    "rate_limit": "rate-limit warnings",
    "observer": "venue-call observer errors",
}


class Breach(NamedTuple):
    kind: str  # a key of TITLES
    severity: str
    message: str


@dataclass(frozen=True)
class AlertLimits:
    """Alert when a value exceeds its limit (strictly). Defaults: seed 000 §5.3."""

    trade_failure_rate_pct: float = 5.0
    latency_ms: float = 2000.0
    daily_loss_pct: float = 3.0
    drawdown_pct: float = 7.0

    @classmethod
    def from_spec(cls, spec) -> AlertLimits:
        """The `alert_*` limits of an (effective) production PhaseSpec; a missing one keeps its default."""
        given = {c.id.removeprefix("alert_"): float(c.threshold) for c in spec.limits if c.id.startswith("alert_")}
        return cls(**{name: given[name] for name in cls.__dataclass_fields__ if name in given})


def alert_limits(ws) -> AlertLimits:
    """The workspace's effective alert limits (overrides in livegate.yaml applied). Raises ConfigError."""
    spec = next((s for s in ws.effective.specs if s.id == "production"), None)
    return AlertLimits() if spec is None else AlertLimits.from_spec(spec)


@dataclass(frozen=True)
class Vitals:
    """What a session measured over its recent window; None = not measured (never a breach,
    never healthy either: `readings` says "not measured")."""

    orders: int = 0  # orders sent
    orders_failed: int = 0  # of them: rejected, errored or timed out
    latency_median_ms: float | None = None  # venue API calls (VenueCalls.vitals())
    latency_max_ms: float | None = None
    daily_loss_pct: float | None = None  # loss since the UTC day began, % of the day's opening equity; a gain is <= 0
    drawdown_pct: float | None = None  # below peak equity, %
    websocket_disconnects: int | None = None  # None while no websocket is used
    websocket: str = WEBSOCKET_NOT_USED  # why there is no disconnection count (shown, never a silent 0)
    rate_limit_warnings: int | None = None  # 429s and used-weight headers above the warning level (VenueCalls)
    observer_errors: int | None = None  # errors of the venue-call observer or its listeners (the API breakers' feed)


def with_venue(vitals: Vitals, venue: CallVitals | None) -> Vitals:
    """`vitals` with what the venue-call observer measured (`VenueCalls.vitals()`): latency,
    rate-limit warnings, its own errors. None (no observer) leaves them not measured."""
    if venue is None:
        return vitals
    return replace(vitals, latency_median_ms=venue.latency_median_ms, latency_max_ms=venue.latency_max_ms,
                   rate_limit_warnings=venue.rate_limit_warnings, observer_errors=venue.observer_errors)


def check_trade_failure_rate(orders: int, failed: int, limit_pct: float) -> Breach | None:
    if orders <= 0:
        return None
    rate = 100.0 * failed / orders
    if rate <= limit_pct:
        return None
    return Breach("trade_failure_rate", "error", f"trade failure rate {rate:.1f}% ({failed} of {orders} orders) > {limit_pct:g}%")


def check_latency(median_ms: float | None, max_ms: float | None, limit_ms: float) -> Breach | None:
    """The median over the limit is an error (every call is slow); only the slowest call, a warning."""
    if median_ms is not None and median_ms > limit_ms:
        return Breach("latency", "error", f"median API latency {median_ms:.0f} ms > {limit_ms:g} ms")
    if max_ms is not None and max_ms > limit_ms:
        median = "" if median_ms is None else f" (median {median_ms:.0f} ms)"
        return Breach("latency", "warning", f"slowest API call {max_ms:.0f} ms > {limit_ms:g} ms{median}")
    return None


def check_daily_loss(loss_pct: float | None, limit_pct: float) -> Breach | None:
    if loss_pct is None or loss_pct <= limit_pct:
        return None
    return Breach("daily_loss", "error", f"daily loss {loss_pct:.2f}% > {limit_pct:g}%")


def check_drawdown(drawdown_pct: float | None, limit_pct: float) -> Breach | None:
    if drawdown_pct is None or drawdown_pct <= limit_pct:
        return None
    return Breach("drawdown", "critical", f"drawdown {drawdown_pct:.2f}% > {limit_pct:g}%")


def check_count(kind: str, count: int | None, what: str) -> Breach | None:
    """Any websocket disconnection or rate-limit warning in the window is worth a warning."""
    return Breach(kind, "warning", f"{count} {what}{'' if count == 1 else 's'} in the window") if count else None


def check_observer(errors: int | None) -> Breach | None:
    """The observer feeding the API breakers and these vitals failed: they may be blind."""
    if not errors:
        return None
    return Breach("observer", "warning", f"{errors} venue-call observer error{'' if errors == 1 else 's'} in the window: "
                                         "the API error-rate and latency breakers may not see every call")


def evaluate(vitals: Vitals, limits: AlertLimits = AlertLimits()) -> list[Breach]:
    """Every threshold `vitals` breaches, in a fixed order."""
    found = (
        check_trade_failure_rate(vitals.orders, vitals.orders_failed, limits.trade_failure_rate_pct),
        check_latency(vitals.latency_median_ms, vitals.latency_max_ms, limits.latency_ms),
        check_daily_loss(vitals.daily_loss_pct, limits.daily_loss_pct),
        check_drawdown(vitals.drawdown_pct, limits.drawdown_pct),
        check_count("websocket", vitals.websocket_disconnects, "websocket disconnection"),
        check_count("rate_limit", vitals.rate_limit_warnings, "rate-limit warning"),
        check_observer(vitals.observer_errors),
    )
    return [b for b in found if b is not None]


class Reading(NamedTuple):
    """One threshold now: `state` is breached | ok | not measured."""

    kind: str
    title: str
    state: str
    detail: str


def readings(vitals: Vitals, limits: AlertLimits = AlertLimits()) -> list[Reading]:
    """Every threshold of `evaluate`, with its state — for `livegate status` and the monitor."""
    breaches = {b.kind: b for b in evaluate(vitals, limits)}
    v, lim = vitals, limits
    measured: dict[str, str | None] = {
        "trade_failure_rate": f"{v.orders_failed} of {v.orders} orders failed (limit {lim.trade_failure_rate_pct:g}%)"
        if v.orders else None,
        "latency": None if v.latency_median_ms is None else
        f"median {v.latency_median_ms:.0f} ms, slowest {max(v.latency_max_ms or 0.0, v.latency_median_ms):.0f} ms "
        f"(limit {lim.latency_ms:g} ms)",
        "daily_loss": None if v.daily_loss_pct is None else f"{v.daily_loss_pct:.2f}% (limit {lim.daily_loss_pct:g}%)",
        "drawdown": None if v.drawdown_pct is None else f"{v.drawdown_pct:.2f}% (limit {lim.drawdown_pct:g}%)",
        "websocket": None if v.websocket_disconnects is None else f"{v.websocket_disconnects} disconnections in the window",
        "rate_limit": None if v.rate_limit_warnings is None else f"{v.rate_limit_warnings} in the window",
        "observer": None if v.observer_errors is None else f"{v.observer_errors} in the window",
    }
    why_not = {"trade_failure_rate": "no order sent yet", "latency": "no venue call timed", "daily_loss": "no equity yet", "drawdown": "no equity yet",
               "websocket": v.websocket, "rate_limit": "no venue call observed", "observer": "no venue-call observer attached"}
    out = []
    for kind, title in TITLES.items():
        if kind in breaches:
            out.append(Reading(kind, title, "breached", breaches[kind].message))
        elif measured[kind] is None:
            out.append(Reading(kind, title, "not measured", why_not[kind]))
        else:
            out.append(Reading(kind, title, "ok", str(measured[kind])))
    return out


def websocket_status() -> dict[str, object]:
    """What status and monitor show for the websocket threshold: livegate opens none."""
    return {"measured": False, "reason": WEBSOCKET_NOT_USED}


class Change(NamedTuple):
    """An alert to send: a breach started, got more severe, or cleared (same severity as the breach it ends)."""

    kind: str
    state: str  # started | worse | cleared
    severity: str
    title: str
    message: str


class ThresholdWatch:
    """The breaches that are on, so that each alerts once when it starts and once when it clears."""

    def __init__(self) -> None:
        self.active: dict[str, Breach] = {}

    def update(self, breaches: list[Breach]) -> list[Change]:
        """The changes since the last update (nothing while a condition merely persists)."""
        changes: list[Change] = []
        now: dict[str, Breach] = {}
        for breach in breaches:
            before = self.active.get(breach.kind)
            if before is None:
                changes.append(Change(breach.kind, "started", breach.severity, f"threshold breached: {TITLES[breach.kind]}", breach.message))
            elif RANK[breach.severity] > RANK[before.severity]:
                changes.append(Change(breach.kind, "worse", breach.severity, f"threshold breached, worse: {TITLES[breach.kind]}", breach.message))
            # Keep the most severe level seen: a dip and a rise back do not alert again.
            now[breach.kind] = breach if before is None or RANK[breach.severity] >= RANK[before.severity] else before._replace(message=breach.message)
        for kind, before in self.active.items():
            if kind not in now:
                changes.append(Change(kind, "cleared", before.severity, f"back to normal: {TITLES[kind]}", f"cleared; last: {before.message}"))
        self.active = now
        return changes

    def check(self, vitals: Vitals, limits: AlertLimits, alerter=None) -> list[Change]:
        """Evaluate, update, and send each change through `alerter` (kind `threshold_<kind>`) when given."""
        changes = self.update(evaluate(vitals, limits))
        for change in changes:
            if alerter is not None:
                alerter.emit(f"threshold_{change.kind}", change.severity, change.title, change.message)
        return changes
