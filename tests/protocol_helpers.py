"""Walking a test workspace up the ladder: a passing result recorded for a step (measurements
made to pass its criteria) and signed off, so the next phase's gate opens."""

from __future__ import annotations

from pathlib import Path

from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.phases import Measurement, criteria_for, run_phase
from livegate.services import gate
from livegate.services.exchange_key import KEY_CHECK, key_evidence


def passing(criterion):
    t = criterion.threshold
    if criterion.op == "==":
        return t
    if criterion.op == "between":
        return (t[0] + t[1]) / 2
    return {">": t + 1, ">=": t, "<": t - 1 if t >= 1 else t / 2, "<=": t}[criterion.op]


def sign_off(ws_root: Path, key, *steps: str) -> None:
    """Record a passing result for each step (in order) and sign it off."""
    ws = Workspace(ws_root)
    for step in steps:
        spec = next(s for s in ws.effective.specs if s.id == step or any(st.id == step for st in s.stages))

        class Passing:
            id = spec.id
            checks = {c.id: (lambda ctx, c=c: Measurement(passing(c))) for c in criteria_for(spec, step)}
            if step == "env":  # as validate records it: the exchange key the sign-off binds
                checks[KEY_CHECK] = lambda ctx: Measurement(True, evidence=key_evidence(load_env(ws.root), ws.effective.config.exchange.id))

        result = run_phase(Passing(), ws, step=step, key=key)
        assert result.passed, [c.to_dict() for c in result.checks]
        gate.signoff(ws, step, "Test Operator", key)
