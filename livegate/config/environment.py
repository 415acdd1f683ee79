"""The workspace's environment: `.env` values, overridden by the process environment, and the
flags of seed 000 parsed from them. Secret values read here are registered for redaction.

Only `KEY=VALUE` lines (optionally `export KEY=VALUE`, values optionally quoted) are read;
anything else in `.env` is a problem reported as `.env:LINE`."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegate.core.errors import ConfigError
from livegate.core.redact import is_secret_name, register_secret

FLAGS = ("PAPER_MODE", "LIVE_TRADING_ENABLED", "TRADING_HALTED")
SAFE_FLAGS = {"PAPER_MODE": True, "LIVE_TRADING_ENABLED": False, "TRADING_HALTED": True}
APPROVAL_MODES = ("approve_each", "auto")
ALLOWLISTS = ("ALLOW_EXCHANGES", "ALLOW_CHAINS", "ALLOW_TOKENS", "ALLOW_SIGNER_ADDRESSES", "ALLOW_ROUTERS")
EXCHANGE_KEYS = ("EXCHANGE_API_KEY", "EXCHANGE_API_SECRET")
AMOUNTS = ("MAX_TRADE_AMOUNT", "MAX_CEX_ORDER_AMOUNT")  # caps in the quote currency: positive, finite numbers
FINGERPRINT_SCHEME = "livegate exchange key v1"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Setting:
    value: str
    source: str  # ".env:12" or "environment"


@dataclass(frozen=True)
class WorkspaceEnv:
    """Every variable livegate may read, with where it came from, and the `.env` problems."""

    settings: dict[str, Setting]
    env_file: Path
    env_file_exists: bool
    syntax_problems: tuple[str, ...] = field(default=())

    def get(self, name: str) -> str | None:
        setting = self.settings.get(name)
        return setting.value if setting is not None and setting.value != "" else None

    def where(self, name: str) -> str:
        setting = self.settings.get(name)
        return setting.source if setting is not None else "not set"

    def flag(self, name: str) -> bool | None:
        """A boolean flag: None when unset or not a boolean (see `problems`)."""
        value = (self.get(name) or "").strip().lower()
        return True if value in _TRUE else False if value in _FALSE else None

    def allowlist(self, name: str) -> list[str]:
        return [item.strip() for item in (self.get(name) or "").split(",") if item.strip()]

    def max_trade_amount(self) -> float | None:
        """MAX_TRADE_AMOUNT as a number (quote currency), None when unset."""
        return self.amount("MAX_TRADE_AMOUNT")

    def max_cex_order_amount(self) -> float | None:
        """MAX_CEX_ORDER_AMOUNT as a number (quote currency), None when unset: the cap on each
        order sent to a centralized exchange (an on-chain swap is not one)."""
        return self.amount("MAX_CEX_ORDER_AMOUNT")

    def amount(self, name: str) -> float | None:
        """An amount variable (one of AMOUNTS) as a number, None when unset. A value that is not
        a positive, finite number is a configuration error naming where it was set: a cap that
        cannot be read never silently switches off."""
        raw = self.get(name)
        if raw is None:
            return None
        if not _positive_number(raw):
            raise ConfigError(_bad_amount(self, name, raw) + "; fix it or remove it")
        return float(raw)

    def require_valid(self) -> None:
        """Every phase command's first step: ConfigError naming each variable livegate could not
        use (`problems`), before anything is asked of a venue or written to the ledger."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def in_force(self) -> dict[str, Any]:
        """The settings a run works under, for its start event: MAX_TRADE_AMOUNT and
        MAX_CEX_ORDER_AMOUNT (None: no cap of their own), the approval mode (unset means
        approve_each), the flags and the allowlists. No secret is among them. Call after
        `require_valid`."""
        mode = self.get("EXECUTION_APPROVAL_MODE")
        return {"MAX_TRADE_AMOUNT": self.max_trade_amount(), "MAX_CEX_ORDER_AMOUNT": self.max_cex_order_amount(),
                "EXECUTION_APPROVAL_MODE": "approve_each" if mode is None else mode.strip(),
                **{name: self.flag(name) for name in FLAGS},
                **{name: self.allowlist(name) for name in ALLOWLISTS}}

    def exchange_key_fingerprint(self, exchange_id: str) -> str | None:
        """The fingerprint of the exchange key in use (EXCHANGE_API_KEY), None when none is set."""
        api_key = self.get("EXCHANGE_API_KEY")
        return None if api_key is None else exchange_key_fingerprint(exchange_id, api_key)

    def problems(self) -> list[str]:
        """Values of known variables that livegate could not use, each naming where it is set."""
        out = list(self.syntax_problems)
        for name in FLAGS:
            if self.get(name) is not None and self.flag(name) is None:
                out.append(f"{self.where(name)} {name}: must be true or false (got {self.get(name)!r})")
        mode = self.get("EXECUTION_APPROVAL_MODE")
        if mode is not None and mode not in APPROVAL_MODES:
            out.append(f"{self.where('EXECUTION_APPROVAL_MODE')} EXECUTION_APPROVAL_MODE: must be one of {', '.join(APPROVAL_MODES)} (got {mode!r})")
        for name in AMOUNTS:
            amount = self.get(name)
            if amount is not None and not _positive_number(amount):
                out.append(_bad_amount(self, name, amount))
        for name in ("ALLOW_SIGNER_ADDRESSES", "ALLOW_TOKENS", "ALLOW_ROUTERS"):
            for item in self.allowlist(name):
                if item.startswith("0x") and not _ADDRESS.match(item):
                    out.append(f"{self.where(name)} {name}: {item!r} is not a 0x address of 40 hex digits")
        for item in self.allowlist("ALLOW_SIGNER_ADDRESSES"):
            if not item.startswith("0x"):
                out.append(f"{self.where('ALLOW_SIGNER_ADDRESSES')} ALLOW_SIGNER_ADDRESSES: {item!r} is not a 0x address")
        for name in CREDENTIALS:  # a pasted newline or space would reach the exchange — and its error text — as part of the key
            value = self.get(name)
            if value is not None and (value != value.strip() or any(ch.isspace() or ord(ch) < 32 for ch in value)):
                out.append(f"{self.where(name)} {name}: contains spaces, tabs or line breaks (often a newline pasted with it); "
                           "remove them (the value is not shown)")
        return out


CREDENTIALS = ("EXCHANGE_API_KEY", "EXCHANGE_API_SECRET", "EXCHANGE_API_PASSWORD", "EXCHANGE_TESTNET_API_KEY", "EXCHANGE_TESTNET_API_SECRET",
               "EXCHANGE_TESTNET_API_PASSWORD")


def exchange_key_fingerprint(exchange_id: str, api_key: str) -> str:
    """A name of an exchange API key that gives nothing of it away: SHA-256 over a
    domain-separated encoding of (scheme, exchange id, API key), the first 32 hex digits.

    The exchange knows a key — and its rights — by the API key alone, so that is what is bound;
    the secret is left out on purpose: no value derived from it is ever stored."""
    message = json.dumps([FINGERPRINT_SCHEME, exchange_id, api_key], separators=(",", ":")).encode()
    return hashlib.sha256(message).hexdigest()[:32]


def _bad_amount(env: WorkspaceEnv, name: str, raw: str) -> str:
    return f"{env.where(name)} {name}: must be a positive, finite amount in the quote currency (got {raw!r})"


def _positive_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value > 0


def parse_dotenv(text: str, name: str = ".env") -> tuple[dict[str, Setting], list[str]]:
    """The settings of a `.env` text and one problem per line that is not `KEY=VALUE`."""
    settings: dict[str, Setting] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not _NAME.match(key):
            problems.append(f"{name}:{number}: not a KEY=VALUE line")
            continue
        value = value.strip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            end = value.find(quote, 1)
            if end < 0:
                problems.append(f"{name}:{number} {key}: the quoted value is not closed")
                continue
            value = value[1:end]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        settings[key] = Setting(value, f"{name}:{number}")
    return settings, problems


def load_env(root: Path, environ: dict[str, str] | None = None) -> WorkspaceEnv:
    """`root/.env` overridden by the process environment (as a deployment would set it); an
    empty value in the environment does not override one in `.env`."""
    environ = os.environ if environ is None else environ
    path = root / ".env"
    settings: dict[str, Setting] = {}
    problems: list[str] = []
    exists = path.is_file()
    if exists:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f".env: cannot be read ({type(exc).__name__})")
        else:
            settings, problems = parse_dotenv(text)
    for name, value in environ.items():
        if value.strip() == "" and name in settings:
            continue  # an empty export (`MAX_TRADE_AMOUNT=${UNSET}`) never erases what .env sets
        if name in settings or _relevant(name):
            settings[name] = Setting(value, "environment")
    for name, setting in settings.items():
        if is_secret_name(name):
            register_secret(setting.value)
    return WorkspaceEnv(settings, path, exists, tuple(problems))


# (path of .env) -> (what its stat said, the settings parsed from it then); root -> that path
_FLAG_CACHE: dict[str, tuple[tuple[int, int, int, int], dict[str, Setting]]] = {}
_ENV_PATHS: dict[Path, str] = {}


def flag_now(root: Path, name: str) -> tuple[bool | None, str]:
    """The boolean flag `name` (one of FLAGS) as it is now, and where it is set — the process environment over
    `root/.env`, as `load_env` reads them — for a check made before every order: `.env` is
    parsed again only when it changed (one stat otherwise). (None, "not set") when unset.
    ConfigError when the value is not true or false, or `.env` exists but cannot be read."""
    value = os.environ.get(name)
    if value is not None and value.strip() != "":
        where = "environment"
    else:
        path = _ENV_PATHS.get(root) or _ENV_PATHS.setdefault(root, str(root / ".env"))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None, "not set"
        except OSError as exc:
            raise ConfigError(f".env: cannot be read ({type(exc).__name__}: {exc.strerror})") from None
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        cached = _FLAG_CACHE.get(path)
        if cached is None or cached[0] != stamp:
            try:
                with open(path, encoding="utf-8") as f:
                    settings = {k: v for k, v in parse_dotenv(f.read())[0].items() if k in FLAGS}  # no secret kept
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f".env: cannot be read ({type(exc).__name__})") from None
            cached = _FLAG_CACHE[path] = (stamp, settings)
        setting = cached[1].get(name)
        if setting is None or setting.value == "":
            return None, "not set"
        value, where = setting.value, setting.source
    text = value.strip().lower()
    if text in _TRUE:
        return True, where
    if text in _FALSE:
        return False, where
    raise ConfigError(f"{where} {name}: must be true or false (got {value!r})")


def _relevant(name: str) -> bool:
    return (name in FLAGS or name in ALLOWLISTS or name in EXCHANGE_KEYS or name.startswith(("SIGNER_", "EXCHANGE_"))
            or name == "EXECUTION_APPROVAL_MODE" or name in AMOUNTS)
