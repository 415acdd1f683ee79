"""The ladder's steps: each phase, or each stage of a staged phase, in protocol order. Apart
from `core.protocol` (which reasons about the phases' criteria) so that reading the ladder —
`status`, the gate — needs nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livegate.core.protocol import PhaseSpec


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: a phase, or one stage of a staged phase."""

    id: str
    phase: str
    title: str
    command: str


def ladder(specs: tuple[PhaseSpec, ...]) -> tuple[Step, ...]:
    """The ordered steps: each phase (in the order given, the registry's), with a staged phase
    expanded into its stages."""
    steps: list[Step] = []
    for spec in specs:
        if spec.stages:
            for stage in spec.stages:
                steps.append(Step(stage.id, spec.id, f"{spec.title} {stage.id}", f"{spec.command} --stage {stage.id}"))
        else:
            steps.append(Step(spec.id, spec.id, spec.title, spec.command))
    return tuple(steps)
