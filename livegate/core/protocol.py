"""The protocol as data: phases, their stages and criteria, thresholds and comparisons.

Phase specs come from `phases/*.yaml` (validated in `livegate.config`); this module only
holds them and reasons about them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

OPS = (">", ">=", "<", "<=", "==", "between")

# A criterion's threshold: a number (>, >=, <, <=), true/false (==) or a range [low, high] (between).
Threshold = bool | float | list[float] | tuple[float, float]

# The protocol's phases, in order: the one registry that the loader (`phases/<id>.yaml`), the
# gate, `status`, the demo and the phase plug-ins (`livegate.phases.registry`) all follow.
PHASE_ORDER: tuple[str, ...] = ("env", "paper", "testnet", "micro-live", "production")


@dataclass(frozen=True)
class Criterion:
    id: str
    description: str
    op: str
    threshold: Threshold
    required: bool = True
    source: str = ""
    # The loosest threshold a workspace may set (phases/*.yaml says why for each): a lower bound
    # for > and >=, an upper bound for < and <=, the widest range for between. A true/false
    # check (==) has none: it cannot be loosened, only inverted. None: no override allowed looser
    # than the default at all.
    floor: Threshold | None = None

    def with_threshold(self, value: Threshold) -> Criterion:
        return Criterion(self.id, self.description, self.op, value, self.required, self.source, self.floor)


@dataclass(frozen=True)
class Stage:
    id: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class PhaseSpec:
    id: str
    number: int
    title: str
    command: str
    criteria: tuple[Criterion, ...]
    limits: tuple[Criterion, ...] = ()
    stages: tuple[Stage, ...] = ()
    profiles: dict[str, dict[str, Threshold]] = field(default_factory=dict)
    source: str = ""


def compare(op: str, measured: Any, threshold: Threshold) -> bool:
    """True when `measured` (whatever a check measured) meets `threshold` under `op`. Raises
    TypeError/ValueError on values that cannot be compared (the caller turns that into an
    error result)."""
    if op == "==":
        if isinstance(measured, bool) != isinstance(threshold, bool) and isinstance(measured, Number):
            # 1 == True in Python: a number must not meet a true/false criterion (fail closed).
            raise TypeError(f"cannot compare {measured!r} {op} {threshold!r}")
        return bool(measured == threshold)
    if measured is None or isinstance(measured, bool) != isinstance(threshold, bool):
        raise TypeError(f"cannot compare {measured!r} {op} {threshold!r}")
    if op == "between":
        low, high = _range(threshold)
        return bool(low <= measured <= high)
    if op == ">":
        return bool(measured > threshold)
    if op == ">=":
        return bool(measured >= threshold)
    if op == "<":
        return bool(measured < threshold)
    if op == "<=":
        return bool(measured <= threshold)
    raise ValueError(f"unknown comparison {op!r}")


def is_looser(op: str, default: Threshold, value: Threshold) -> bool:
    """True when `value` lets more through than `default` under `op`."""
    if op in (">", ">="):
        return _number(value) < _number(default)
    if op in ("<", "<="):
        return _number(value) > _number(default)
    if op == "between":
        (low, high), (default_low, default_high) = _range(value), _range(default)
        return low < default_low or high > default_high
    return value != default


def beyond_floor(crit: Criterion, value: Threshold) -> bool:
    """True when `value` is looser than the loosest threshold `crit` allows: its floor, or its
    default when it has none (a true/false check, or a threshold that may only be tightened)."""
    return is_looser(crit.op, crit.threshold if crit.floor is None else crit.floor, value)


def _number(threshold: Threshold) -> float:
    if isinstance(threshold, (list, tuple)):
        raise TypeError(f"expected a number, got the range {threshold!r}")
    return threshold


def _range(threshold: Threshold) -> tuple[float, float]:
    if not isinstance(threshold, (list, tuple)):
        raise TypeError(f"expected a range [low, high], got {threshold!r}")
    low, high = threshold
    return low, high


@dataclass(frozen=True)
class Looser:
    """A threshold the workspace set looser than the protocol's default."""

    scope: str  # phase id, or phase/stage
    criterion: str
    op: str
    default: Threshold
    value: Threshold

    def describe(self) -> str:
        return f"{self.scope}.{self.criterion}: {self.value} is looser than the default {self.op} {self.default}"


def _scope_criteria(spec: PhaseSpec) -> dict[str, tuple[Criterion, ...]]:
    scopes = {spec.id: spec.criteria + spec.limits}
    for stage in spec.stages:
        scopes[stage.id] = stage.criteria
    return scopes


def threshold_targets(spec: PhaseSpec) -> dict[str, dict[str, Criterion]]:
    """Every overridable threshold of a phase: {scope: {criterion id: Criterion}} where
    scope is the phase id for phase-level criteria and limits, the stage id for stages."""
    return {scope: {c.id: c for c in crits} for scope, crits in _scope_criteria(spec).items()}


def apply_thresholds(
    spec: PhaseSpec, profile: str, overrides: Mapping[str, Threshold | Mapping[str, Threshold]]
) -> tuple[PhaseSpec, list[Looser]]:
    """The effective spec after the profile and the workspace overrides, plus the overrides
    that are looser than the defaults. `overrides` is already validated (known ids, types):
    {criterion: value} for the phase, {stage: {criterion: value}} for its stages."""
    profile_values = spec.profiles.get(profile, {})
    looser: list[Looser] = []

    def stage_overrides(stage: str) -> Mapping[str, Threshold]:
        values = overrides.get(stage)
        return values if isinstance(values, Mapping) else {}

    def effective(scope: str, crit: Criterion, scope_overrides: Mapping[str, Threshold]) -> Criterion:
        value = crit.threshold
        if scope == spec.id and crit.id in profile_values:
            value = profile_values[crit.id]
        if crit.id in scope_overrides:
            value = scope_overrides[crit.id]
            if is_looser(crit.op, crit.threshold, value):
                label = spec.id if scope == spec.id else f"{spec.id}.{scope}"
                looser.append(Looser(label, crit.id, crit.op, crit.threshold, value))
        return crit if value == crit.threshold and type(value) is type(crit.threshold) else crit.with_threshold(value)

    phase_over = {k: v for k, v in overrides.items() if not isinstance(v, Mapping)}
    criteria = tuple(effective(spec.id, c, phase_over) for c in spec.criteria)
    limits = tuple(effective(spec.id, c, phase_over) for c in spec.limits)
    stages = tuple(
        Stage(st.id, tuple(effective(st.id, c, stage_overrides(st.id)) for c in st.criteria))
        for st in spec.stages
    )
    new = PhaseSpec(spec.id, spec.number, spec.title, spec.command, criteria, limits, stages, spec.profiles, spec.source)
    return new, looser


def thresholds_snapshot(specs: tuple[PhaseSpec, ...]) -> dict[str, dict[str, Threshold]]:
    """{scope: {criterion: threshold}} of effective specs — what a sign-off is made under."""
    snap: dict[str, dict[str, Threshold]] = {}
    for spec in specs:
        for scope, crits in _scope_criteria(spec).items():
            snap[scope] = {c.id: c.threshold for c in crits}
    return snap
