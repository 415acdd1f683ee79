"""`livegate validate` (phase 1): the environment checks, recorded as the env phase result, and
the operator's signed attestation for an exchange whose key permissions cannot be read."""

from __future__ import annotations

from typing import Any

from livegate.core.errors import UsageError
from livegate.ledger.store import Ledger
from livegate.phases import PhaseContext, run_phase
from livegate.phases.env.plugin import PHASE, attestation_payload, env_of, exchange_where, has_keys, unreachable


def run_validate(ws: Any, key: Any, extras: dict[str, Any] | None = None, record: bool = True) -> tuple[Any, dict[str, Any]]:
    """Run and record phase 1 (`record=False`: measure and judge only, nothing written). Returns
    (result, report); the report's `unreachable` lists the venues that could not be reached (the
    command exits 5 on them), its `gate_notice` what a recorded result did to the env sign-off."""
    extras = {} if extras is None else extras
    effective = ws.effective
    pctx = PhaseContext(ws, effective, "env", extras)
    env_of(pctx).require_valid()  # a value livegate cannot use is a configuration error (exit 2): nothing recorded
    result = run_phase(PHASE, ws, extras=extras, key=key, record=record)
    report = {
        "step": "env",
        "counts_as_phase_result": record,
        "recorded": record,
        "gate_notice": extras.get("gate_notice"),
        "exchange": exchange_where(effective.config.exchange),
        "chain": effective.config.chain.rpc_url if effective.config.chain.enabled else None,
        **result.to_dict(),
        "unreachable": unreachable(pctx),
    }
    return result, report


def attester(ws: Any, by: str | None, extras: dict[str, Any]) -> str:
    """Who attests (refusing when nobody is named or no exchange key is configured to bind it to)."""
    effective = ws.effective
    name = (by or effective.config.workspace.operator or "").strip()
    if not name:
        raise UsageError("--attest-no-withdrawal needs --by NAME (or workspace.operator in livegate.yaml)")
    pctx = PhaseContext(ws, effective, "env", extras)
    env_of(pctx)
    if not has_keys(pctx):
        raise UsageError("--attest-no-withdrawal: set EXCHANGE_API_KEY and EXCHANGE_API_SECRET first (the attestation is bound to the key)")
    return name


def record_attestation(ws: Any, name: str, key: Any, extras: dict[str, Any]) -> int:
    """Append the signed statement about the exchange key's permissions; returns its event id."""
    pctx = PhaseContext(ws, ws.effective, "env", extras)
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("attestation", attestation_payload(pctx), actor=name, sign=True).id
