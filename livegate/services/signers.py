"""Who is named: the operator by the name their sign-offs carry (`livegate signoff --by NAME`),
not by the computer account that happened to run a command.

An event the operator key signed (a mode change, a resume, an approval) is named after the
sign-off made with the same key — the latest one before it, else the first one after it. Only
sign-offs whose signature verifies count, so a forged sign-off never lends its name. An event
no key signed, or signed by a key that never signed off, keeps the name it was recorded with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from livegate.config.workspace import Workspace
from livegate.ledger import queries
from livegate.ledger.trust import carries_signature
from livegate.services import modes


def signing_names(conn, root: Path) -> list[tuple[int, str, str]]:
    """(event id, key id, name) of every sign-off whose signature verifies, oldest first."""
    out = []
    for event in queries.signoffs(conn):
        p = event["payload"]
        name, key_id = p.get("by"), p.get("key_id")
        if isinstance(name, str) and name.strip() and isinstance(key_id, str) and carries_signature(conn, root, event):
            out.append((event["id"], key_id, name.strip()))
    return out


def signer_of(conn, root: Path, event: dict[str, Any], names: list[tuple[int, str, str]]) -> str | None:
    """The signing name of the operator whose key signed `event` ({id, kind, payload}), or None."""
    key_id = event["payload"].get("key_id")
    same_key = [(i, name) for i, k, name in names if k == key_id]
    if not same_key or not carries_signature(conn, root, event):
        return None
    before = [name for i, name in same_key if i < event["id"]]
    return before[-1] if before else same_key[0][1]


def mode_history(ws: Workspace, limit: int | None = None) -> list[dict]:
    """`modes.mode_history` (newest first), each change's `by` the operator's signing name where
    their key signed it; `recorded_by` keeps the name the ledger recorded."""
    past = modes.mode_history(ws, limit)
    with queries.reading(ws.ledger_path) as conn:
        names = signing_names(conn, ws.root)
        for entry in past:
            event = queries.event_by_id(conn, entry["id"], modes.MODE_CHANGED) if names else None
            entry["recorded_by"] = entry["by"]
            if event is not None:
                entry["by"] = signer_of(conn, ws.root, {**event, "kind": modes.MODE_CHANGED}, names) or entry["by"]
    return past
