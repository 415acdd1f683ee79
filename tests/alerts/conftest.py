"""Real receivers for alerts (SPEC §11): a local HTTP server for apprise's json:// and a local
SMTP server (aiosmtpd) for mailto://, both on 127.0.0.1; and workspaces pointing at them."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from livegate.alerts import dispatch
from livegate.workspace import Workspace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpReceiver:
    """Records every POST; answers with the next of `statuses` (then 200), after `hang` seconds."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.hang = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "body": json.loads(raw or b"{}")})
                if receiver.hang:
                    time.sleep(receiver.hang)
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.mails.append(envelope)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
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


def configure(root: Path, destinations: list[dict], retries: int = 2, timeout: float = 2.0, env: dict[str, str] | None = None) -> Workspace:
    """Point the workspace's `alerts:` section at `destinations`; append `env` to its .env."""
    path = root / "livegate.yaml"
    text = path.read_text()
    block = yaml.safe_dump({"destinations": destinations}, default_flow_style=False, sort_keys=False)
    text = text.replace("  destinations: []\n", "".join(f"  {line}\n" for line in block.splitlines()), 1)
    text = text.replace("  retries: 3 ", f"  retries: {retries} ", 1).replace("  timeout_seconds: 5 ", f"  timeout_seconds: {timeout} ", 1)
    path.write_text(text)
    if env:
        with (root / ".env").open("a") as f:
            f.writelines(f"{k}={v}\n" for k, v in env.items())
    return Workspace(root)


def events(root: Path, *kinds: str) -> list[dict]:
    from livegate.ledger.reader import connect_readonly, iter_events

    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return [e["payload"] for e in iter_events(conn, kinds=kinds)]
    finally:
        conn.close()


def ledger_text(root: Path) -> str:
    from livegate.ledger.reader import connect_readonly

    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return "\n".join(row[0] for row in conn.execute("SELECT record FROM events"))
    finally:
        conn.close()
