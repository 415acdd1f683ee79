"""Real receivers for alerts (SPEC §11): a local HTTP server for apprise's json:// and a local
SMTP server (aiosmtpd) for mailto://, both on 127.0.0.1; and workspaces pointing at them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from livegate.config.workspace import Workspace
from livegate.services.alerts import dispatch
from livegate.services.alerts.receiver import LocalReceiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpReceiver(LocalReceiver):
    """The local `json://` receiver (records every POST; `statuses` and `hang` make it fail or stall)."""


def _running(receiver):
    yield receiver
    receiver.close()


@pytest.fixture
def http_receiver():
    yield from _running(HttpReceiver())


class SmtpReceiver:
    """aiosmtpd with AUTH on a plain connection (user `alerts`, password `smtp-pass-42`)."""

    USER, PASSWORD = "alerts", "smtp-pass-42"

    def __init__(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.mails: list = []
        self.logins: list[tuple[bytes, bytes]] = []  # (user, password) of every AUTH, as the server got it
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.mails.append(envelope)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            receiver.logins.append((auth_data.login, auth_data.password))
            ok = auth_data.login == self.USER.encode() and auth_data.password == self.PASSWORD.encode()
            return AuthResult(success=ok, handled=False)  # handled=True on failure hangs the client

        self.port = free_port()  # aiosmtpd needs the port up front
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate, auth_require_tls=False)
        self.controller.start()

    def url(self, password: str = "${SMTP_PASSWORD}") -> str:
        return f"mailto://{self.USER}:{password}@127.0.0.1:{self.port}?from=bot@example.com&to=ops@example.com"

    def close(self):
        self.controller.stop()


@pytest.fixture
def smtp_receiver():
    yield from _running(SmtpReceiver())


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(dispatch, "BACKOFF_SECONDS", 0.01)


def configure(root: Path, destinations: list[dict], retries: int = 2, timeout: float = 2.0, env: dict[str, str] | None = None,
              resend_minutes: float = 15) -> Workspace:
    """Point the workspace's `alerts:` section at `destinations`; append `env` to its .env."""
    path = root / "livegate.yaml"
    text = path.read_text()
    block = yaml.safe_dump({"destinations": destinations}, default_flow_style=False, sort_keys=False)
    text = text.replace("  destinations: []\n", "".join(f"  {line}\n" for line in block.splitlines()), 1)
    text = text.replace("  retries: 3 ", f"  retries: {retries} ", 1).replace("  timeout_seconds: 5 ", f"  timeout_seconds: {timeout} ", 1)
    assert "  resend_critical_minutes: 15 " in text
    text = text.replace("  resend_critical_minutes: 15 ", f"  resend_critical_minutes: {resend_minutes:g} ", 1)
    path.write_text(text)
    if env:
        with (root / ".env").open("a") as f:
            f.writelines(f"{k}={v}\n" for k, v in env.items())
    return Workspace(root)


def events(root: Path, *kinds: str) -> list[dict]:
    from livegate.ledger.queries import connect_readonly
    from livegate.ledger.queries import events as iter_events

    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return [e["payload"] for e in iter_events(conn, kinds=kinds)]
    finally:
        conn.close()


def ledger_text(root: Path) -> str:
    from livegate.ledger.queries import connect_readonly

    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return "\n".join(row[0] for row in conn.execute("SELECT record FROM events"))
    finally:
        conn.close()
