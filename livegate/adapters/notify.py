"""Delivering one notification through apprise (webhook, Discord, Telegram, Slack, e-mail):
the only module that imports apprise, lazily. apprise's own log lines go to the attempt that
caused them, never to stderr or a log file."""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import Any

# apprise NotifyType values for livegate's severities
NOTIFY_TYPE = {"info": "info", "warning": "warning", "error": "failure", "critical": "failure"}

# apprise logs why a delivery failed; each attempt collects its own lines through this.
_sink: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("livegate_alert_log", default=None)
_route_lock = threading.Lock()
_routed = False


class _Route(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = _sink.get()
        if sink is not None and record.levelno >= logging.WARNING:
            sink.append(record.getMessage())


def _route_apprise_log() -> None:
    """apprise's log goes to the attempt that caused it, never to stderr or a log file."""
    global _routed
    with _route_lock:
        if not _routed:
            logger = logging.getLogger("apprise")
            logger.addHandler(_Route())
            logger.propagate = False
            _routed = True


def _notify(url: str, title: str, body: str, notify_type: str, timeout: float) -> tuple[str, bool] | None:
    """One delivery through apprise: None when delivered, else (why not, worth retrying)."""
    import apprise

    _route_apprise_log()
    asset = apprise.AppriseAsset(async_mode=False)  # in this thread: its log lines stay ours
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        return "apprise cannot use this URL (unknown scheme, or a required part missing)", False
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    sender = apprise.Apprise(asset=asset)
    sender.add(plugin)
    if sender.notify(body=body, title=title, notify_type=notify_type, body_format=apprise.NotifyFormat.TEXT):
        return None
    return "apprise reported a failure", True


def attempt(url: str, title: str, body: str, severity: str, timeout: float) -> tuple[str, bool] | None:
    """`_notify` in a thread of its own, waited for at most `timeout` seconds (a plugin that
    ignores its socket timeouts must not hold trading up); any exception is a failure.
    The reason is apprise's (or the exception's) own words, which may quote the URL or part of
    a password (`p...d`): never show it without `services.alerts.dispatch._scrub`."""
    box: dict[str, Any] = {}

    def run() -> None:
        lines: list[str] = []
        _sink.set(lines)
        try:
            box["outcome"] = _notify(url, title, body, NOTIFY_TYPE[severity], timeout)
        except Exception as exc:  # noqa: BLE001 - a plugin's exception is a failed delivery
            box["outcome"] = (f"{type(exc).__name__}: {exc}", True)
        if box["outcome"] is not None and lines:  # apprise's own words say more: "... error=500", "Connection refused"
            why, retry = box["outcome"]
            box["outcome"] = (lines[-1] if retry else f"{why} ({lines[-1]})", retry)

    worker = threading.Thread(target=run, name="livegate-alert", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"no answer within {timeout:g} s", True
    return box["outcome"]
