"""Phase 5 — production (`phases/production.yaml`, seed 000 §5): alerting configured and a test
alert delivered, the runbooks present, the kill-switch drill executed against the venue and
timed. The checks read what `livegate production` did (extras `alerts`, `runbooks`, `drill`)."""

from __future__ import annotations

from livegate.core.results import Verdict
from livegate.phases import Measurement, PhaseContext


def _part(name: str, ctx: PhaseContext) -> dict | Measurement:
    data = ctx.extras.get(name)
    if data is None:
        return Measurement(None, message=f"the {name} part did not run", verdict=Verdict.ERROR)
    if "error" in data:
        return Measurement(None, message=data["error"], verdict=Verdict.ERROR)
    return data


def check_alerting_configured(ctx: PhaseContext) -> Measurement:
    data = _part("alerts", ctx)
    if isinstance(data, Measurement):
        return data
    count = data["destinations"]
    return Measurement(count > 0, evidence={"destinations": data["names"]},
                       message="" if count else "no alert destination in livegate.yaml (alerts.destinations)")


def check_test_alert_delivered(ctx: PhaseContext) -> Measurement:
    data = _part("alerts", ctx)
    if isinstance(data, Measurement):
        return data
    results = data["results"]
    failed = [r for r in results if not r.get("delivered")]
    if not results:
        return Measurement(False, message="no destination to deliver to")
    return Measurement(not failed, evidence=results,
                       message="; ".join(f"{r.get('destination')}: {r.get('error')}" for r in failed))


def check_runbooks_present(ctx: PhaseContext) -> Measurement:
    data = _part("runbooks", ctx)
    if isinstance(data, Measurement):
        return data
    missing = [name for name, ok in data.items() if not ok]
    return Measurement(len(data) - len(missing), evidence=data,
                       message=("missing or empty: " + ", ".join(missing)) if missing else "")


def check_kill_switch_drill_seconds(ctx: PhaseContext) -> Measurement:
    data = _part("drill", ctx)
    if isinstance(data, Measurement):
        return data
    if data["remaining"]:
        return Measurement(data["seconds"], evidence=data, verdict=Verdict.FAIL,
                           message=f"{data['remaining']} open order(s) still on the venue after cancel-all")
    return Measurement(data["seconds"], evidence=data,
                       message=f"halt + cancel-all of {data['cancelled']} order(s) on {data['exchange']}")


class ProductionPhase:
    id = "production"
    checks = {
        "alerting_configured": check_alerting_configured,
        "test_alert_delivered": check_test_alert_delivered,
        "runbooks_present": check_runbooks_present,
        "kill_switch_drill_seconds": check_kill_switch_drill_seconds,
    }


PHASE = ProductionPhase()
