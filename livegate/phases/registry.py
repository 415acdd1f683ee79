"""The phase plug-ins, keyed by the protocol's phase ids and in its order (`PHASE_ORDER`).
A phase without a plug-in, or a plug-in without a phase, fails the test suite
(tests/gate/test_registry.py)."""

from __future__ import annotations

from livegate.core.protocol import PHASE_ORDER
from livegate.phases import Phase
from livegate.phases.env.plugin import PHASE as ENV
from livegate.phases.microlive.plugin import PHASE as MICRO_LIVE
from livegate.phases.paper.plugin import PHASE as PAPER
from livegate.phases.production.plugin import PHASE as PRODUCTION
from livegate.phases.testnet.plugin import PHASE as TESTNET

PLUGINS: dict[str, Phase] = {phase.id: phase for phase in (ENV, PAPER, TESTNET, MICRO_LIVE, PRODUCTION)}


def plugin(phase_id: str) -> Phase:
    """The plug-in of a phase of the protocol."""
    return PLUGINS[phase_id]


def ordered() -> tuple[Phase, ...]:
    """Every plug-in, in protocol order."""
    return tuple(PLUGINS[pid] for pid in PHASE_ORDER)
