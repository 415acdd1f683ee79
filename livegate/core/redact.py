"""Keep secrets out of everything livegate writes or prints.

Secret *values* come from the environment and `.env` (names that look like keys, secrets,
passwords, tokens, private keys); any text or payload passed through here has them masked.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSPHRASE|PRIVATE|TOKEN|API_KEY|APIKEY|_KEY$|WEBHOOK|MNEMONIC)", re.I)
_extra: set[str] = set()
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def url_forms(value: str) -> set[str]:
    """`value` as a URL may carry it: itself, percent-encoded (all of it, or keeping `/` or `:@`,
    upper or lower case hex), form-encoded, and decoded. Forms shorter than 4 characters are left out."""
    forms = {value, value.strip(), repr(value)[1:-1]}  # as pasted with a newline, and as an error message quotes it
    for encoded in (quote(value, safe=""), quote(value, safe="/"), quote(value, safe="/:@"), quote_plus(value)):
        forms |= {encoded, _ESCAPE.sub(lambda m: m[0].lower(), encoded)}
    if "%" in value:
        forms.add(unquote(value))
    return {f for f in forms if len(f) >= 4}


def register_secret(value: str | None) -> None:
    """Mask `value`, and its URL-encoded forms, from now on (e.g. a secret read from a keystore or a .env file)."""
    if value and len(value) >= 4:
        _extra.update(url_forms(value))


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return not upper.startswith("ALLOW_") and "PUBLIC" not in upper and bool(SECRET_NAME.search(name))


_seen: tuple[dict[Any, Any] | None, int, list[str]] = (None, -1, [])  # (the environment scanned, len(_extra), its values)


def secret_values() -> list[str]:
    """Every secret value to mask, longest first. The environment is scanned again whenever it
    differs from the last scan (a dict comparison in C: ledger appends ask on every event)."""
    global _seen
    raw = getattr(os.environ, "_data", None)  # CPython's own copy of the environment
    env, extra, values = _seen
    if raw is not None and env == raw and extra == len(_extra):
        return values
    found = {f for k, v in os.environ.items() if is_secret_name(k) and v and len(v) >= 4 for f in url_forms(v)}
    found |= _extra
    values = sorted(found, key=len, reverse=True)
    if raw is not None:
        _seen = (dict(raw), len(_extra), values)
    return values


def redact_text(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return text


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://\S*?(?=[)\]}>\"'.,;:]*(?:\s|$))")  # closing punctuation stays
# What may be a piece of a URL or of a secret in another library's words: a word it masked only
# in part (apprise's `p...d`, `...abcd`), a /path, percent-encoded text.
_URL_MATERIAL = re.compile(r"[^\s\"'()<>]*\.\.\.[^\s\"'()<>]+|(?<![\w.])/[^\s\"'()<>]+|[^\s\"'()<>]*%[0-9A-Fa-f]{2}[^\s\"'()<>]*")


def redact_foreign(text: str, url: str = MASK) -> str:
    """Text another library wrote (an exception, a log line) made safe to show: every URL in it
    replaced by `url` (e.g. the destination's `scheme://host`), every secret value masked in any
    of its URL forms, and whatever may still be a piece of a URL or a partly masked secret masked
    too. For error text, not for a hot path."""
    masked = _URL_MATERIAL.sub(MASK, redact_text(_URL_IN_TEXT.sub("\0", text.replace("\0", ""))))
    return masked.replace("\0", url)  # `url` last: its own `//host` is no path to mask


# Wider than SECRET_NAME (no anchor): whatever it would find in a key, this finds in text holding the key.
_NAME_IN_TEXT = re.compile(r"SECRET|PASSWORD|PASSPHRASE|PRIVATE|TOKEN|API_KEY|APIKEY|_KEY|WEBHOOK|MNEMONIC", re.I)
_NAME_WORDS = ("SECRET", "PASSWORD", "PASSPHRASE", "PRIVATE", "TOKEN", "API_KEY", "APIKEY", "_KEY", "WEBHOOK", "MNEMONIC")
_spelled: tuple[list[str] | None, int, tuple[str, ...]] = (None, 0, ())


def may_hold_secret(json_text: str, values: list[str]) -> bool:
    """False only when the JSON text `json_text` (ensure_ascii=False) of a value surely holds no
    secret value (as written, or as JSON escapes it) and no key that looks like a secret's name:
    `redact` would change nothing. A fast test for appends on a busy path (JSON escapes character
    by character, so text holding a secret holds the secret's escaped spelling)."""
    global _spelled
    listed, count, spelled = _spelled
    if listed is not values or count != len(values):
        spelled = tuple({form for v in values for form in (v, json.dumps(v, ensure_ascii=False)[1:-1])})
        _spelled = (values, len(values), spelled)
    if json_text.isascii():  # ASCII: upper-casing is exact, and ten substring tests beat the case-blind regex
        upper = json_text.upper()
        if any(word in upper for word in _NAME_WORDS):
            return True
    elif _NAME_IN_TEXT.search(json_text):  # other scripts: the regex's own case folding (a Kelvin sign is a K)
        return True
    return any(form in json_text for form in spelled)


def redact(obj: Any, values: list[str] | None = None) -> Any:
    """A copy of `obj` with secret values masked and values under secret-looking keys hidden.
    `values` (from `secret_values()`) saves the environment scan in loops."""
    values = secret_values() if values is None else values

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, str):
            if key is not None and is_secret_name(key) and value:
                return MASK
            for secret in values:
                if secret in value:
                    value = value.replace(secret, MASK)
        return value

    return walk(obj)
