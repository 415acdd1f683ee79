"""Secrets in alert URLs: a `${NAME}` value is percent-encoded, so a password holding `@host/`
can not move an alert (with its credentials) to that host; and apprise's words about a failed
delivery — which quote the URL and reveal a password's first and last character (`p...d`) —
never reach the screen, the ledger or a log."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, unquote, urlsplit

import pytest

from livegate.config.workspace import Workspace
from livegate.services.alerts import send_alert
from livegate.services.alerts.config import env_lookup, expand, load_alerts
from tests.alerts.conftest import configure, events, free_port

EVIL = "Hq7!wZ@evil.example/x"  # the attacker review's password: `@evil.example/` inside
SECRET = "Kv3$Wq8@evil.example/Tz5%Hn2"  # a distinctive wrong password for the leak tests


def leaks(text: str, secret: str) -> list[str]:
    """Every way `secret` could show in `text`: whole, URL-encoded in any usual way, as apprise
    masks it (first and last character, or the last four), or its distinctive ends."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote(secret, safe="@"), quote(secret, safe="/:@"),
             quote_plus(secret), quote(secret, safe="").lower(), f"{secret[0]}...{secret[-1]}", f"...{secret[-4:]}",
             secret[:5], secret[-5:], quote(secret[:5], safe=""), quote(secret[-5:], safe=""), "evil.example"}
    return sorted(form for form in forms if form in text)


def test_a_password_with_at_host_slash_goes_to_the_local_server_and_stays_the_password(workspace, smtp_receiver):
    import apprise

    smtp_receiver.PASSWORD = EVIL
    ws = configure(workspace, [{"url": smtp_receiver.url()}], retries=0, env={"SMTP_PASSWORD": EVIL})
    naive = smtp_receiver.url(EVIL)  # what plain substitution used to send
    assert apprise.Apprise.instantiate(naive).host == "evil.example"  # the attack is real

    [dest] = load_alerts(ws).section.destinations
    sent = apprise.Apprise.instantiate(expand(dest.url, env_lookup(ws)))
    assert (sent.host, sent.port, sent.smtp_host, sent.user, sent.password) == ("127.0.0.1", smtp_receiver.port, "127.0.0.1", "alerts", EVIL)

    [result] = send_alert(workspace, "critical", "kill switch engaged", "halted", kind="kill_switch")
    assert result["delivered"], result
    assert smtp_receiver.logins == [(b"alerts", EVIL.encode())]  # the server on 127.0.0.1 got the password whole
    [mail] = smtp_receiver.mails
    assert mail.rcpt_tos == ["ops@example.com"]
    assert leaks(json.dumps(events(workspace, "alert_sent")), EVIL) == []


def test_each_reference_stays_one_part_of_the_url():
    values = {"U": "ops@corp/x", "P": "p@ss:w/rd?#%41&=+ ~", "T": "a/b?c#d@e", "Q": "v&w=x#y"}
    url = expand("json://${U}:${P}@127.0.0.1:8080/hook/${T}?token=${Q}&x=1", values.get)
    split = urlsplit(url)
    assert (split.hostname, split.port, split.fragment) == ("127.0.0.1", 8080, "")
    assert unquote(split.username) == values["U"] and unquote(split.password) == values["P"]
    assert [unquote(s) for s in split.path.split("/")] == ["", "hook", values["T"]]
    assert parse_qs(split.query) == {"token": [values["Q"]], "x": ["1"]}


def test_the_readme_examples_still_mean_what_they_say():
    import apprise

    env = {"TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "TELEGRAM_CHAT_ID": "@ops_channel",
           "SMTP_PASSWORD": "s3cr:t@x/y"}
    telegram = apprise.Apprise.instantiate(expand("tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}", env.get))
    assert telegram.bot_token == env["TELEGRAM_BOT_TOKEN"] and [t[0] for t in telegram.targets] == ["@ops_channel"]
    mail = apprise.Apprise.instantiate(expand("mailtos://alerts:${SMTP_PASSWORD}@smtp.example.com?to=ops@example.com", env.get))
    assert (mail.smtp_host, mail.user, mail.password) == ("smtp.example.com", "alerts", env["SMTP_PASSWORD"])


def test_a_reference_that_is_the_whole_url_goes_in_as_written():
    whole = "mailtos://alerts:pw@smtp.example.com?to=ops@example.com"
    assert expand("${ALERT_URL}", {"ALERT_URL": whole}.get) == whole
    assert expand("${ALERT_URL}/${T}", {"ALERT_URL": "json://h", "T": "a/b"}.get) == "json://h/a%2Fb"


def test_a_token_with_slashes_arrives_as_one_path_segment(workspace, http_receiver):
    token = "tk/..%2F?q=1#frag@other.example"
    configure(workspace, [{"url": http_receiver.url("hook/${HOOK_TOKEN}")}], env={"HOOK_TOKEN": token})
    assert send_alert(workspace, "error", "t", "b", kind="k")[0]["delivered"]
    [request] = http_receiver.requests
    segments = request["path"].split("/")
    assert segments[:2] == ["", "hook"] and len(segments) == 3 and unquote(segments[2]) == token


def _livegate(ws: Path, *args: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "livegate", "-w", str(ws), *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def _everything_written(root: Path, home: Path) -> str:
    """The ledger as sqlite3 reads it, and every byte of every file under the workspace and HOME but `.env`."""
    with sqlite3.connect(Workspace(root).ledger_path) as conn:
        rows = [" ".join(map(str, row)) for row in conn.execute("SELECT * FROM events")]
    files = [p for base in (root, home) for p in base.rglob("*") if p.is_file() and p.name != ".env"]
    return "\n".join(rows + [p.read_bytes().decode("utf-8", "replace") for p in files])


@pytest.mark.parametrize(("case", "expected"), [
    ("refused", 'Connection error while submitting email to "127.0.0.1"'),  # AUTH answered 535
    ("closed port", 'Connection error while submitting email to "127.0.0.1"'),
    ("unusable URL", "apprise cannot use this URL"),  # apprise's "Could not load E-Mail URL: mailto://alerts:K...2@…"
])
def test_a_failed_delivery_shows_and_records_no_trace_of_the_password(workspace, smtp_receiver, tmp_path, case, expected):
    port = free_port() if case == "closed port" else smtp_receiver.port
    sender = "not-an-address" if case == "unusable URL" else "bot@example.com"
    url = f"mailto://alerts:${{SMTP_PASSWORD}}@127.0.0.1:{port}?from={sender}&to=ops@example.com"
    configure(workspace, [{"url": url, "min_severity": "critical"}], retries=1, env={"SMTP_PASSWORD": SECRET})

    table = _livegate(workspace, "alert", "test")
    as_json = _livegate(workspace, "alert", "test", "--json")
    assert (table.returncode, as_json.returncode) == (1, 1), table.stdout + table.stderr
    [result] = json.loads(as_json.stdout)["results"]
    assert result["destination"] == "mailto://127.0.0.1" and not result["delivered"]
    assert result["error"].startswith(expected), result["error"]
    assert "Not delivered to 1 of 1 destination(s)." in table.stdout
    if case == "refused":
        assert smtp_receiver.logins[-1] == (b"alerts", SECRET.encode())  # it was really tried, and refused
    failed = events(workspace, "alert_failed")
    assert [e["error"] for e in failed] == [result["error"]] * 2

    for where, text in (("stdout", table.stdout + as_json.stdout), ("stderr", table.stderr + as_json.stderr),
                        ("ledger and files", _everything_written(workspace, tmp_path / "home"))):
        assert leaks(text, SECRET) == [], where
