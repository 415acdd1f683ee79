"""Critical alerts wait for a person. `livegate alert ack ID` records who saw one
(`alert_acknowledged`: who, when, a note); until then `resend_unacknowledged`, called on every
turn of a running loop, sends it again every `alerts.resend_critical_minutes` (each re-send
recorded as `alert_resent`, its deliveries as `alert_sent` / `alert_failed` under the same id).

Everything is decided from the ledger: a restarted process re-sends on time, never twice within
the interval, and never after the acknowledgement. Memory only remembers when there is surely
nothing to do yet, so a loop does not read the ledger on every turn."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError
from livegate.core.formats import when
from livegate.ledger import queries
from livegate.ledger.store import Ledger
from livegate.services.alerts.dispatch import Alerter, ack_hint, needs_ack

SENT = ("alert_sent", "alert_failed")
RESENT = "alert_resent"
ACKNOWLEDGED = "alert_acknowledged"
RESEND_FAILED = "alert_resend_failed"
MIN_PREFIX = 6  # `alert ack` takes a unique prefix of an id this long or longer
RETRY_AFTER_ERROR_S = 300.0  # a failed re-send check is tried again (and recorded again) after this long

_next_look: dict[str, float] = {}  # ledger path -> time before which no alert can be due


@dataclass
class AlertRecord:
    """One alert as the ledger knows it: its first sending, re-sends, deliveries, acknowledgement."""

    id: str
    kind: str
    severity: str
    title: str
    first_at: str  # ledger time of its first record (ISO, UTC)
    last_sent_ms: int  # when it was last sent or re-sent
    delivered: dict[str, bool] = field(default_factory=dict)  # destination -> its latest delivery went through
    resends: int = 0
    ack: dict[str, Any] | None = None  # {by, at, note}

    @property
    def needs_ack(self) -> bool:
        return needs_ack(self.kind, self.severity)

    @property
    def state(self) -> str:
        """acknowledged | waiting (critical, not acknowledged) | no ack needed."""
        if not self.needs_ack:
            return "no ack needed"
        return "acknowledged" if self.ack else "waiting"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "severity": self.severity, "title": self.title, "first_sent": self.first_at,
                "delivered": self.delivered, "resends": self.resends, "state": self.state, "acknowledged": self.ack}


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _read(conn) -> dict[str, AlertRecord]:
    """Every alert of the ledger by id, in the order they were first recorded."""
    found: dict[str, AlertRecord] = {}
    for event in queries.events(conn, (*SENT, RESENT, ACKNOWLEDGED)):
        p, kind = event["payload"], event["kind"]
        alert_id = p.get("alert_id")
        if not isinstance(alert_id, str):
            continue
        record = found.get(alert_id)
        if kind in SENT:
            if record is None:
                record = found[alert_id] = AlertRecord(alert_id, str(p.get("kind")), str(p.get("severity")), str(p.get("title", "")),
                                                       event["ts"], _ms(event["ts"]))
            record.delivered[str(p.get("destination"))] = kind == "alert_sent"
        elif record is not None and kind == RESENT:
            record.resends = max(record.resends, int(p.get("resend") or 0))
            record.last_sent_ms = max(record.last_sent_ms, int(p.get("resent_ms") or 0))
        elif record is not None and kind == ACKNOWLEDGED and record.ack is None:
            record.ack = {"by": p.get("by"), "at": p.get("at"), "note": p.get("note", "")}
    return found


def list_alerts(ws: Workspace, *, waiting_only: bool = False, limit: int | None = None) -> list[AlertRecord]:
    """The alerts of the ledger, newest first (at most `limit`); `waiting_only`: the critical
    ones nobody acknowledged."""
    with queries.reading(ws.ledger_path) as conn:
        found = list(_read(conn).values())[::-1]
    if waiting_only:
        found = [r for r in found if r.state == "waiting"]
    return found if limit is None else found[:limit]


def _find(found: dict[str, AlertRecord], alert_id: str) -> AlertRecord:
    wanted = alert_id.strip().lower()
    if wanted in found:
        return found[wanted]
    matches = [r for key, r in found.items() if len(wanted) >= MIN_PREFIX and key.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(f"{alert_id!r} is the start of {len(matches)} alert ids; give more of it (see `livegate alert list`)")
    raise UsageError(f"no alert {alert_id!r} in this ledger (see `livegate alert list`)")


def acknowledge(ws: Workspace, alert_id: str, by: str, note: str = "", *, key=None,
                now: Callable[[], float] = time.time) -> tuple[AlertRecord, bool]:
    """Record that `by` saw the critical alert `alert_id` (its id, or a unique start of it of at
    least MIN_PREFIX characters): it is not sent again. Returns (the alert, whether this call
    acknowledged it: False when it already was). UsageError for an unknown id, an alert that
    is not critical, a test alert, or no name. Signed with the operator key when given."""
    by = (by or "").strip()
    if not by:
        raise UsageError("an acknowledgement needs the name of who gives it")
    with Ledger.open(ws.ledger_path, key=key) as ledger, ledger.locked():  # two acks at once: one records
        record = _find(_read(ledger.conn), alert_id)
        if record.kind == "test":
            raise UsageError(f"alert {record.id} is a test alert: it needs no acknowledgement")
        if not record.needs_ack:
            raise UsageError(f"alert {record.id} is {record.severity} ({record.title}): only critical alerts are acknowledged "
                             "(they are the ones sent again until someone does)")
        if record.ack is not None:
            return record, False
        at = datetime.fromtimestamp(now(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        payload = {"alert_id": record.id, "kind": record.kind, "severity": record.severity, "title": record.title,
                   "by": by, "at": at, "note": note.strip()}
        ledger.append(ACKNOWLEDGED, payload, actor=by, sign=key is not None)
        record.ack = {"by": by, "at": at, "note": payload["note"]}
        return record, True


def resend_unacknowledged(ws: Workspace, now: float, *, alerter: Alerter | None = None) -> list[str]:
    """Send again every critical alert nobody acknowledged whose last sending is at least
    `alerts.resend_critical_minutes` old at `now` (seconds since the epoch); each re-send is
    recorded before it leaves, and delivered in the background. Returns the ids re-sent. Cheap
    between due times (no ledger read). Never raises: a failure is recorded as a warning
    (`alert_resend_failed`) and tried again RETRY_AFTER_ERROR_S later."""
    path = str(ws.ledger_path)
    try:
        if now < _next_look.get(path, float("-inf")):
            return []
        alerter = alerter or Alerter(ws)
        minutes = alerter.settings().section.resend_critical_minutes
        if not minutes:
            _next_look[path] = now + RETRY_AFTER_ERROR_S  # turned off; the setting is read once per process anyway
            return []
        interval_ms, now_ms = int(minutes * 60_000), int(now * 1000)
        with queries.reading(ws.ledger_path) as conn:
            waiting = [r for r in _read(conn).values() if r.state == "waiting"]
        due = [r for r in waiting if now_ms - r.last_sent_ms >= interval_ms]
        if due:
            rows = [(RESENT, {"alert_id": r.id, "kind": r.kind, "severity": r.severity, "title": r.title,
                              "resend": r.resends + 1, "resent_ms": now_ms}) for r in due]
            with Ledger.open(ws.ledger_path, key=alerter.key) as ledger:  # recorded first: the next turn sees it
                ledger.append_many(rows)
            for r in due:
                body = (f"Not acknowledged yet: first sent {when(r.first_at)} UTC, sent again {r.resends + 1} "
                        f"time{'s' if r.resends else ''}.\n\n{ack_hint(r.id, minutes)}")
                alerter.emit(r.kind, r.severity, f"still not acknowledged: {r.title}", body, wait=False,
                             alert_id=r.id, resend=r.resends + 1)
        # anything recorded from now on is due an interval from now at the earliest
        resent = {r.id for r in due}
        later = [r.last_sent_ms + interval_ms for r in waiting if r.id not in resent]
        _next_look[path] = min([*later, now_ms + interval_ms]) / 1000
        return [r.id for r in due]
    except Exception as exc:  # noqa: BLE001 - a running loop must never stop for a reminder
        _next_look[path] = now + RETRY_AFTER_ERROR_S
        with contextlib.suppress(Exception), Ledger.open(ws.ledger_path, key=getattr(alerter, "key", None)) as ledger:
            ledger.append(RESEND_FAILED, {"severity": "warning", "error": f"{type(exc).__name__}: {exc}"[:300],
                                          "retry_after_s": RETRY_AFTER_ERROR_S})  # (the ledger may be what failed)
        return []
