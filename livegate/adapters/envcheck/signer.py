"""The EVM signer's address (seed 000 §1.2, "signer address matches expected wallet"), derived
from the configured key — a keystore file (preferred) or `SIGNER_PRIVATE_KEY` — never from
a keystore's own `address` field, and never showing the key."""

from __future__ import annotations

import json
from pathlib import Path

from livegate.config.environment import WorkspaceEnv
from livegate.core.errors import ConfigError
from livegate.core.redact import register_secret


def signer_address(env: WorkspaceEnv, root: Path) -> tuple[str | None, str]:
    """(checksummed address, kind) — kind is `keystore`, `env key`, or `none` (address None)."""
    from eth_account import Account

    key, kind = signer_key(env, root)
    return (Account.from_key(key).address if key else None), kind


def signer_key(env: WorkspaceEnv, root: Path) -> tuple[str | None, str]:
    """(private key as 0x hex, kind): held in memory only, registered for redaction."""
    from eth_account import Account

    keystore = env.get("SIGNER_KEYSTORE_PATH")
    if keystore:
        path = Path(keystore).expanduser()
        path = path if path.is_absolute() else root / path
        where = env.where("SIGNER_KEYSTORE_PATH")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{where} SIGNER_KEYSTORE_PATH: cannot read {path} ({exc.strerror})") from None
        except ValueError:
            raise ConfigError(f"{where} SIGNER_KEYSTORE_PATH: {path} is not a JSON keystore file") from None
        password = env.get("SIGNER_KEYSTORE_PASSWORD")
        if password is None:
            raise ConfigError("SIGNER_KEYSTORE_PASSWORD is not set: the keystore cannot be opened")
        try:
            key = Account.decrypt(data, password)
        except (ValueError, KeyError, TypeError) as exc:
            reason = "wrong password" if "MAC mismatch" in str(exc) else "not a valid keystore"
            raise ConfigError(f"{where} SIGNER_KEYSTORE_PATH: {path} cannot be opened ({reason})") from None
        hexkey = "0x" + bytes(key).hex()
        register_secret(hexkey)
        register_secret(hexkey[2:])
        return hexkey, "keystore"
    raw = env.get("SIGNER_PRIVATE_KEY")
    if raw:
        try:
            Account.from_key(raw)
            return raw, "env key"
        except (ValueError, TypeError, AttributeError):
            raise ConfigError(f"{env.where('SIGNER_PRIVATE_KEY')} SIGNER_PRIVATE_KEY: not a 32-byte hex private key") from None
    return None, "none"
