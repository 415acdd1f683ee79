"""The crash harness: a real livegate process killed with SIGKILL right after the venue accepted
one of its orders, then resumed as the README says, and the venue's own record compared with
the ledger.

`Killer` hooks the local exchange's matching engine (the venue side, in this process): when the
armed order has been accepted — booked, matched, its fills written — the livegate process is
killed before the answer leaves the venue. What livegate then knows about that order is only
what it journaled before sending it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from livegate.adapters.sandbox.local import THIN_BOOK

LIVEGATE = [sys.executable, "-m", "livegate"]
# The step clock of go-live's and trade's crash tests: market time moves only when the loop
# advances it, bar by bar.
STEP_SANDBOX = {"clock": "step", "history_bars": 600, "seed": 9, "book": THIN_BOOK, "share": "module"}


@pytest.fixture
def killer(sandbox):
    """A Killer on the test's sandbox, disarmed and removed afterwards."""
    k = Killer(sandbox)
    yield k
    k.restore()


class Killer:
    """SIGKILLs the armed process right after the venue accepts its `nth` order (counted from
    `arm`); `kills` records (pid, client order id) of every kill made."""

    def __init__(self, sandbox):
        self.engine = sandbox.venue.engine
        self._place = self.engine.place
        self.lock = threading.Lock()
        self.pid: int | None = None
        self.nth = 0
        self.seen = 0
        self.kills: list[tuple[int, str]] = []
        self.engine.place = self._placing

    def arm(self, pid: int, nth: int) -> None:
        with self.lock:
            self.pid, self.nth, self.seen = pid, nth, 0

    def disarm(self) -> None:
        with self.lock:
            self.pid = None

    def restore(self) -> None:
        self.engine.place = self._place

    def _placing(self, *args, **kwargs):
        order, trades = self._place(*args, **kwargs)
        with self.lock:
            if self.pid is not None:
                self.seen += 1
                if self.seen == self.nth:
                    os.kill(self.pid, signal.SIGKILL)
                    self.kills.append((self.pid, order.client_id))
                    self.pid = None
        return order, trades


def run_livegate(ws: Path, *args: str, killer: Killer | None = None, kill_at: int | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """`livegate -w ws <args>` as its own process; with `kill_at`, killed right after its
    `kill_at`-th order is accepted (returncode -9)."""
    proc = subprocess.Popen([*LIVEGATE, "-w", str(ws), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ), text=True)
    if killer is not None and kill_at is not None:
        killer.arm(proc.pid, kill_at)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if killer is not None:
            killer.disarm()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def ledger_events(ws: Path, prefix: str) -> list[tuple[str, dict]]:
    """(kind, payload) of the events of runs starting with `prefix`, read as an auditor would."""
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, payload FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    out = []
    for kind, payload in rows:
        p = json.loads(payload)
        if str(p.get("run", "")).startswith(prefix):
            out.append((kind, p))
    return out


@dataclass
class Comparison:
    """The venue's record against the ledger's, for orders whose client id starts with a prefix."""

    venue_orders: int = 0
    doubled: list[str] = field(default_factory=list)  # client ids the venue holds more than once
    unknown_to_ledger: list[str] = field(default_factory=list)  # venue orders the ledger never journaled as sending
    venue_fills: int = 0
    missing_fills: list[str] = field(default_factory=list)  # venue trades the ledger lacks
    phantom_fills: list[str] = field(default_factory=list)  # ledger fills the venue does not have
    differing_fills: list[str] = field(default_factory=list)
    unapplied_fills: list[str] = field(default_factory=list)  # venue fills never applied to positions (no `fill`)
    resting: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.doubled or self.unknown_to_ledger or self.missing_fills or self.phantom_fills
                    or self.differing_fills or self.unapplied_fills or self.resting)


def compare(sandbox, api_key: str, events: list[tuple[str, dict]], prefix: str) -> Comparison:
    venue = sandbox.venue
    account = venue.account_of(venue.keys[api_key])
    mine = [o for o in list(account.orders.values()) if o.client_id.startswith(prefix)]
    c = Comparison(venue_orders=len(mine))
    counts = Counter(o.client_id for o in mine)
    c.doubled = sorted(cid for cid, n in counts.items() if n > 1)
    sent = {p["client_id"] for k, p in events if k == "order_sending"}
    c.unknown_to_ledger = sorted({o.client_id for o in mine} - sent)
    by_order = {o.order_id: o for o in mine}
    trades = {str(t.id): t for ts in list(account.trades.values()) for t in list(ts) if t.order_id in by_order}
    c.venue_fills = len(trades)
    recorded = {str(p["venue_trade"]): p for k, p in events if k == "venue_fill"}
    c.missing_fills = sorted(set(trades) - set(recorded))
    c.phantom_fills = sorted(set(recorded) - set(trades))
    for tid in set(trades) & set(recorded):
        t, f = trades[tid], recorded[tid]
        if abs(t.qty - f["amount"]) > 1e-12 or abs(t.price - f["price"]) > 1e-9 * t.price or \
                f["order_id"] != by_order[t.order_id].client_id:
            c.differing_fills.append(tid)
    applied = Counter(p["order_id"] for k, p in events if k == "fill")
    journaled = Counter(p["order_id"] for p in recorded.values())
    c.unapplied_fills = sorted(cid for cid, n in journaled.items() if applied.get(cid, 0) < n)
    c.resting = sorted(o.client_id for o in mine if o.status in ("NEW", "PARTIALLY_FILLED"))
    return c


def kill_points(default: tuple[int, ...]) -> tuple[int, ...]:
    """The kill sequence of a crash test: `default`, or $CRASH_HARNESS_KILLS ("1,3,2,...": each
    process is killed after its n-th accepted order) when benchmarks/crash_harness.py runs more."""
    raw = os.environ.get("CRASH_HARNESS_KILLS")
    return tuple(int(x) for x in raw.split(",")) if raw else default


def kill_after_each(ws: Path, args: tuple[str, ...], killer: Killer, points: tuple[int, ...]) -> None:
    """Run `livegate *args` once per kill point, each process killed (SIGKILL) right after the
    venue accepts its n-th order."""
    for n in points:
        killed = run_livegate(ws, *args, killer=killer, kill_at=n)
        assert killed.returncode == -9, (n, killed.stdout[-2000:], killed.stderr[-2000:])
    assert len(killer.kills) == len(points)


def exactly_once(sandbox, api_key: str, ws: Path, run: str, killer: Killer, flow: str) -> tuple[list[tuple[str, dict]], Comparison]:
    """The run's ledger events against the venue's own record: exactly once (nothing doubled,
    missing, phantom, unapplied or left resting), and every order a kill interrupted found at the
    venue by its client id and adopted, never sent again. Returns (events, comparison)."""
    events = ledger_events(ws, run)
    c = compare(sandbox, api_key, events, run)
    assert c.exact, c
    adopted = {p["client_id"] for k, p in events if k == "order_acknowledged" and p.get("recovered")}
    assert {cid for _, cid in killer.kills} <= adopted
    report_figures(flow, len(killer.kills), c, len(adopted))
    return events, c


def report_figures(flow: str, kills: int, c: Comparison, orders_adopted: int) -> None:
    """Append one flow's figures to $CRASH_HARNESS_REPORT (JSON lines) when it is set."""
    path = os.environ.get("CRASH_HARNESS_REPORT")
    if not path:
        return
    with open(path, "a") as fh:
        fh.write(json.dumps({"flow": flow, "kills": kills, "venue_orders": c.venue_orders, "venue_fills": c.venue_fills,
                             "doubled": len(c.doubled), "missing_fills": len(c.missing_fills),
                             "phantom_fills": len(c.phantom_fills), "differing_fills": len(c.differing_fills),
                             "unapplied_fills": len(c.unapplied_fills), "resting": len(c.resting),
                             "adopted_after_kill": orders_adopted}) + "\n")
