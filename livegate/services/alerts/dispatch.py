"""Sending an alert: to every destination whose `min_severity` it reaches (delivered by
`livegate.adapters.notify`, through apprise), retried, each outcome recorded in the ledger —
and never raising, so an alert can not stop trading. A URL is never shown, logged or
recorded: destinations go by their label."""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from livegate.adapters.notify import attempt as _attempt
from livegate.config.models import SEVERITIES, AlertDestination, alert_url_label
from livegate.config.workspace import CONFIG_FILE, Workspace
from livegate.core.errors import ConfigError
from livegate.core.redact import MASK, redact_foreign, redact_text, url_forms
from livegate.core.retry import Backoff, RetriesExhausted, call_with_retries
from livegate.ledger.store import Ledger
from livegate.services.alerts.config import AlertSettings, env_lookup, expand, load_alerts

RANK = {name: i for i, name in enumerate(SEVERITIES)}
BACKOFF_SECONDS = 0.5  # before the 2nd attempt; doubled each time, at most MAX_BACKOFF_SECONDS (core.retry.Backoff)
MAX_BACKOFF_SECONDS = 4.0
MAX_ERROR_CHARS = 300
ACK_SEVERITY = "critical"


def new_alert_id() -> str:
    """The short id an alert goes by in the ledger, in `livegate alert list` and in its own text."""
    return uuid.uuid4().hex[:12]


def needs_ack(kind: str, severity: str) -> bool:
    """A critical alert waits for `livegate alert ack`; a test alert only proves delivery and needs none."""
    return severity == ACK_SEVERITY and kind != "test"


def ack_hint(alert_id: str, resend_minutes: float) -> str:
    """The line a critical alert ends with: how to acknowledge it, and what happens until then."""
    then = f"; until then it is sent again every {resend_minutes:g} minutes" if resend_minutes else ""
    return f"Acknowledge it with: livegate alert ack {alert_id}{then}."

def _scrub(text: str, template: str, url: str) -> str:
    """apprise's words about a failed delivery (or an exception's), safe to show and record:
    every URL in them cut to the destination's label (`scheme://host`, or the scheme alone
    where the host is a token), every part of this URL that may be a secret (user, password,
    path, query values) and every secret value masked in any URL form, and what apprise masked
    only in part (`p...d`) masked whole; shortened."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = {template, url}
    try:
        split = urlsplit(url)
        raw = {split.username or "", split.password or "", *split.path.split("/"), *(v for _, v in parse_qsl(split.query))}
        if alert_url_label(template).endswith("…"):
            raw.add(split.hostname or "")
        raw |= {piece for part in list(raw) for piece in re.split(r"[\s,;]+", unquote(part))}  # apprise splits lists: each item too
        parts |= {form for part in raw for form in url_forms(unquote(part))}
    except ValueError:
        pass
    text = " ".join(text.split())
    if len(text) > 4 * MAX_ERROR_CHARS:  # far more than is kept; the word cut in two goes too
        text = text[: 4 * MAX_ERROR_CHARS].rpartition(" ")[0]
    for part in sorted((p for p in parts if len(p) >= 4), key=len, reverse=True):
        text = text.replace(part, MASK)
    text = redact_foreign(text, url=alert_url_label(url if template.startswith("${") else template))
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _deliver(label: str, dest: AlertDestination, settings: AlertSettings, lookup, title: str, body: str, severity: str) -> dict:
    result = {"destination": label, "min_severity": dest.min_severity, "delivered": False, "attempts": 0, "error": None}
    try:
        url = expand(dest.url, lookup)
    except ConfigError as exc:
        result["error"] = str(exc)
        return result
    timeout = settings.section.timeout_seconds

    def send() -> None:
        result["attempts"] += 1
        outcome = _attempt(url, title, body, severity, timeout)
        if outcome is not None:
            result["error"] = _scrub(outcome[0], dest.url, url)
            raise _Undelivered(worth_retrying=outcome[1])
        result.update(delivered=True, error=None)

    try:
        call_with_retries(send, attempts=settings.section.retries + 1, sleep=time.sleep,
                          backoff=Backoff(BACKOFF_SECONDS, cap=MAX_BACKOFF_SECONDS),
                          retryable=lambda exc: isinstance(exc, _Undelivered) and exc.worth_retrying)
    except (_Undelivered, RetriesExhausted):
        pass  # not delivered: `result` says why
    return result


class _Undelivered(Exception):
    """One failed delivery attempt (its reason is in the result already)."""

    def __init__(self, worth_retrying: bool):
        super().__init__("not delivered")
        self.worth_retrying = worth_retrying


def _append(ws: Workspace, key, rows: list[tuple[str, dict]]) -> None:
    """Best effort: a ledger that cannot be written must not turn an alert into a crash."""

    try:
        with Ledger.open(ws.ledger_path, key=key) as ledger:
            ledger.append_many(rows)
    except Exception:  # noqa: BLE001 - recorded where possible, never raised
        pass


def _as_workspace(ws_or_root: Workspace | str | Path) -> Workspace:
    return ws_or_root if isinstance(ws_or_root, Workspace) else Workspace(Path(ws_or_root))


class Alerter:
    """A workspace's alert sender, cheap to create and to hold: livegate.yaml is read at the
    first `emit`, and with no destination configured `emit` does nothing at all. `key` (the
    operator key, optional) signs the ledger head after each record."""

    def __init__(self, ws_or_root: Workspace | str | Path, *, key=None):
        self.ws = _as_workspace(ws_or_root)
        self.key = key
        self._settings: AlertSettings | None = None
        self._problem: ConfigError | None = None
        self._pending: list[threading.Thread] = []

    def settings(self) -> AlertSettings:
        """The alert settings (read once). Raises ConfigError when the alerts section is broken."""
        if self._settings is None and self._problem is None:
            try:
                self._settings = load_alerts(self.ws)
            except ConfigError as exc:
                self._problem = exc
        if self._problem is not None:
            raise self._problem
        return self._settings

    def emit(self, kind: str, severity: str, title: str, body: str = "", *, every_destination: bool = False, wait: bool = True,
             alert_id: str | None = None, resend: int = 0) -> list[dict]:
        """Send to each destination whose min_severity `severity` reaches (all of them with
        `every_destination`). Returns one result per destination tried: destination (label),
        min_severity, delivered, attempts, error. With `wait=False` delivery runs in a
        background thread and this returns [] at once (`drain` waits for it). Never raises.
        Each destination's outcome is recorded under the alert's id (new unless `alert_id`
        is given: the `resend`-th re-send of that alert); a critical alert's text ends with
        how to acknowledge it."""
        severity = severity if severity in RANK else "critical"  # an unknown severity must not go unnoticed
        alert_id = alert_id or new_alert_id()
        try:
            settings = self.settings()
        except ConfigError as exc:
            failed = {"destination": CONFIG_FILE, "min_severity": None, "delivered": False, "attempts": 0,
                      "error": "alerts not sent: " + "; ".join(exc.problems[:3])}
            self._record(kind, severity, title, [failed], alert_id, resend)
            return [failed]
        except Exception as exc:  # noqa: BLE001 - last line of defence
            return [{"destination": CONFIG_FILE, "min_severity": None, "delivered": False, "attempts": 0,
                     "error": f"alerts not sent: {type(exc).__name__}"}]
        targets = [(label, d) for label, d in settings.destinations if every_destination or RANK[severity] >= RANK[d.min_severity]]
        if not targets:
            return []
        if needs_ack(kind, severity) and not resend:
            body = f"{body}\n\n{ack_hint(alert_id, settings.section.resend_critical_minutes)}".strip()
        args = (settings, targets, kind, severity, title, body, alert_id, resend)
        if not wait:
            # Not a daemon: a process that ends right after still delivers (bounded by retries x timeout).
            thread = threading.Thread(target=self._send, args=args, name="livegate-alerts")
            thread.start()
            self._pending = [t for t in self._pending if t.is_alive()] + [thread]
            return []
        return self._send(*args)

    def test(self, severity: str = "info") -> list[dict]:
        """A test alert (kind `test`) to every destination, whatever its min_severity: a test
        must prove each one works. Never raises."""
        body = ("A test alert from livegate. If you can read this, alerts reach this destination "
                f"(sent as {severity}; real alerts come here from its min_severity up).")
        return self.emit("test", severity, "test alert", body, every_destination=True)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for alerts sent with `wait=False`."""
        for thread in self._pending:
            thread.join(timeout)
        self._pending = [t for t in self._pending if t.is_alive()]

    def _send(self, settings: AlertSettings, targets, kind: str, severity: str, title: str, body: str, alert_id: str,
              resend: int) -> list[dict]:
        try:
            lookup = env_lookup(self.ws)
            subject = redact_text(f"[{severity.upper()}] {settings.workspace}: {title}")
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            text = redact_text(f"{body}\n\n— livegate · {kind} · {stamp}".strip())
            with ThreadPoolExecutor(max_workers=min(8, len(targets)), thread_name_prefix="livegate-alert") as pool:
                results = list(pool.map(lambda t: _deliver(t[0], t[1], settings, lookup, subject, text, severity), targets))
        except Exception as exc:  # noqa: BLE001 - last line of defence
            results = [{"destination": label, "min_severity": d.min_severity, "delivered": False, "attempts": 0,
                        "error": f"internal error: {type(exc).__name__}"} for label, d in targets]
        self._record(kind, severity, title, results, alert_id, resend)
        return results

    def _record(self, kind: str, severity: str, title: str, results: list[dict], alert_id: str, resend: int) -> None:
        rows = []
        for r in results:
            payload = {"alert_id": alert_id, "kind": kind, "severity": severity, "title": title[:200],
                       "destination": r["destination"], "attempts": r["attempts"], **({"resend": resend} if resend else {})}
            if not r["delivered"]:
                payload["error"] = r["error"]
            rows.append(("alert_sent" if r["delivered"] else "alert_failed", payload))
        _append(self.ws, self.key, rows)


def send_alert(ws_or_root: Workspace | str | Path, severity: str, title: str, body: str = "", *, kind: str, key=None) -> list[dict]:
    """Send one alert now (see `Alerter.emit`); never raises."""
    return Alerter(ws_or_root, key=key).emit(kind, severity, title, body)


def send_test_alert(ws_or_root: Workspace | str | Path, severity: str = "info", *, key=None) -> list[dict]:
    """A test alert to every destination, whatever its min_severity (see `Alerter.test`); never raises."""
    return Alerter(ws_or_root, key=key).test(severity)
