"""Every read of the ledger, in one place (stdlib sqlite3 only: fast start-up for `status`).

Nothing outside `livegate.ledger` holds SQL or a connection of its own: it opens the ledger
with `reading(path)` and asks the functions here — events of a run, the latest result per
step, the latest mode and halt events, sign-offs, the head, counts. Writing stays with
`livegate.ledger.store.Ledger`; verification of the chain with `livegate.ledger.verify`.

Payloads are returned parsed. `events` (the general scan) marks a payload that is not JSON
as `{"_unreadable_payload": True}`; the narrower queries raise on one, as they always did.

`watched(key, path)` keeps one read-only connection per ledger and thread for reads on every
order (the halt state): what is derived from it is re-read only when the head moved."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from livegate.core.errors import LedgerError

T = TypeVar("T")
_RUN = "json_extract(payload, '$.run') = ?"


# -- connections --------------------------------------------------------------------------------

def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection. A ledger on read-only media (an auditor's copy, a read-only
    mount) cannot get the shared-memory file SQLite's WAL mode wants; when it has no write-ahead
    log waiting either, nothing can change it, and it is opened as immutable."""
    if not path.is_file():
        raise LedgerError(f"no ledger at {path}; run `livegate init`")
    uri = Path(path).resolve().as_uri()  # escaped: a `%`, `#` or `?` in a folder name must not name another file
    try:
        conn = _open(uri + "?mode=ro")
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise LedgerError(f"{path}: cannot be opened read-only ({exc}) and its write-ahead log {wal.name} holds events "
                              "not yet in the file: open it where it can be written once, or copy it with `sqlite3 .backup`") from None
        try:
            conn = _open(uri + "?immutable=1")
        except sqlite3.DatabaseError as again:
            raise LedgerError(f"{path}: not a readable livegate ledger ({again})") from None
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a readable livegate ledger ({exc})") from None
    return conn


def _open(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        conn.execute("SELECT 1 FROM events LIMIT 1")
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


_SHARED: ContextVar[tuple[str, sqlite3.Connection] | None] = ContextVar("livegate_shared_reads", default=None)


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the ledger at `path` for the block (LedgerError when there is
    none). Pass it to the functions below; it is closed on leaving the block — unless it is the
    one `shared_reads` keeps open for the ledger."""
    shared = _SHARED.get()
    if shared is not None and shared[0] == os.fspath(path):
        yield shared[1]
        return
    conn = connect_readonly(path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def shared_reads(path: Path) -> Iterator[None]:
    """Within the block, every `reading(path)` uses one read-only connection: a command that
    reads the ledger many times (`status`) opens it once. Each statement still sees the ledger
    as it is then (no transaction is held open). A ledger that cannot be opened is left to each
    read to report, as without the block."""
    try:
        conn = connect_readonly(path)
    except LedgerError:
        yield
        return
    token = _SHARED.set((os.fspath(path), conn))
    try:
        yield
    finally:
        _SHARED.reset(token)
        conn.close()


def _marks(items: tuple) -> str:
    return ",".join("?" * len(items))


# -- events of any kind -----------------------------------------------------------------------------

def events(conn: sqlite3.Connection, kinds: tuple[str, ...] = (), limit: int | None = None,
           descending: bool = False) -> Iterator[dict[str, Any]]:
    """Events ({id, ts, kind, actor, payload, hash}) of these kinds (every kind when none), in
    ledger order or newest first, at most `limit`."""
    sql = "SELECT id, ts, kind, actor, payload, hash FROM events"
    params: list[Any] = []
    if kinds:
        sql += f" WHERE kind IN ({_marks(kinds)})"
        params += kinds
    sql += " ORDER BY id" + (" DESC" if descending else "")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for event_id, ts, kind, actor, payload, digest in conn.execute(sql, params):
        try:
            data = json.loads(payload)
        except ValueError:
            data = {"_unreadable_payload": True}
        yield {"id": event_id, "ts": ts, "kind": kind, "actor": actor, "payload": data, "hash": digest}


def latest_event(conn: sqlite3.Connection, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest event of these kinds (as `events` gives it), or None."""
    return next(events(conn, kinds, limit=1, descending=True), None)


def latest_with(conn: sqlite3.Connection, kind: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The newest event of `kind` whose payload has every one of `fields` at that value."""
    for event in events(conn, (kind,), descending=True):
        p = event["payload"]
        if all(p.get(name) == value for name, value in fields.items()):
            return event
    return None


def latest_of_kind(conn: sqlite3.Connection, kind: str) -> dict[str, Any] | None:
    """{id, ts, payload} of the newest event of `kind`, or None."""
    row = conn.execute("SELECT id, ts, payload FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
    return {"id": row[0], "ts": row[1], "payload": json.loads(row[2])} if row else None


def event_by_id(conn: sqlite3.Connection, event_id: int, kind: str | None = None) -> dict[str, Any] | None:
    """{id, ts, payload} of event `event_id` (only if it is of `kind`, when given), or None."""
    if kind is None:
        row = conn.execute("SELECT id, ts, payload FROM events WHERE id = ?", (event_id,)).fetchone()
    else:
        row = conn.execute("SELECT id, ts, payload FROM events WHERE id = ? AND kind = ?", (event_id, kind)).fetchone()
    return {"id": row[0], "ts": row[1], "payload": json.loads(row[2])} if row else None


def event_ids(conn: sqlite3.Connection, kinds: tuple[str, ...]) -> list[tuple[int, str]]:
    """(id, kind) of every event of these kinds, in ledger order."""
    return conn.execute(f"SELECT id, kind FROM events WHERE kind IN ({_marks(kinds)}) ORDER BY id", kinds).fetchall()


def count_kind(conn: sqlite3.Connection, kind: str) -> int:
    """How many events of `kind` the ledger holds."""
    return conn.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]


def count_events(path: Path, kind: str) -> int:
    """How many events of `kind` the ledger at `path` holds (run numbering)."""
    with reading(path) as conn:
        return count_kind(conn, kind)


def head(conn: sqlite3.Connection) -> dict[str, Any]:
    """{last_event_id, last_event_at} of the newest event (both None in an empty ledger)."""
    row = conn.execute("SELECT id, ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return {"last_event_id": row[0], "last_event_at": row[1]} if row else {"last_event_id": None, "last_event_at": None}


def head_event(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """{id, ts, hash, ledger_id, signed_id} of the last event (None in an empty ledger)."""
    row = conn.execute("SELECT e.id, e.ts, e.hash, (SELECT hash FROM events WHERE id = 1), h.signed_id "
                       "FROM ledger_head h JOIN events e ON e.id = h.last_id WHERE h.id = 1").fetchone()
    return None if row is None else {"id": row[0], "ts": row[1], "hash": row[2], "ledger_id": row[3], "signed_id": row[4]}


def head_id(conn: sqlite3.Connection) -> int:
    """The id of the last event as the ledger head records it (moves with every append)."""
    # fetchall, never a half-read cursor: an unfinished statement would pin an old snapshot.
    (last_id,), = conn.execute("SELECT last_id FROM ledger_head WHERE id = 1").fetchall()
    return last_id


def timestamps(conn: sqlite3.Connection, from_id: int) -> list[tuple[int, str]]:
    """(id, ts) of every event from `from_id` on, in ledger order: the ledger's clock."""
    return conn.execute("SELECT id, ts FROM events WHERE id >= ? ORDER BY id", (from_id,)).fetchall()


def export_rows(conn: sqlite3.Connection, columns: tuple[str, ...], kinds: tuple[str, ...] = ()) -> list[tuple]:
    """`columns` of every event (of these kinds, when given), in ledger order: the export."""
    sql = f"SELECT {', '.join(columns)} FROM events"
    params: tuple = ()
    if kinds:
        sql += f" WHERE kind IN ({_marks(kinds)})"
        params = kinds
    return conn.execute(sql + " ORDER BY id", params).fetchall()


# -- runs (every event of a run carries its id in payload.run) ------------------------------------

def _run_where(run: str, since_id: int | None) -> tuple[str, tuple]:
    if since_id is None:
        return _RUN, (run,)
    return f"id >= ? AND {_RUN}", (since_id, run)


def events_of_run(conn: sqlite3.Connection, run: str, kinds: tuple[str, ...] | None = None, *,
                  since_id: int | None = None) -> list[dict[str, Any]]:
    """{id, ts, kind, payload} of the run's events (of these kinds; every kind when None), in
    ledger order. `since_id`: the run's start event, before which none of its events lie."""
    where, args = _run_where(run, since_id)
    if kinds is not None:
        where += f" AND kind IN ({_marks(kinds)})"
        args += tuple(kinds)
    rows = conn.execute(f"SELECT id, ts, kind, payload FROM events WHERE {where} ORDER BY id", args)
    return [{"id": event_id, "ts": ts, "kind": kind, "payload": json.loads(payload)} for event_id, ts, kind, payload in rows]


def latest_in_run(conn: sqlite3.Connection, run: str, kind: str, *, since_id: int | None = None) -> dict[str, Any] | None:
    """{ts, payload} of the run's newest event of `kind` (a checkpoint), or None."""
    where, args = _run_where(run, since_id)
    row = conn.execute(f"SELECT ts, payload FROM events WHERE {where} AND kind = ? ORDER BY id DESC LIMIT 1",
                       (*args, kind)).fetchone()
    return {"ts": row[0], "payload": json.loads(row[1])} if row else None


def run_kind_counts(conn: sqlite3.Connection, run: str, *, since_id: int | None = None) -> dict[str, int]:
    """{kind: how many} of the run's events."""
    where, args = _run_where(run, since_id)
    return dict(conn.execute(f"SELECT kind, count(*) FROM events WHERE {where} GROUP BY kind", args).fetchall())


def blocked_by_rule(conn: sqlite3.Connection, run: str) -> dict[str, int]:
    """{rule: how many orders it blocked} in the run (first block of each), most first."""
    return dict(conn.execute(
        "SELECT json_extract(payload, '$.blocks[0][0]') AS rule, count(*) FROM events WHERE kind = 'order_blocked' "
        f"AND {_RUN} GROUP BY rule ORDER BY count(*) DESC", (run,)).fetchall())


def breaker_trips(conn: sqlite3.Connection, run: str) -> list[str]:
    """The breaker of each trip in the run, in ledger order."""
    return [r[0] for r in conn.execute(
        f"SELECT json_extract(payload, '$.breaker') FROM events WHERE kind = 'breaker_trip' AND {_RUN} ORDER BY id", (run,))]


def result_recorded_for_run(conn: sqlite3.Connection, run: str) -> bool:
    """Whether a phase result was recorded for the run (its summary names it)."""
    return conn.execute("SELECT 1 FROM events WHERE kind = 'phase_result' AND json_extract(payload, '$.summary.run') = ? LIMIT 1",
                        (run,)).fetchone() is not None


def live_trades_closed_between(conn: sqlite3.Connection, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """Payloads of the micro-live stages' trades (runs `lgl…`) closed in [since_ms, until_ms]."""
    rows = conn.execute("SELECT payload FROM events WHERE kind = 'trade' AND json_extract(payload, '$.run') LIKE 'lgl%' "
                        "AND json_extract(payload, '$.closed_ms') >= ? AND json_extract(payload, '$.closed_ms') <= ? ORDER BY id",
                        (since_ms, until_ms)).fetchall()
    return [json.loads(p) for (p,) in rows]


def stage_in_progress(conn: sqlite3.Connection, stage: str) -> dict[str, Any] | None:
    """The payload (and `event`: its id) of the latest `stage_started` of `stage` with no result
    of that step recorded after it, or None."""
    started = None
    for event in events(conn, kinds=("stage_started", "phase_result")):
        p = event["payload"]
        if event["kind"] == "stage_started" and p.get("stage") == stage:
            started = {**p, "event": event["id"]}
        elif event["kind"] == "phase_result" and p.get("step") == stage:
            started = None
    return started


# -- results and sign-offs ---------------------------------------------------------------------------

def latest_result_per_step(conn: sqlite3.Connection, counts: Callable[[dict[str, Any]], bool] = lambda event: True,
                           ) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """{step: (result, sign-off)}: the latest counting result (`phase_result` of kind `phase`
    for which `counts(event)`) of each step, and the sign-off of that exact result (None when it
    has none). Both are events."""
    results: dict[str, dict] = {}
    signoffs: dict[str, dict] = {}
    for ev in events(conn, kinds=("phase_result", "signoff")):
        p = ev["payload"]
        step = p.get("step")
        if ev["kind"] == "phase_result" and p.get("kind") == "phase" and counts(ev):
            results[step] = ev
            signoffs.pop(step, None)
        elif ev["kind"] == "signoff" and step in results and p.get("result_event") == results[step]["id"]:
            signoffs[step] = ev
    return {step: (res, signoffs.get(step)) for step, res in results.items()}


def results_and_signoffs_per_step(conn: sqlite3.Connection, counts: Callable[[dict[str, Any]], bool] = lambda event: True,
                                  ) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """{step: (results, sign-offs)}: every counting result (`phase_result` of kind `phase` for
    which `counts(event)`) of each step that has one, and every sign-off of the step for which
    `counts(event)`, both as events in ledger order."""
    results: dict[str, list[dict]] = {}
    signoffs: dict[str, list[dict]] = {}
    for ev in events(conn, kinds=("phase_result", "signoff")):
        p = ev["payload"]
        step = str(p.get("step"))
        if ev["kind"] == "phase_result" and p.get("kind") == "phase" and counts(ev):
            results.setdefault(step, []).append(ev)
        elif ev["kind"] == "signoff" and counts(ev):
            signoffs.setdefault(step, []).append(ev)
    return {step: (found, signoffs.get(step, [])) for step, found in results.items()}


def latest_results(conn: sqlite3.Connection) -> dict[tuple[str, str], dict[str, Any]]:
    """{(step, result kind): event}: the latest `phase_result` per step and kind (`phase`,
    `backtest`, `import`)."""
    latest: dict[tuple[str, str], dict] = {}
    for e in events(conn, kinds=("phase_result",)):
        p = e["payload"]
        latest[(str(p.get("step")), str(p.get("kind", "phase")))] = e
    return latest


def latest_result(conn: sqlite3.Connection, step: str) -> dict[str, Any] | None:
    """The newest counting result (kind `phase`) of `step`, as an event, or None."""
    for event in events(conn, kinds=("phase_result",), descending=True):
        p = event["payload"]
        if p.get("step") == step and p.get("kind", "phase") == "phase":
            return event
    return None


def result_payloads(conn: sqlite3.Connection, result_kind: str) -> list[dict[str, Any]]:
    """Payloads of every `phase_result` of this kind (`backtest`, `import`, `phase`), in order."""
    rows = conn.execute("SELECT payload FROM events WHERE kind = 'phase_result' AND json_extract(payload, '$.kind') = ? ORDER BY id",
                        (result_kind,)).fetchall()
    return [json.loads(p) for (p,) in rows]


def research_result_counts(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(step, result kind, how many) of the results kept as evidence only (kind not `phase`)."""
    return conn.execute(
        "SELECT json_extract(payload, '$.step'), json_extract(payload, '$.kind'), count(*) FROM events "
        "WHERE kind = 'phase_result' AND json_extract(payload, '$.kind') != 'phase' GROUP BY 1, 2").fetchall()


def signoffs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every sign-off event, in ledger order."""
    return list(events(conn, kinds=("signoff",)))


def signed_result(conn: sqlite3.Connection, step: str) -> dict[str, Any] | None:
    """The payload of the result that the latest sign-off of `step` signed, or None."""
    signed = [e["payload"]["result_event"] for e in events(conn, kinds=("signoff",)) if e["payload"].get("step") == step]
    if not signed:
        return None
    row = conn.execute("SELECT payload FROM events WHERE id = ?", (signed[-1],)).fetchone()
    return json.loads(row[0]) if row else None


def latest_stress_result(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """The payload of the newest `stress_result` recorded under `key`, or None."""
    row = conn.execute("SELECT payload FROM events WHERE kind = 'stress_result' AND json_extract(payload, '$.key') = ? "
                       "ORDER BY id DESC LIMIT 1", (key,)).fetchone()
    return json.loads(row[0]) if row else None


# -- a watched ledger: one connection per ledger and thread, re-read when the head moved ------------

def _identity(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        raise LedgerError(f"no ledger at {path}; run `livegate init`") from None
    return st.st_dev, st.st_ino


class WatchedLedger:
    """A read-only connection kept open on one ledger, and what was derived from it as of its
    head: `derived(read)` runs `read(conn)` again only when events were appended since."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.conn = connect_readonly(path)
        self.ident = _identity(self.path)
        self._derived: dict[Callable, tuple[int, Any]] = {}
        self.extras: dict[str, Any] = {}  # what a reader keeps beside this connection (modes: the chain it followed)

    def derived(self, read: Callable[[sqlite3.Connection], T]) -> T:
        last_id = head_id(self.conn)
        cached = self._derived.get(read)
        if cached is None or cached[0] != last_id:
            cached = self._derived[read] = (last_id, read(self.conn))
        return cached[1]

    def replaced(self) -> bool:
        """Whether the file at the path is no longer the one opened (LedgerError when gone)."""
        return self.ident != _identity(self.path)

    def close(self) -> None:
        self.conn.close()


_MAX_WATCHED = 8
_local = threading.local()


def _forget_after_fork() -> None:
    global _local
    _local = threading.local()  # a forked child opens its own connections


os.register_at_fork(after_in_child=_forget_after_fork)


def watched(key: Hashable, path: Callable[[], Path]) -> WatchedLedger:
    """This thread's watched connection to a ledger, kept under `key` (a workspace's root); `path()`
    names the ledger and is asked only when a connection is opened (this runs before every order:
    nothing is built per call). At most a few are kept open; one whose file was replaced — or a
    relative path that now means another one — is reopened."""
    views: OrderedDict | None = getattr(_local, "views", None)
    if views is None:
        views = _local.views = OrderedDict()
    view = views.get(key)
    if view is not None and view.replaced():
        view.close()
        del views[key]  # even when reopening fails below: a closed view is never used again
        view = None
    if view is None:
        view = views[key] = WatchedLedger(path())
        while len(views) > _MAX_WATCHED:
            views.popitem(last=False)[1].close()
    return view
