"""Canonical serialization and hashing used by the ledger and config fingerprints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(obj: object) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8, no NaN/Infinity."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def fingerprint(obj: object) -> str:
    """SHA-256 of the canonical JSON of `obj`."""
    return sha256_hex(canonical_json(obj))


def flatten(obj: object, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted paths: {"a": {"b": 1}} -> {"a.b": 1}. Lists stay values."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and obj:
        for key in obj:
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(obj[key], path))
    else:
        out[prefix] = obj
    return out


def diff_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Dotted paths whose values differ between two nested dicts, sorted: (path, old, new)."""
    a, b = flatten(old), flatten(new)
    missing = object()
    changes = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, missing), b.get(path, missing)
        if va != vb:
            changes.append((path, None if va is missing else va, None if vb is missing else vb))
    return changes
