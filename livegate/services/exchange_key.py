"""The exchange key bound to the env sign-off (SPEC §14), and its withdrawal right checked again
before real money moves.

`livegate validate` records the fingerprint of the exchange API key it checked (read yes, trade
yes, withdraw no) in the env result — `config.environment.exchange_key_fingerprint`, never the
key nor any part of it. Every command that then trades with that key (testnet, go-live, a
production drill) and a switch to a live mode refuse (GateClosed, exit 3) when the key in `.env`
or the environment is another one: its rights were never checked. The fingerprint is read from
the env result the gate itself counts as signed off — the signed one, or a passing re-run under
the same configuration that the sign-off still covers: `validate` run again binds the key it checked.

The env result also keeps what the account held when `validate` read its balance (`baseline_holdings`
in the evidence of `key_can_read`: asset → amount, non-zero only). Those holdings — the operator's
own savings on the same account — are the baseline of the sign-off: the switch to a live mode counts
only what is held above them. The baseline is the one of the result the operator signed (a re-run
does not move it) and belongs to the key it was read with; none was read, none applies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livegate.adapters.exchange.permissions import can_read_permissions, read_permissions
from livegate.adapters.exchange.retry import Retry
from livegate.config.environment import WorkspaceEnv
from livegate.core.errors import GateClosed
from livegate.ledger import queries

FINGERPRINT_FIELD = "exchange_key_fingerprint"  # in the evidence of the env result's `api_keys_present`
KEY_CHECK = "api_keys_present"
BASELINE_FIELD = "baseline_holdings"  # in the evidence of the env result's `key_can_read`
BASELINE_CHECK = "key_can_read"
KEY_CHANGED = "the exchange key changed since the env sign-off: run validate again"
NOT_RECORDED = ("the exchange key changed since the env sign-off: run validate again (that sign-off recorded no "
                "exchange key fingerprint: it predates livegate binding the key to it)")


def key_evidence(env: WorkspaceEnv, exchange_id: str) -> dict[str, str | None]:
    """What the env result keeps of the exchange key: its fingerprint (None when no key is set)."""
    return {FINGERPRINT_FIELD: env.exchange_key_fingerprint(exchange_id)}


def signed_fingerprint(ws: Any, snap: Any) -> tuple[bool, str | None] | None:
    """The fingerprint the env result the gate counts as signed off recorded (`result_event`
    of the gate's record: the latest counting result, covered by the sign-off), as (recorded at
    all, value); None when the env step is not signed off (the gate refuses that on its own)."""
    record = snap.state.records.get("env")
    if record is None or record.signed_by is None or record.result_event is None:
        return None
    evidence = _evidence(ws, record.result_event).get(KEY_CHECK)
    if not isinstance(evidence, dict) or FINGERPRINT_FIELD not in evidence:
        return False, None
    return True, evidence[FINGERPRINT_FIELD]


def signed_baseline(ws: Any, env: WorkspaceEnv, snap: Any) -> dict[str, float]:
    """The holdings recorded by the env result the operator signed off (asset → amount), when
    that result read them with the exchange key in use now; {} otherwise (no sign-off, nothing
    read, another key): then every holding counts."""
    record = snap.state.records.get("env")
    if record is None or record.signed_by is None or record.signed_result is None:
        return {}
    evidence = _evidence(ws, record.signed_result)
    keys, read = evidence.get(KEY_CHECK), evidence.get(BASELINE_CHECK)
    holdings = read.get(BASELINE_FIELD) if isinstance(read, dict) else None
    fingerprint = env.exchange_key_fingerprint(snap.effective.config.exchange.id)
    if not isinstance(holdings, dict) or not isinstance(keys, dict) or fingerprint is None or keys.get(FINGERPRINT_FIELD) != fingerprint:
        return {}
    return {str(asset): float(amount) for asset, amount in holdings.items()
            if isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount > 0}


def _evidence(ws: Any, event_id: int) -> dict[str, Any]:
    """The evidence of each check of the env result `event_id`, by criterion."""
    with queries.reading(ws.ledger_path) as conn:
        event = queries.event_by_id(conn, event_id, "phase_result")
    checks = (event or {}).get("payload", {}).get("checks") or []
    return {c.get("criterion"): c.get("evidence") for c in checks if isinstance(c, dict)}


def binding_problem(ws: Any, env: WorkspaceEnv, snap: Any) -> str | None:
    """Why the exchange key in use is not the one signed off with the env phase, or None."""
    signed = signed_fingerprint(ws, snap)
    if signed is None:
        return None
    recorded, fingerprint = signed
    if not recorded:
        return NOT_RECORDED
    if env.exchange_key_fingerprint(snap.effective.config.exchange.id) != fingerprint:
        return KEY_CHANGED
    return None


def require_bound_key(ws: Any, env: WorkspaceEnv, snap: Any, doing: str) -> None:
    """GateClosed (exit 3) for `doing` when the exchange key is not the one of the env sign-off."""
    problem = binding_problem(ws, env, snap)
    if problem is not None:
        raise GateClosed(doing, [problem])


def require_no_withdrawal(client: Any, section: Any, doing: str,
                          sleep: Callable[[float], None] = time.sleep) -> dict[str, Any] | None:
    """Ask the exchange again, as validate did, what the key may do; GateClosed (exit 3) for
    `doing` when it may move funds out. Returns the evidence, or None when the venue cannot be
    asked: a testnet (no permission endpoint) or an exchange whose keys the operator attested
    for at validate — that attestation is bound to this same key. A venue that does not answer
    raises VenueUnreachable (exit 5): nothing starts."""
    if section.testnet or not can_read_permissions(client.id):
        return None
    retry = Retry(attempts=3, base_delay=0.25, sleep=sleep, venue=client.id, client=client, then="nothing was started")
    perms = read_permissions(client, retry)
    if perms.withdraw is not False:
        rights = ", ".join(perms.withdraw_rights) or ("withdrawals" if perms.withdraw else "not reported")
        raise GateClosed(doing, [f"the exchange key can move funds out ({rights}, {perms.source}): create a key without "
                                 "withdrawal and transfer rights, then run validate again"])
    return perms.evidence()
