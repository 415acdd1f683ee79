"""The mode ladder (seed 004): which trading mode may follow which. `mode_switch.set_mode` asks
`require` before every switch it records (the automatic emergency stop, `mode_switch.halt`, is
never held up and does not ask).

- PAPER and EMERGENCY_STOP are reachable from any mode, and so is less risk within the live modes
  (LIVE_SCALED to a lower level, or to LIVE_MINIMAL): less risk is never held up.
- EMERGENCY_STOP leads only to PAPER (`livegate resume`, or `livegate mode set PAPER`).
- LIVE_MINIMAL needs testnet signed off under the current configuration (and every step before
  it): that is the gate to stage 4.1a, which `mode_switch.switch_checks` checks with the
  switch's other checks, so all of them are named at once.
- LIVE_SCALED level n needs stage 4.1d signed off under the current configuration and goes up
  one level at a time: n is at most the current level + 1 (PAPER and LIVE_MINIMAL count as 0).
- For n > 1, level n − 1's scaling step must be signed off: a step up of the capital
  (`livegate scale --to`, signed with the operator key, allowed only after the minimum days at
  the capital level on the ledger's clock with that level's results meeting the rules) recorded
  while the mode was LIVE_SCALED level n − 1 — after the latest switch to that level — and still
  the latest capital step (a step down after it, a red flag, takes it back).

"Signed off" is the gate's own reading (`gate.snapshot`, `core.gate.step_status`), on a ledger
that verifies."""

from __future__ import annotations

from typing import Any

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.core.errors import ConfigError, GateClosed
from livegate.ledger import queries
from livegate.services import gate
from livegate.services.modes import LIMITS, LIVE_MODES, MODE_CHANGED, mode_label

CAPITAL_SCALED = "capital_scaled"
LAST_STAGE = "4.1d"


def require(ws: Workspace, before: str, before_level: int | None, mode: str, level: int | None) -> dict[str, Any]:
    """Refuse (GateClosed, exit 3, naming everything missing) a switch from `before` to `mode`
    the ladder does not allow; nothing is written. Returns what the switch rests on, for its
    record ({"scaling_step": event id} for LIVE_SCALED above level 1), else {}."""
    reasons, evidence = refusals(ws, before, before_level, mode, level)
    if reasons:
        raise GateClosed(f"a switch to {mode_label(mode, level)}", reasons)
    return evidence


def refusals(ws: Workspace, before: str, before_level: int | None, mode: str,
             level: int | None) -> tuple[list[str], dict[str, Any]]:
    """(every reason the ladder refuses the switch, what an allowed one rests on)."""
    if mode not in LIVE_MODES:
        return [], {}
    if before in LIVE_MODES and LIMITS[(mode, level)].risk_per_trade < LIMITS[(before, before_level)].risk_per_trade:
        return [], {}
    label = mode_label(mode, level)
    if before == "EMERGENCY_STOP":
        return [f"EMERGENCY_STOP leads only to PAPER: switch to PAPER first (`livegate resume`, or `livegate mode set "
                f"PAPER --reason ...`), then up the ladder again to {label}"], {}
    if mode != "LIVE_SCALED" or level is None:
        return [], {}  # LIVE_MINIMAL: the gate to stage 4.1a, in mode_switch.switch_checks
    reasons: list[str] = []
    current = (before_level or 1) if before == "LIVE_SCALED" else 0
    if level > current + 1:
        reasons.append(f"{label} is more than one level above {mode_label(before, before_level)}: the levels go up one "
                       f"at a time (next: LIVE_SCALED level {current + 1})")
    try:
        snap = gate.snapshot(ws)
    except ConfigError:
        return reasons, {}  # switch_checks names the configuration that does not load, and refuses the switch
    if not snap.state.ledger_ok:
        reasons.append(f"the ledger does not verify ({snap.state.ledger_problem}): nothing in it counts as signed off")
    status, detail = rules.step_status(snap.state, LAST_STAGE)
    if status != "signed":
        reasons.append(f"LIVE_SCALED needs stage {LAST_STAGE} signed off ({LAST_STAGE}: {status}{'; ' + detail if detail else ''}); "
                       f"finish the micro-live stages: `livegate go-live --stage {LAST_STAGE}`, then `livegate signoff "
                       f"{LAST_STAGE} --by NAME`")
    evidence: dict[str, Any] = {}
    if level > 1:
        with queries.reading(ws.ledger_path) as conn:
            step, missing = scaling_step(conn, level - 1)
        if missing:
            reasons.append(f"{label} needs level {level - 1}'s scaling step signed off: {missing}; once level {level - 1} "
                           "meets the scaling rules, run `livegate scale --to AMOUNT` (signed with your key), then switch")
        else:
            evidence["scaling_step"] = step
    return reasons, evidence


def scaling_step(conn: Any, level: int) -> tuple[int | None, str]:
    """(the `capital_scaled` event that is LIVE_SCALED `level`'s scaling step, "") or (None,
    what is missing): the latest capital step since the latest switch to that level, a signed
    step up."""
    entered = next((e for e in queries.events(conn, (MODE_CHANGED,), descending=True)
                    if e["payload"].get("to") == "LIVE_SCALED" and (e["payload"].get("level") or 1) == level), None)
    if entered is None:
        return None, f"the mode has never been LIVE_SCALED level {level}"
    step = next((e for e in queries.events(conn, (CAPITAL_SCALED,), descending=True) if e["id"] > entered["id"]), None)
    since = f"since the switch to LIVE_SCALED level {level} (event #{entered['id']})"
    if step is None:
        return None, f"no capital step up {since}"
    p = step["payload"]
    if p.get("direction") != "up":
        return None, (f"the latest capital step {since} is down (event #{step['id']}: {_amount(p.get('from'))} → "
                      f"{_amount(p.get('to'))})")
    if not p.get("signature"):
        return None, f"the capital step up {since} (event #{step['id']}) carries no signature"
    return step["id"], ""


def _amount(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else str(value)
