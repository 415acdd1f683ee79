"""Writing the ledger: schema (sqlite-utils migrations), triggers, and appends."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livegate.core.canonical import canonical_json
from livegate.core.errors import KeyMissing, LedgerError
from livegate.core.redact import may_hold_secret, redact, secret_values
from livegate.ledger import anchor as anchors
from livegate.ledger.chain import GENERATED_COLUMNS, GENESIS, event_hash, event_record, head_message, signoff_message
from livegate.ledger.keys import key_dir
from livegate.ledger.trust import OPENING_KINDS, ROTATED, PinFileError, ledger_id_of, load_chain, pin_line, pin_path, read_pins, rotation_message, workspace_of

SCHEMA_VERSION = 1
ANCHOR_EVERY_S = 0.05  # the longest an append waits for its anchor (what opens a gate never waits)


def _migrations():
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("livegate.ledger")

    @migrations()
    def m001_events(db):
        # Generated columns are beyond sqlite-utils' create(); plain DDL through db.execute.
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, record TEXT NOT NULL, hash TEXT NOT NULL, "
            + ", ".join(GENERATED_COLUMNS) + ")"
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
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_actor() -> str:
    import getpass  # here: commands that only read the ledger never ask

    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"


def pin_rotation(root: Path, new_public, old_key_id: str, at: str, event_id: int) -> None:
    """Add the key a recorded rotation hands over to to the workspace's pin file (once)."""
    pins = read_pins(root) or []
    if any(k.key_id == new_public.key_id for k in pins):
        return
    with pin_path(root).open("a", encoding="ascii") as fh:
        fh.write(pin_line(new_public, f"rotated from {old_key_id} on {at[:10]} (event #{event_id})"))


def _create_whole(path: Path, text: str) -> None:
    """Create `path` with `text`, all at once and only if it does not exist yet: another process
    pinning at the same moment never sees half a file, and the first one wins."""
    tmp = path.with_name(f".{path.name}.{threading.get_native_id()}.{id(text)}.tmp")
    tmp.write_text(text, encoding="ascii")
    try:
        with contextlib.suppress(FileExistsError):  # pinned by another process meanwhile: that pin is checked like any other
            os.link(tmp, path)
    finally:
        tmp.unlink()


class Ledger:
    """An open ledger for writing. Every append is one transaction: the event and the head.

    With the operator key loaded, events that can open a gate (`trust.OPENING_KINDS`) are
    signed when written, the head is signed after every append, and the key must be the one the
    workspace pins (the pin file is written with the first key that signs). After every append
    the head is anchored outside the workspace (`livegate.ledger.anchor`)."""

    def __init__(self, path: Path, key=None, clock: Callable[[], str] = utc_now, lock_wait_s: float = 30.0):
        from sqlite_utils import Database

        self.path = path
        self.key = key
        self.root = workspace_of(path)
        self._ledger_id: str | None = None
        self._anchored: anchors.Anchor | None = None
        self._witnessed = 0
        self._to_anchor: tuple[Event, bool] | None = None
        self._anchor_next = 0.0
        # one thread per ledger anchors what a throttled append left waiting (started on first need)
        self._anchorer: threading.Thread | None = None
        self._anchor_wake = threading.Event()
        self._anchor_stop = threading.Event()
        self._aside: sqlite3.Connection | None = None  # the anchor thread's own reading connection
        self._aside_lock = threading.Lock()
        self._closed = False
        self.anchor_problems: list[str] = []
        self.clock = clock
        self.actor = default_actor()  # who writes: the process's user, asked once
        self._checkpointer: tuple[threading.Event, threading.Thread] | None = None
        self._soon: list[tuple[list[tuple[str, dict[str, Any]]], Callable[[list[Event]], None] | None]] = []
        try:
            # one process may write from several threads (the live loop, a bot's orders through the
            # gateway): `_write` makes each append whole, whichever thread it comes from
            conn = sqlite3.connect(str(path), timeout=lock_wait_s, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path}: cannot open the ledger ({exc})") from None
        self.db = Database(conn)
        self._write = threading.RLock()
        try:
            _migrations().apply(self.db)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(f"{path}: not a livegate ledger ({exc})") from None
        self.key_problem: str | None = None
        if key is not None and self.root is not None:
            try:
                self._pin(key)
            except (KeyMissing, PinFileError) as exc:
                # the key cannot sign here: write without it (a halt, a breaker trip must never wait
                # for a key); what needs a signature says why it cannot have one
                self.key, self.key_problem = None, str(exc)
            except BaseException:
                conn.close()
                raise

    def _pin(self, key) -> None:
        """Make sure `key` is this workspace's operator key: pin it when the workspace pins none and
        nothing is signed yet; refuse a key the pinned chain does not lead to."""
        assert self.root is not None
        if read_pins(self.root) is None:
            signed = self.db.execute("SELECT signature IS NOT NULL FROM ledger_head WHERE id = 1").fetchone()
            if not (signed and signed[0]):
                _create_whole(pin_path(self.root),
                              "# livegate: the operator keys that sign this workspace's ledger, oldest first.\n"
                              "# Commit this file. A key appears here only through `livegate keys rotate`.\n"
                              + pin_line(key.public, f"pinned {utc_now()[:10]}"))
        chain = load_chain(self.conn, self.root, key.public)
        if chain.problems:
            raise KeyMissing(f"the operator key {key.key_id} cannot sign this workspace's ledger: {chain.problems[0][1]}")
        if chain.current is not None and chain.current.key_id != key.key_id:
            raise KeyMissing(f"the operator key {key.key_id} was rotated to {chain.current.key_id} in this workspace; "
                             "use the new key (LIVEGATE_KEY_DIR)")
        row = self.db.execute("SELECT e.id, e.ts, e.hash FROM ledger_head h JOIN events e ON e.id = h.last_id").fetchone()
        if row is not None:  # the workspace gets its anchor on this machine now, not only at the next append
            self._anchor(Event(row[0], row[1], "", "", {}, row[2]), durable=False)

    @classmethod
    def create(cls, path: Path) -> Ledger:
        ledger = cls(path)
        if ledger.db.execute("SELECT count(*) FROM events").fetchone()[0] == 0:
            ledger.append("ledger_created", {"schema": SCHEMA_VERSION})
        ledger.close()
        return ledger

    @classmethod
    def open(cls, path: Path, key=None, lock_wait_s: float = 30.0) -> Ledger:
        """The ledger at `path` for writing; `lock_wait_s` bounds each wait for its write lock."""
        if not path.is_file():
            raise LedgerError(f"no ledger at {path}; run `livegate init`")
        return cls(path, key=key, lock_wait_s=lock_wait_s)

    def close(self) -> None:
        """Write what `append_later` still keeps, stop the background threads, close. A ledger
        that cannot take those events any more is a LedgerError (after closing)."""
        failed = None
        try:
            with self._write:
                self._write_soon()
        except LedgerError as exc:
            failed = exc
        if self._checkpointer is not None:
            stop, thread = self._checkpointer
            stop.set()
            thread.join()
            self._checkpointer = None
        with self._write:
            self._flush_anchor(now=True)
            self._closed = True
        if self._anchorer is not None:
            self._anchor_stop.set()
            self._anchor_wake.set()
            self._anchorer.join()
            self._anchorer = None
        with self._aside_lock:  # the anchor thread's anchor still on its way: finished first
            if self._aside is not None:
                self._aside.close()
                self._aside = None
        self.copy_to_witnesses()
        self.db.close()
        if failed is not None:
            raise failed

    def checkpoint_in_background(self, every_s: float = 1.0) -> None:
        """Copy the write-ahead log into the ledger file from a background thread, every
        `every_s`, instead of inside whichever append fills the log (SQLite's default). That copy
        syncs the file to disk and takes milliseconds: a process that writes on every order (the
        bot gateway) keeps it off its orders. Durability is unchanged (each append is in the log
        when it returns); a crash leaves the log, which the next open reads. Stops at `close`."""
        if self._checkpointer is not None:
            return
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        stop = threading.Event()
        path = str(self.path)

        def run() -> None:
            conn = sqlite3.connect(path, timeout=1.0)
            try:
                while not stop.wait(every_s):
                    with contextlib.suppress(sqlite3.Error):  # busy or locked now: the next round copies it
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                conn.close()

        thread = threading.Thread(target=run, name="livegate-ledger-checkpoint", daemon=True)
        thread.start()
        self._checkpointer = (stop, thread)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The ledger's connection, for `livegate.ledger.queries` reads inside `locked()`."""
        return self.db.conn

    @contextmanager
    def locked(self) -> Iterator[Ledger]:
        """One transaction holding the write lock from its start: what is read through `conn`
        and what is appended inside the block are one step (two deciders cannot both win). A
        ledger that cannot be written (read-only, a full disk, locked too long) is a LedgerError."""
        with self._write:
            self._write_soon()
            # what is decided under the lock (a resume, an approval, a halt) is rare and may open
            # something: it survives a power cut once written
            self.db.execute("PRAGMA synchronous=FULL")
            try:
                with self._transaction():
                    yield self
            except BaseException:
                self._to_anchor = None  # rolled back: what it appended was never there to anchor
                raise
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("PRAGMA synchronous=NORMAL")
            self._flush_anchor()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with self.db.atomic():
                self.db.execute("UPDATE ledger_head SET last_id = last_id WHERE id = 1")  # take the write lock now
                yield
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: could not write the ledger ({exc})") from None

    def append(self, kind: str, payload: dict[str, Any], actor: str | None = None, sign: bool = False) -> Event:
        """Append one event. `sign=True` adds the operator's signature over the payload and
        the chain before it (sign-offs). The head is re-signed whenever the key is loaded."""
        return self.append_many([(kind, payload)], actor=actor, sign=sign)[-1]

    def append_many(self, items: list[tuple[str, dict[str, Any]]], actor: str | None = None, sign: bool = False) -> list[Event]:
        """Append several events in one transaction (all or nothing); the head is updated and
        signed once, after the last."""
        with self._write:
            if not self._soon:
                return self._append_many(items, actor, sign)
            return self._write_soon(items, actor, sign)

    def append_later(self, items: list[tuple[str, dict[str, Any]]], on_written: Callable[[list[Event]], None] | None = None) -> None:
        """Keep `items` to be appended by the next write, in its transaction and before what it
        appends (`append`, `append_many`, `locked`), or by `write_waiting()` or `close`. For what
        follows an order's answer on a busy path: the bot gets its answer without waiting for the
        disk, and a crash before the write loses nothing a restart does not find again at the
        venue. `on_written(events)` is called once they are in."""
        with self._write:
            self._soon.append((list(items), on_written))

    def write_waiting(self) -> None:
        """Write what `append_later` keeps, now, in one transaction (nothing when nothing waits)."""
        with self._write:
            self._write_soon()

    def _write_soon(self, items: list[tuple[str, dict[str, Any]]] = (), actor: str | None = None, sign: bool = False) -> list[Event]:
        """(Holding `_write`.) What `append_later` keeps, then `items`, in one transaction;
        returns the events of `items`. Nothing is dropped when it fails."""
        waiting, self._soon = self._soon, []
        if not waiting and not items:
            return []
        batch = [item for group, _ in waiting for item in group]
        try:  # one transaction: what waited (this process's own events), then `items` as asked
            written = self._append_many(batch + list(items), actor, sign, mine=len(batch))
        except BaseException:
            self._soon = waiting + self._soon
            raise
        at = 0
        for group, on_written in waiting:
            if on_written is not None:
                on_written(written[at:at + len(group)])
            at += len(group)
        return written[len(batch):]

    def _append_many(self, items: list[tuple[str, dict[str, Any]]], actor: str | None, sign: bool, mine: int = 0) -> list[Event]:
        """`items` in one transaction; the first `mine` are written by the process's user, and
        signed only when they can open a gate and the key is loaded."""
        if sign and self.key is None:
            raise KeyMissing(self.key_problem) if self.key_problem else LedgerError("this event must be signed but no operator key is loaded")
        asked = actor or self.actor
        db = self.db
        events: list[Event] = []
        # what opens a gate survives a power cut once it is written (inside `locked` it already does)
        opening = any(kind in OPENING_KINDS for kind, _ in items) and not db.conn.in_transaction
        try:
            if opening:
                db.execute("PRAGMA synchronous=FULL")
            with self._immediate():
                last_id, prev = db.execute("SELECT last_id, last_hash FROM ledger_head WHERE id = 1").fetchone()
                rows = []
                secrets = secret_values()
                ledger_id = self._first_hash() if last_id else ""
                ts = self.clock()  # one reading per transaction: its events are written at one moment
                for i, (kind, payload) in enumerate(items):
                    text = canonical_json(payload)
                    clean = payload
                    if may_hold_secret(text, secrets):  # else masking would change nothing: one JSON pass, not a walk
                        clean = redact(payload, secrets)
                        text = canonical_json(clean)
                    event_id = last_id + 1
                    actor = asked if i >= mine else self.actor
                    if (sign and i >= mine) or (self.key is not None and kind in OPENING_KINDS):
                        clean = dict(clean, key_id=self.key.key_id)
                        clean["signature"] = self.key.sign(signoff_message(canonical_json(clean), prev, event_id, ledger_id))
                        text = canonical_json(clean)
                    record = event_record(prev, ts, kind, actor, text)
                    digest = event_hash(record)
                    rows.append((event_id, record, digest))
                    events.append(Event(event_id, ts, kind, actor, clean, digest))
                    last_id, prev = event_id, digest
                db.conn.executemany("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)", rows)
                if self.key is not None:
                    db.execute(
                        "UPDATE ledger_head SET last_id = ?, last_hash = ?, signed_id = ?, signed_hash = ?, key_id = ?, signature = ? WHERE id = 1",
                        (last_id, prev, last_id, prev, self.key.key_id, self.key.sign(head_message(last_id, prev))),
                    )
                else:
                    db.execute("UPDATE ledger_head SET last_id = ?, last_hash = ? WHERE id = 1", (last_id, prev))
        except ValueError as exc:
            raise LedgerError(f"{self.path}: could not append to the ledger ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: could not append to the ledger ({exc})") from None
        finally:
            if opening:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA synchronous=NORMAL")
        self._to_anchor = (events[-1], opening or any(kind in OPENING_KINDS for kind, _ in items))
        if not db.conn.in_transaction:  # else `locked` anchors once its transaction committed
            self._flush_anchor()
        return events

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """A transaction that holds the write lock from its start (BEGIN IMMEDIATE: the head read
        next is the one the append extends); inside `locked()`, a savepoint of its transaction."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _first_hash(self, conn: sqlite3.Connection | None = None) -> str:
        """The hash of event #1 (what names the ledger, in every signature and anchor): read once,
        on `conn` (the ledger's own connection when not given)."""
        if not self._ledger_id:
            self._ledger_id = ledger_id_of(conn or self.conn)
        return self._ledger_id

    def _flush_anchor(self, now: bool = False) -> None:
        """Anchor the latest head: at once when it holds something that opens (or `now`), else at
        most every ANCHOR_EVERY_S — a busy writer (the bot gateway, two appends an order) keeps the
        file write off most of its appends; the anchor thread anchors what is left waiting."""
        if self._to_anchor is None:
            return
        last, opening = self._to_anchor
        clock = time.monotonic()
        if not (opening or now) and clock < self._anchor_next:
            if self._anchorer is None:
                self._anchorer = threading.Thread(target=self._anchor_loop, name="livegate-ledger-anchor", daemon=True)
                self._anchorer.start()
            self._anchor_wake.set()
            return
        self._to_anchor = None
        self._anchor_next = clock + ANCHOR_EVERY_S
        self._anchor(last, durable=opening)
        if opening and self.key is not None:
            self.copy_to_witnesses()

    def _anchor_loop(self) -> None:
        """(The anchor thread.) Each time an append leaves its head waiting, wait until
        ANCHOR_EVERY_S has passed since the last anchor, then anchor what waits. One thread for the
        ledger's life, not one per wait (starting a thread costs milliseconds on a busy machine)."""
        while True:
            self._anchor_wake.wait()
            self._anchor_wake.clear()
            if self._anchor_stop.wait(max(0.0, self._anchor_next - time.monotonic())):
                return
            self._anchor_later()

    def _anchor_later(self) -> None:
        """(The anchor thread.) Anchor the head left waiting — outside the write lock, on a
        connection of its own: the anchor's file write never holds up the appends meanwhile (an
        order's). The anchor only moves forward, so an older head written late changes nothing."""
        with self._write:
            if self._closed or self._to_anchor is None:
                return
            last, opening = self._to_anchor
            self._to_anchor = None
            self._anchor_next = time.monotonic() + ANCHOR_EVERY_S
        with self._aside_lock:
            if self._aside is None:
                try:
                    self._aside = sqlite3.connect(str(self.path), timeout=1.0, check_same_thread=False)
                except sqlite3.Error:
                    return  # the next append (or `close`) anchors it
            self._anchor(last, durable=opening, conn=self._aside)

    def _anchor(self, last: Event, durable: bool, conn: sqlite3.Connection | None = None) -> None:
        """Record the new head next to the operator key (after the commit: never ahead of it).
        `conn` reads the ledger for the check (the ledger's own connection when not given)."""
        if self.root is None:
            return
        conn = conn or self.conn
        with anchors.suppress_errors():
            signed = self.key is not None
            seen = self._anchored
            head = {"ledger_id": self._first_hash(conn), "last_id": last.id, "last_hash": last.hash,
                    "signed_id": last.id if signed else (seen.signed_id if seen else None), "at": last.ts}
            anchored = anchors.record(key_dir(), self.path, head, durable, conn)
            if anchored is None or self._anchored is None or anchored.last_id >= self._anchored.last_id:
                self._anchored = anchored

    def copy_to_witnesses(self) -> None:
        """Copy the anchor to the operator's witnesses, if it moved since the last copy."""
        anchor = self._anchored
        if anchor is None or not anchor.witnesses or anchor.last_id <= self._witnessed:
            return
        self.anchor_problems += anchors.write_witnesses(anchor, self.path)
        self._witnessed = anchor.last_id

    def rotate_key(self, new_key, by: str) -> Event:
        """Hand the workspace over from the loaded key to `new_key`: a `key_rotated` event signed
        by the old key, carrying the new public key and its own signature over the hand-over;
        the pin file gains the new key. From the next event on, only the new key signs."""
        if self.key is None or self.root is None:
            raise KeyMissing(self.key_problem or "a key rotation needs the current operator key and a workspace")
        new_hex = new_key.public.raw.hex()
        payload = {"from_key_id": self.key.key_id, "to_key_id": new_key.key_id, "new_public": new_hex,  # (names a secret-looking "_key" would mask)
                   "endorsement": new_key.sign(rotation_message(self.key.key_id, new_hex))}
        event = self.append(ROTATED, payload, actor=by, sign=True)
        pin_rotation(self.root, new_key.public, self.key.key_id, event.ts, event.id)
        self.key = new_key
        return event
