"""Phase plug-ins and the runner every phase command goes through.

A phase is one module with a `PHASE` object satisfying `Phase`: its id (matching
`phases/<id>.yaml`) and a `checks` mapping from criterion id to `check_<thing>(ctx)`.
Checks measure; they never print and never decide the verdict — the runner compares
each measurement with the effective threshold, and turns any exception into an `error`.
Each phase lives in `livegate/phases/<id>/`: its plug-in (`plugin.PHASE`) and its
orchestration. `livegate.phases.registry` maps the protocol's phase ids (`PHASE_ORDER`, in
`livegate.core.protocol`) to their plug-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from livegate.core.errors import LivegateError
from livegate.core.gate import rerun_notice
from livegate.core.protocol import Criterion, PhaseSpec, compare
from livegate.core.redact import redact_text
from livegate.core.results import CheckResult, PhaseResult, Verdict
from livegate.services import gate


@dataclass
class Measurement:
    """What a check saw. `verdict` is set only to skip (not applicable, with a message),
    to report an error, to fail, or to warn on an optional criterion; otherwise the runner
    decides from `value` and the threshold."""

    value: Any
    evidence: Any = None
    message: str = ""
    verdict: Verdict | None = None


Check = Callable[[Any], Measurement]


class Phase(Protocol):
    id: str
    checks: dict[str, Check]


@dataclass
class PhaseContext:
    """What checks get: the workspace, its effective config, the step, and free-form extras."""

    workspace: Any
    effective: Any
    step: str
    extras: dict[str, Any] = field(default_factory=dict)


def evaluate(criterion: Criterion, measurement: Measurement) -> CheckResult:
    """Compare one measurement with its criterion. Never raises: a value that cannot be
    compared is an error result."""

    base = dict(criterion=criterion.id, measured=measurement.value, threshold=criterion.threshold,
                op=criterion.op, required=criterion.required, evidence=measurement.evidence,
                message=measurement.message)
    if measurement.verdict in (Verdict.SKIP, Verdict.ERROR):
        return CheckResult(verdict=measurement.verdict, **base)
    if measurement.verdict == Verdict.WARN and not criterion.required:
        return CheckResult(verdict=Verdict.WARN, **base)
    if measurement.verdict == Verdict.FAIL and measurement.value is None:  # undefined: fails, with its reason
        return CheckResult(verdict=Verdict.FAIL if criterion.required else Verdict.WARN, **base)
    # An explicit WARN on a required criterion cannot wave it through: it is compared as usual.
    try:
        ok = compare(criterion.op, measurement.value, criterion.threshold)
    except (TypeError, ValueError) as exc:
        base["message"] = base["message"] or f"cannot compare: {exc}"
        return CheckResult(verdict=Verdict.ERROR, **base)
    if ok and measurement.verdict == Verdict.FAIL:
        ok = False
    if ok:
        return CheckResult(verdict=Verdict.PASS, **base)
    return CheckResult(verdict=Verdict.FAIL if criterion.required else Verdict.WARN, **base)


def run_checks(criteria: tuple[Criterion, ...], checks: dict[str, Check], ctx: Any) -> list[CheckResult]:
    """Run every criterion's check in order. A criterion without a check is an error
    (fails closed), as is any exception raised inside a check."""
    results = []
    for crit in criteria:
        fn = checks.get(crit.id)
        if fn is None:
            measurement = Measurement(None, message="no check implements this criterion", verdict=Verdict.ERROR)
        else:
            try:
                measurement = fn(ctx)
                if not isinstance(measurement, Measurement):
                    measurement = Measurement(None, message=f"check returned {type(measurement).__name__}, not a Measurement", verdict=Verdict.ERROR)
            except Exception as exc:  # noqa: BLE001 - an error inside a check is an error result

                text = str(exc) if isinstance(exc, LivegateError) else f"{type(exc).__name__}: {exc}"
                measurement = Measurement(None, message=redact_text(text), verdict=Verdict.ERROR)
        results.append(evaluate(crit, measurement))
    return results


def criteria_for(spec: PhaseSpec, step: str) -> tuple[Criterion, ...]:
    """A stage's criteria plus its phase's criteria; a plain phase's own criteria."""
    for stage in spec.stages:
        if stage.id == step:
            return stage.criteria + spec.criteria
    return spec.criteria


def run_phase(phase: Phase, workspace: Any, step: str | None = None, extras: dict[str, Any] | None = None, key=None,
              record: bool = True) -> PhaseResult:
    """The one path of every phase command: gate → checks → verdict → ledger. The checks share
    `extras` (and may leave what they measured there for the caller). `record=False` (`--check`)
    measures and judges the same way and writes nothing. A recorded result leaves
    `extras["gate_notice"]`: what it did to the step's sign-off (core.gate.rerun_notice), or None."""

    step = step or phase.id
    snap = gate.snapshot(workspace)
    gate.require_open(snap, step)
    if record:
        gate.require_recordable(workspace, step)
    spec = next(s for s in snap.effective.specs if s.id == phase.id)
    ctx = PhaseContext(workspace, snap.effective, step, extras if extras is not None else {})
    result = PhaseResult(step=step, checks=run_checks(criteria_for(spec, step), phase.checks, ctx))
    if record:
        gate.record_result(workspace, result, key=key, ran_under=snap.effective.fingerprint)
        ctx.extras["gate_notice"] = rerun_notice(snap.state, step, result.passed)
    return result
