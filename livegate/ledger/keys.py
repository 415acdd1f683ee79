"""The operator's Ed25519 signing key, kept outside any workspace (default ~/.config/livegate)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from livegate.core.errors import KeyMissing, UsageError

PRIVATE_FILE = "operator.key"
PUBLIC_FILE = "operator.pub"


_key_dirs: dict[tuple[str | None, str | None, str | None], Path] = {}


def key_dir() -> Path:
    """LIVEGATE_KEY_DIR, else $XDG_CONFIG_HOME/livegate, else ~/.config/livegate. Asked before
    every order (the anchor lies there): built once per value of the variables it reads."""
    environ = os.environ
    names = (environ.get("LIVEGATE_KEY_DIR"), environ.get("XDG_CONFIG_HOME"), environ.get("HOME"))
    found = _key_dirs.get(names)
    if found is None:
        explicit, xdg, _ = names
        if explicit:
            found = Path(explicit).expanduser()
        else:
            found = Path(xdg or str(Path.home() / ".config")) / "livegate"
        if len(_key_dirs) > 64:
            _key_dirs.clear()
        _key_dirs[names] = found
    return found


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    def verify(self, signature_hex: str, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


class OperatorKey:
    """A loaded private key. Never printed, never stored anywhere but its own file."""

    def __init__(self, private):  # cryptography Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization

        self._private = private
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public = PublicKey(raw)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()

    def __repr__(self) -> str:  # keep the key material out of reprs and tracebacks
        return f"OperatorKey(key_id={self.key_id})"


def init_key(directory: Path, workspace_root: Path | None = None, force: bool = False) -> OperatorKey:
    # `workspace_root`: the workspace the command runs in, only when it is one (else running it
    # from $HOME would refuse the default ~/.config/livegate key dir)
    """Create a new key pair in `directory` (0700 dir, 0600 private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = directory.expanduser()
    if workspace_root is not None and _inside(directory, workspace_root):
        raise UsageError(f"the key directory {directory} is inside the workspace {workspace_root}; keep the key outside it (LIVEGATE_KEY_DIR)")
    private_path = directory / PRIVATE_FILE
    if private_path.exists() and not force:
        raise UsageError(f"an operator key already exists at {private_path}; use --force to replace it (old sign-offs will no longer verify with the new key)")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = private_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, private_path)
    key = OperatorKey(private)
    (directory / PUBLIC_FILE).write_text(key.public.raw.hex() + "\n", encoding="ascii")
    return key


NEXT_SUFFIX = ".next"


def _write_private(path: Path, private) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_rotation(directory: Path) -> OperatorKey:
    """A new key pair for `keys rotate`, saved as operator.key.next (0600) before the ledger
    records the hand-over, so the new key is never only in memory."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    _write_private(directory / (PRIVATE_FILE + NEXT_SUFFIX), private)
    return OperatorKey(private)


def pending_rotation(directory: Path) -> OperatorKey | None:
    """The new key of a `keys rotate` that stopped before the key files were swapped, or None."""
    return _key_file(directory / (PRIVATE_FILE + NEXT_SUFFIX))


def retired_key(directory: Path, key_id: str) -> OperatorKey | None:
    """The key `keys rotate` kept as operator.key.<id>.old, or None."""
    return _key_file(directory / f"{PRIVATE_FILE}.{key_id}.old")


def _key_file(path: Path) -> OperatorKey | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.is_file():
        return None
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        return None
    return OperatorKey(private) if isinstance(private, Ed25519PrivateKey) else None


def discard_rotation(directory: Path) -> None:
    (directory / (PRIVATE_FILE + NEXT_SUFFIX)).unlink(missing_ok=True)


def finish_rotation(directory: Path, old: OperatorKey, new: OperatorKey) -> None:
    """After the ledger recorded the hand-over: the old key becomes operator.key.<id>.old, the
    new one operator.key (and operator.pub)."""
    private = directory / PRIVATE_FILE
    os.replace(private, directory / f"{PRIVATE_FILE}.{old.key_id}.old")
    os.replace(directory / (PRIVATE_FILE + NEXT_SUFFIX), private)
    (directory / PUBLIC_FILE).write_text(new.public.raw.hex() + "\n", encoding="ascii")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def load_private(directory: Path | None = None) -> OperatorKey:
    from cryptography.hazmat.primitives import serialization

    directory = directory or key_dir()
    path = directory / PRIVATE_FILE
    if not path.is_file():
        raise KeyMissing(f"no operator key at {path}; create one with `livegate keys init`")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyMissing(f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise KeyMissing(f"{path} is not an unencrypted Ed25519 PEM key") from None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private, Ed25519PrivateKey):
        raise KeyMissing(f"{path} is not an Ed25519 key")
    return OperatorKey(private)


def load_public(source: Path | None = None) -> PublicKey | None:
    """The trusted public key: a .pub file, or the key directory's operator.pub. None if absent."""
    source = source or key_dir()
    path = source / PUBLIC_FILE if source.is_dir() else source
    if not path.is_file():
        return None
    try:
        raw = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise KeyMissing(f"{path} is not a livegate public key (hex of 32 bytes)") from None
    if len(raw) != 32:
        raise KeyMissing(f"{path} is not a livegate public key (hex of 32 bytes)")
    return PublicKey(raw)


def try_load_private() -> OperatorKey | None:
    try:
        return load_private()
    except KeyMissing:
        return None
