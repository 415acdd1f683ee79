"""Order approvals under `EXECUTION_APPROVAL_MODE=approve_each` (seed 000 §3.3).

Every order becomes a pending request in the ledger with an expiry; the operator approves or
rejects it from another terminal (`livegate approvals approve ID`) or at an interactive
prompt. A request nobody decided in time is recorded `expired` and never executes. Each
decision is one ledger event saying who and when; the first decision on a request is final.

Events: `approval_requested` {id, order, context, requested_at, expires_at, expiry_seconds}
and `approval_decided` {id, decision (approved | rejected | expired), by, at, reason}."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from livegate.config.environment import APPROVAL_MODES, load_env
from livegate.config.workspace import Workspace
from livegate.core.errors import ConfigError, KeyMissing, UsageError
from livegate.core.orders import Block, Order
from livegate.core.timeparse import iso_to_ms, ms_to_iso
from livegate.ledger import queries
from livegate.ledger.keys import try_load_private
from livegate.ledger.store import Ledger, default_actor
from livegate.ledger.trust import carries_signature, would_open
from livegate.services.alerts import Alerter

REQUESTED, DECIDED = "approval_requested", "approval_decided"
APPROVE_EACH, AUTO = "approve_each", "auto"  # environment.APPROVAL_MODES
PENDING, APPROVED, REJECTED, EXPIRED = "pending", "approved", "rejected", "expired"
EXPIRER = "livegate"  # `by` of the decisions that record an expiry
_DROPPED_ORDER_FIELDS = ("client_id", "filled", "status")  # not known yet when approval is asked

Clock = Callable[[], float]


def _wall_clock() -> float:
    return time.time()  # looked up at call time, so freezegun's patch applies


@dataclass(frozen=True)
class Approval:
    """One request and its decision (None while undecided). Times are ISO 8601 UTC."""

    id: str
    order: dict[str, Any]
    context: str
    requested_at: str
    expires_at: str
    expiry_seconds: float
    requested_by: str
    decision: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str = ""

    def expired_by(self, now: float) -> bool:
        return now * 1000 >= iso_to_ms(self.expires_at)

    def state(self, now: float) -> str:
        """pending, approved, rejected or expired — an undecided request past its expiry is
        expired even before the cleanup records it."""
        if self.decision:
            return self.decision
        return EXPIRED if self.expired_by(now) else PENDING

    def seconds_left(self, now: float) -> float:
        return max(0.0, iso_to_ms(self.expires_at) / 1000 - now)

    @property
    def summary(self) -> str:
        o = self.order
        price = f" @ {o['price']:g}" if isinstance(o.get("price"), (int, float)) else ""
        return f"{o.get('side', '?')} {o.get('amount', 0):g} {o.get('symbol', '?')} {o.get('type', '?')}{price}"

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state(now), "order": self.order, "summary": self.summary, "context": self.context,
            "requested_at": self.requested_at, "requested_by": self.requested_by, "expires_at": self.expires_at,
            "expiry_seconds": self.expiry_seconds, "decision": self.decision, "decided_by": self.decided_by,
            "decided_at": self.decided_at, "reason": self.reason,
        }


def _iso(now: float) -> str:
    return ms_to_iso(round(now * 1000))


def normalise_id(text: str) -> str:
    """`A-7`, `a-7` and `7` all name request A-7."""
    text = text.strip().upper()
    return f"A-{text}" if text.isdigit() else text


def _collect(events: Iterator[dict[str, Any]], signed: Callable[[dict[str, Any]], bool]) -> dict[str, Approval]:
    """Requests by id, oldest first, each with its first counting decision: an approval counts
    only when the operator's signature covers it (`signed(event)`); a rejection or an expiry
    counts however it was written (it only ever stops an order)."""
    found: dict[str, Approval] = {}
    doubled: set[str] = set()  # ids requested twice: which order an approval would be for is unclear, so none is
    for event in events:
        p = event["payload"]
        if event["kind"] == REQUESTED:
            if p["id"] in found:
                doubled.add(p["id"])
                continue  # the first request keeps the id
            found[p["id"]] = Approval(p["id"], p.get("order", {}), p.get("context", ""), p["requested_at"], p["expires_at"],
                                      p.get("expiry_seconds", 0), event["actor"])
        elif (a := found.get(p.get("id"))) is not None and a.decision is None and (
                not would_open(DECIDED, p) or (a.id not in doubled and signed(event))):
            found[a.id] = _with_decision(a, p)
    return found


def _with_decision(a: Approval, p: dict[str, Any]) -> Approval:
    return Approval(a.id, a.order, a.context, a.requested_at, a.expires_at, a.expiry_seconds, a.requested_by,
                    p.get("decision"), p.get("by"), p.get("at"), p.get("reason", ""))


def _read(conn, ws: Workspace) -> dict[str, Approval]:
    return _collect(queries.events(conn, kinds=(REQUESTED, DECIDED)), lambda event: carries_signature(conn, ws.root, event))


def _all(ws: Workspace) -> dict[str, Approval]:
    with queries.reading(ws.ledger_path) as conn:
        return _read(conn, ws)


@contextmanager
def _locked(ws: Workspace, key=None):
    """The ledger with its write lock held: reading the requests and appending a decision are
    one step, so two terminals (or processes) deciding at once cannot both win."""

    with Ledger.open(ws.ledger_path, key=key) as ledger, ledger.locked():
        yield ledger


def request(ws: Workspace, order: Order, *, expiry_s: float, context: str = "", now: Clock = _wall_clock) -> Approval:
    """Record a pending approval for `order`, expiring `expiry_s` seconds from now."""
    if not isinstance(expiry_s, (int, float)) or isinstance(expiry_s, bool) or not expiry_s > 0:
        raise UsageError(f"the approval expiry must be a positive number of seconds (got {expiry_s!r})")
    order_dict = {k: v for k, v in order.to_dict().items()
                  if k not in _DROPPED_ORDER_FIELDS and not (k == "quote_value" and v is None)}
    t = now()
    with _locked(ws) as ledger:
        number = queries.count_kind(ledger.conn, REQUESTED) + 1
        payload = {"id": f"A-{number}", "order": order_dict, "context": context, "requested_at": _iso(t),
                   "expires_at": _iso(t + expiry_s), "expiry_seconds": expiry_s}
        event = ledger.append(REQUESTED, payload)
    return Approval(payload["id"], event.payload["order"], context, payload["requested_at"], payload["expires_at"], expiry_s, event.actor)


def get(ws: Workspace, approval_id: str) -> Approval:
    """The request named `approval_id`; UsageError when there is none."""
    return _find(_all(ws), approval_id)


def _find(found: dict[str, Approval], approval_id: str) -> Approval:
    key = normalise_id(approval_id)
    if key not in found:
        raise UsageError(f"no approval request {approval_id!r} in this ledger (see `livegate approvals list --all`)")
    return found[key]


def pending(ws: Workspace, now: Clock = _wall_clock) -> list[Approval]:
    """Requests still waiting for a decision and not yet expired, oldest first."""
    t = now()
    return [a for a in _all(ws).values() if a.state(t) == PENDING]


def list_all(ws: Workspace, limit: int | None = None) -> list[Approval]:
    """Every request, newest first (at most `limit`); `Approval.state(now)` gives its state."""
    found = list(_all(ws).values())[::-1]
    return found if limit is None else found[:limit]


def _expiry(a: Approval, now: float) -> dict[str, Any]:
    return {"id": a.id, "decision": EXPIRED, "by": EXPIRER, "at": _iso(now),
            "reason": f"no decision within {a.expiry_seconds:g} s (expired at {a.expires_at})"}


def _expired_message(a: Approval) -> str:
    return f"approval {a.id} ({a.summary}) expired at {a.expires_at} without a decision; it will never execute"


def decide(ws: Workspace, approval_id: str, decision: str, by: str, reason: str = "", *, now: Clock = _wall_clock, key=None) -> Approval:
    """Record `approved` or `rejected` for a pending request. Refused (UsageError) for an unknown
    id, a request already decided, and one past its expiry — which is recorded `expired` first."""
    if decision not in (APPROVED, REJECTED):
        raise UsageError(f"a decision is approved or rejected (got {decision!r})")
    by = (by or "").strip()
    if not by:
        raise UsageError("a decision needs the name of who makes it")
    if decision == APPROVED and key is None:
        key = try_load_private()  # an approval counts only with the operator's signature
    t = now()
    with _locked(ws, key) as ledger:
        a = _find(_read(ledger.conn, ws), approval_id)
        if a.decision is None and a.expired_by(t):
            a = _with_decision(a, ledger.append(DECIDED, _expiry(a, t)).payload)
            refusal = _expired_message(a)
        elif a.decision == EXPIRED:
            refusal = _expired_message(a)
        elif a.decision is not None:
            refusal = f"approval {a.id} was already {a.decision} by {a.decided_by} at {a.decided_at}"
        elif decision == APPROVED and key is None:
            raise KeyMissing("approving an order needs the operator key: an approval written without it lets no order "
                             "through (`livegate keys init`, or LIVEGATE_KEY_DIR). Rejecting needs no key.")
        else:
            payload = {"id": a.id, "decision": decision, "by": by, "at": _iso(t), "reason": reason.strip()}
            return _with_decision(a, ledger.append(DECIDED, payload, actor=by, sign=decision == APPROVED).payload)
    raise UsageError(refusal)  # outside the lock, so a recorded expiry is committed


def _stale(found: dict[str, Approval], now: float) -> list[Approval]:
    return [a for a in found.values() if a.decision is None and a.expired_by(now)]


def expire_stale(ws: Workspace, now: Clock = _wall_clock, key=None) -> list[Approval]:
    """Record `expired` for every undecided request past its expiry (the cleanup); idempotent."""
    t = now()
    if not _stale(_all(ws), t):
        return []  # nothing to write: no write lock taken
    with _locked(ws, key) as ledger:
        stale = _stale(_read(ledger.conn, ws), t)
        events = ledger.append_many([(DECIDED, _expiry(a, t)) for a in stale]) if stale else []
    return [_with_decision(a, e.payload) for a, e in zip(stale, events)]


def wait_for(ws: Workspace, approval_id: str, *, now: Clock = _wall_clock, sleep: Callable[[float], None] = time.sleep,
             poll_s: float = 0.5) -> Approval:
    """Poll the ledger until the request is decided, or record its expiry when time is up.
    Returns the decided request (`.decision` is approved, rejected or expired)."""
    while True:
        a = get(ws, approval_id)
        if a.decision is not None:
            return a
        t = now()
        if a.expired_by(t):
            expired = [e for e in expire_stale(ws, now=lambda: t) if e.id == a.id]  # noqa: B023 - called within this iteration
            return expired[0] if expired else get(ws, approval_id)  # else a decision won the race
        sleep(min(poll_s, max(a.seconds_left(t), 0.001)))


def block_for(a: Approval) -> Block | None:
    """None only for an approved request; otherwise why the order is refused."""
    if a.decision == APPROVED:
        return None
    if a.decision == REJECTED:
        return Block("approval", f"rejected by {a.decided_by}" + (f": {a.reason}" if a.reason else ""))
    return Block("approval", f"expired after {a.expiry_seconds:g} s without a decision")


def operator_name(ws: Workspace, by: str | None = None) -> str:
    """Who decides: `by`, else `workspace.operator` from livegate.yaml, else the OS user."""

    if by and by.strip():
        return by.strip()
    try:
        configured = ws.effective.config.workspace.operator.strip()
    except ConfigError:
        configured = ""  # a broken config must not stop anyone from rejecting an order
    return configured or default_actor()


def approval_mode(env) -> str:
    """EXECUTION_APPROVAL_MODE of a WorkspaceEnv; unset means approve_each (fail safe)."""
    mode = env.get("EXECUTION_APPROVAL_MODE")
    return APPROVE_EACH if mode is None else mode.strip()


Ask = Callable[[Approval], "bool | None"]


def let_through(order: Order) -> Block | None:
    """The `auto` approval: every order passes, nothing is recorded, nobody is waited for."""
    return None


def approval_gate(ws: Workspace, *, mode: str, expiry_s: float, ask: Ask | None = None, context: str = "",
                  now: Clock = _wall_clock, sleep: Callable[[float], None] = time.sleep,
                  poll_s: float = 0.5) -> Callable[[Order], Block | None]:
    """The gateway's `approve` callable. `auto` lets every order through and records nothing;
    `approve_each` records a request per order, asks `ask(approval)` when given (True approve,
    False reject, None: no answer here, wait for another terminal) and otherwise waits for a
    decision until the expiry. Only an approved request returns None."""
    if mode == AUTO:
        return let_through
    if mode != APPROVE_EACH:
        raise UsageError(f"EXECUTION_APPROVAL_MODE must be one of {', '.join(APPROVAL_MODES)} (got {mode!r})")
    decider = operator_name(ws) if ask is not None else ""

    def approve(order: Order) -> Block | None:
        a = request(ws, order, expiry_s=expiry_s, context=context, now=now)
        answer = ask(a) if ask is not None else None
        if answer is None:  # nobody here to answer: tell the operator it waits for them

            Alerter(ws).emit("approval_pending", "warning", f"order waiting for approval: {a.id} {a.summary}",
                             f"livegate approvals approve {a.id}  (expires in {a.expiry_seconds:g} s)", wait=False)
        if answer is not None:
            try:
                a = decide(ws, a.id, APPROVED if answer else REJECTED, decider, now=now)
            except UsageError:
                a = get(ws, a.id)  # expired while asking, or decided from another terminal first
        if a.decision is None:
            a = wait_for(ws, a.id, now=now, sleep=sleep, poll_s=poll_s)
        return block_for(a)

    return approve


def gate_for(ws: Workspace, *, ask: Ask | None = None, context: str = "", environ: dict[str, str] | None = None,
             now: Clock = _wall_clock, sleep: Callable[[float], None] = time.sleep) -> Callable[[Order], Block | None]:
    """`approval_gate` configured from the workspace: the mode from `.env`/the environment,
    the expiry from `approvals.expiry_seconds` in livegate.yaml."""

    mode = approval_mode(load_env(ws.root, environ))
    expiry = ws.effective.config.approvals.expiry_seconds
    return approval_gate(ws, mode=mode, expiry_s=expiry, ask=ask, context=context, now=now, sleep=sleep)
