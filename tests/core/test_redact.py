"""Redaction of secrets in their URL forms, and of another library's words (apprise's log lines,
exceptions) that quote a URL or reveal part of a password."""

from __future__ import annotations

import pytest

from livegate.core.canonical import canonical_json
from livegate.core.redact import MASK, may_hold_secret, redact, redact_foreign, redact_text, register_secret, url_forms


def test_url_forms_cover_the_encodings_a_url_may_carry():
    assert url_forms("p@ss/w:rd?") >= {"p@ss/w:rd?", "p%40ss%2Fw%3Ard%3F", "p%40ss/w%3Ard%3F", "p@ss/w:rd%3F", "p%40ss%2fw%3ard%3f"}
    assert url_forms("plain-token") == {"plain-token"}
    assert url_forms("a%41bc") >= {"a%41bc", "aAbc", "a%2541bc"}


def test_a_registered_secret_is_masked_in_every_url_form():
    register_secret("Rg5@evil.example/Yb8")
    for form in ("Rg5@evil.example/Yb8", "Rg5%40evil.example%2FYb8", "Rg5%40evil.example/Yb8", "Rg5%40evil.example%2fYb8"):
        assert redact_text(f"x {form} y") == f"x {MASK} y"


@pytest.mark.parametrize(("text", "shown"), [
    # apprise's own lines, as it writes them (secure logging masks only the middle of a word)
    ("Could not load E-Mail URL: mailto://alerts:K...2@1...1:2525?from=n...s&to=o...m", "Could not load E-Mail URL: mailto://host"),
    ("(Could not load JSON URL: json://u:Z...5@1...1:2/h?method=ZAP)", "(Could not load JSON URL: mailto://host)"),
    ("JSON POST URL: http://127.0.0.1:45635/hook/Zr8%23kP2@evil.example%2Fwq5 (cert_verify=True)", "JSON POST URL: mailto://host (cert_verify=True)"),
    ("Max retries exceeded with url: /hook/Zr8%23kP2@evil.example%2Fwq5 (Caused by X)", "Max retries exceeded with url: *** (Caused by X)"),
    ("Failed to send Telegram notification to 1...9: token ...Hn2x", "Failed to send Telegram notification to *** token ***"),
    # what must stay readable
    ('Connection error while submitting email to "127.0.0.1"', 'Connection error while submitting email to "127.0.0.1"'),
    ("Failed to send JSON notification to 127.0.0.1: Internal Server Error error=500.", "Failed to send JSON notification to 127.0.0.1: Internal Server Error error=500."),
    ("Connecting to remote SMTP server... HTTP/1.1 and/or", "Connecting to remote SMTP server... HTTP/1.1 and/or"),
])
def test_foreign_text_keeps_no_url_material(text, shown):
    assert redact_foreign(text, url="mailto://host") == shown


@pytest.mark.parametrize("secret", ['pa"ss\\word-123', "sk-ünïcode-42", "line\nbreak-secret", "plain-secret-9"])
def test_may_hold_secret_finds_a_secret_however_json_spells_it(secret):
    payload = {"order": {"note": f"before {secret} after", "qty": 1}, "list": [1, 2]}
    assert may_hold_secret(canonical_json(payload), [secret])
    assert redact(payload, [secret])["order"]["note"] == "before *** after"
    assert not may_hold_secret(canonical_json({"order": {"note": "nothing here", "qty": 1}}), [secret])


@pytest.mark.parametrize("key", ["api_key", "EXCHANGE_API_SECRET", "smtp_password", "my_key", "webhook",
                                 "Mnemonic", "näme_token",  # another script elsewhere in the text
                                 "my_\u212aey", "PR\u0130VATE_x", "\u017fecret"])  # a Kelvin sign, a dotted İ, a long s: what the key check finds too
def test_may_hold_secret_sees_a_secret_looking_key(key):
    assert redact({key: "value-of-it"}, [])[key] != "value-of-it"  # what the full walk masks ...
    assert may_hold_secret(canonical_json({"nested": [{key: "value-of-it"}]}), [])
