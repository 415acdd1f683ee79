"""Writing the ledger: schema (sqlite-utils migrations), triggers, and appends."""

from __future__ import annotations

import getpass
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from livegate.core.canonical import canonical_json
from livegate.errors import LedgerError
from livegate.ledger.chain import GENESIS, event_body, event_hash, head_message, signoff_message
from livegate.redact import redact

SCHEMA_VERSION = 1


def _migrations():
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("livegate.ledger")

    @migrations()
    def m001_events(db):
        db["events"].create(
            {"id": int, "ts": str, "kind": str, "actor": str, "payload": str, "prev_hash": str, "hash": str},
            pk="id",
            not_null={"ts", "kind", "actor", "payload", "prev_hash", "hash"},
        )
        db["events"].create_index(["kind"])
        db["ledger_head"].create(
            {"id": int, "last_id": int, "last_hash": str, "signed_id": int, "signed_hash": str, "signature": str, "key_id": str},
            pk="id",
        )
        db["ledger_head"].insert({"id": 1, "last_id": 0, "last_hash": GENESIS})
        db.execute(
            "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
            "BEGIN SELECT RAISE(ABORT, 'livegate ledger is append-only: UPDATE refused'); END"
        )
        db.execute(
            "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
            "BEGIN SELECT RAISE(ABORT, 'livegate ledger is append-only: DELETE refused'); END"
        )
        db.execute(
            "CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head "
            "BEGIN SELECT RAISE(ABORT, 'livegate ledger head cannot be deleted'); END"
        )

    return migrations


@dataclass(frozen=True)
class Event:
    id: int
    ts: str
    kind: str
    actor: str
    payload: dict[str, Any]
    hash: str


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"


class Ledger:
    """An open ledger for writing. Every append is one transaction: the event and the head."""

    def __init__(self, path: Path, key=None, clock: Callable[[], str] = utc_now):
        from sqlite_utils import Database

        self.path = path
        self.key = key
        self.clock = clock
        try:
            conn = sqlite3.connect(str(path), timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path}: cannot open the ledger ({exc})") from None
        self.db = Database(conn)
        try:
            _migrations().apply(self.db)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(f"{path}: not a livegate ledger ({exc})") from None

    @classmethod
    def create(cls, path: Path) -> "Ledger":
        ledger = cls(path)
        if ledger.db.execute("SELECT count(*) FROM events").fetchone()[0] == 0:
            ledger.append("ledger_created", {"schema": SCHEMA_VERSION})
        ledger.close()
        return ledger

    @classmethod
    def open(cls, path: Path, key=None) -> "Ledger":
        if not path.is_file():
            raise LedgerError(f"no ledger at {path}; run `livegate init`")
        return cls(path, key=key)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, kind: str, payload: dict[str, Any], actor: str | None = None, sign: bool = False) -> Event:
        """Append one event. `sign=True` adds the operator's signature over the payload and
        the chain before it (sign-offs). The head is re-signed whenever the key is loaded."""
        if sign and self.key is None:
            raise LedgerError("this event must be signed but no operator key is loaded")
        actor = actor or default_actor()
        clean = redact(payload)
        db = self.db
        try:
            with db.atomic():
                # A write first, so the transaction holds the write lock before reading the head.
                db.execute("UPDATE ledger_head SET last_id = last_id WHERE id = 1")
                last_id, prev = db.execute("SELECT last_id, last_hash FROM ledger_head WHERE id = 1").fetchone()
                event_id, ts = last_id + 1, self.clock()
                if sign:
                    clean = dict(clean, key_id=self.key.key_id)
                    clean["signature"] = self.key.sign(signoff_message(canonical_json(clean), prev))
                text = canonical_json(clean)
                digest = event_hash(event_body(prev, event_id, ts, kind, actor, text))
                db["events"].insert(
                    {"id": event_id, "ts": ts, "kind": kind, "actor": actor, "payload": text, "prev_hash": prev, "hash": digest}
                )
                head = {"last_id": event_id, "last_hash": digest}
                if self.key is not None:
                    head.update(signed_id=event_id, signed_hash=digest, key_id=self.key.key_id,
                                signature=self.key.sign(head_message(event_id, digest)))
                db["ledger_head"].update(1, head)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: could not append to the ledger ({exc})") from None
        return Event(event_id, ts, kind, actor, clean, digest)
