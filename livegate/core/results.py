"""Check and phase results: what was measured, against what, and the verdict. Records only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from livegate.core.protocol import Threshold


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    """One criterion's outcome. `measured` and `threshold` are JSON-able values."""

    criterion: str
    verdict: Verdict
    measured: Any = None
    threshold: Threshold | None = None
    op: str | None = None
    required: bool = True
    evidence: Any = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "verdict": self.verdict.value,
            "measured": _jsonable(self.measured),
            "threshold": self.threshold,
            "op": self.op,
            "required": self.required,
            "evidence": self.evidence,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            criterion=data["criterion"],
            verdict=Verdict(data["verdict"]),
            measured=data.get("measured"),
            threshold=data.get("threshold"),
            op=data.get("op"),
            required=data.get("required", True),
            evidence=data.get("evidence"),
            message=data.get("message", ""),
        )


def _jsonable(value: Any) -> Any:
    """Non-finite floats become None: the ledger stores strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def phase_verdict(checks: list[CheckResult]) -> Verdict:
    """A phase passes only if every required criterion passes (or was skipped as not
    applicable, with a reason) and at least one passed. Errors and failures fail it."""
    if not checks:
        return Verdict.FAIL
    required = [c for c in checks if c.required]
    if any(c.verdict in (Verdict.FAIL, Verdict.ERROR) for c in required):
        return Verdict.FAIL
    if any(c.verdict == Verdict.SKIP and not c.message for c in required):
        return Verdict.FAIL
    if not any(c.verdict == Verdict.PASS for c in required):
        return Verdict.FAIL
    return Verdict.PASS


@dataclass
class PhaseResult:
    """What a phase command produced. `step` is a ladder step id (`env`, `paper`, `4.1a`, ...).

    `kind` is `phase` for a result that counts, `backtest` / `import` for research evidence."""

    step: str
    checks: list[CheckResult]
    kind: str = "phase"
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return phase_verdict(self.checks)

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "verdict": self.verdict.value,
            "checks": [c.to_dict() for c in self.checks],
            "summary": self.summary,
        }
