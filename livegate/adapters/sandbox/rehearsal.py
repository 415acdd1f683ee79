"""Following a local sandbox's market clock: rehearsals only.

A livegate sandbox started with `livegate sandbox serve --clock step` holds market time still.
A rehearsal's loop (`go-live --sandbox-clock`, `paper-run --sandbox-clock`, `livegate demo`)
reads the time from it and moves it forward over its admin API each time it waits — one bar at
a time, once it is done with the last one. Nothing depends on how fast the machine is: a busy
machine makes the rehearsal slower, never different.

`follow_sandbox_clock` decides whether a command may do that: only when the workspace's exchange
base URL (`exchange.base_url`, else $LIVEGATE_EXCHANGE_BASE_URL — the URL every order goes to) is
on this machine and answers `GET /_sandbox/clock` as a livegate sandbox on a step clock. Every
other venue is refused, so a real stage's hours can never be shortened."""

from __future__ import annotations

import http.client
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from livegate.adapters.exchange.venue import BASE_URL_ENV, exchange_base_url, is_loopback
from livegate.adapters.sandbox.market import STEP
from livegate.adapters.sandbox.venue import SANDBOX_ID
from livegate.core.errors import UsageError, VenueUnreachable

FLAG = "--sandbox-clock"
SHORT_WAIT_S = 30.0  # a wait shorter than this (retry back-off, a poll for an approval) ...
SHORT_WAIT_PAUSE_S = 0.05  # ... also pauses this much wall time, so whoever we wait for gets a turn
TIMEOUT_S = 10.0
SERVE_HINT = "start one with `livegate sandbox serve --clock step --write-config`"


class NotASandbox(Exception):
    """The URL answered, but not as a livegate sandbox."""


class SandboxClock:
    """The market clock of a livegate sandbox on a step clock, read and moved over HTTP.

    `now()` (seconds) and `market_ms()` read it; `sleep(s)` lets `s` seconds of market time
    pass at once; `align(bar_ms)` moves it to the next bar boundary, `start_on_bar(bar_ms)` does
    that at the first read or wait (a run refused before it starts moves nothing). Every move
    names the market time to reach (`POST /_sandbox/advance {"to": T}`), so a request repeated
    after a lost answer never moves the market twice."""

    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{base_url!r} is not an http(s) URL")
        self.url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None
        self._align_ms: int | None = None

    # -- reading and moving the clock ------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """GET /_sandbox/clock: `sandbox`, `clock` (wall or step), `market_time`, `bar_ms`, ..."""
        return self._checked(self._call("GET", "clock"))

    def market_ms(self) -> int:
        self._pending_alignment()
        return int(self.describe()["market_time"])

    def now(self) -> float:
        """Market time in seconds (what the loop measures a stage's hours with)."""
        return self.market_ms() / 1000.0

    def advance_to(self, market_ms: int) -> int:
        """Move market time forward to `market_ms` (nothing when it is there already); returns it."""
        return int(self._checked(self._call("POST", "advance", {"to": int(market_ms)}))["market_time"])

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of market time pass, at once. A short wait (under SHORT_WAIT_S: a retry's
        back-off, a poll for an approval from another terminal) also pauses SHORT_WAIT_PAUSE_S
        of wall time, so the other side gets its turn."""
        if seconds > 0:
            self.advance_to(self.market_ms() + int(round(seconds * 1000)))
        else:
            self._pending_alignment()
        if seconds < SHORT_WAIT_S:
            time.sleep(min(max(seconds, 0.0), SHORT_WAIT_PAUSE_S))

    def align(self, bar_ms: int) -> int:
        """Move market time to the next multiple of `bar_ms` unless it is on one: the loop then
        sees every bar the moment it closes. Returns the market time."""
        now = self.market_ms()
        return now if now % bar_ms == 0 else self.advance_to((now // bar_ms + 1) * bar_ms)

    def start_on_bar(self, bar_ms: int) -> None:
        """Align to the next multiple of `bar_ms` at the first read or wait, not before: the
        loop starts on a bar boundary, and a command refused before its loop runs (a gate
        closed, another live process holding the workspace) leaves the market where it was."""
        self._align_ms = bar_ms

    def _pending_alignment(self) -> None:
        if self._align_ms is not None:
            bar_ms, self._align_ms = self._align_ms, None
            self.align(bar_ms)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- HTTP --------------------------------------------------------------------------------------

    def _checked(self, answer: dict[str, Any]) -> dict[str, Any]:
        if answer.get("clock") != STEP:
            raise UsageError(f"the sandbox at {self.url} no longer runs a step clock (it says {answer.get('clock')!r}); "
                             f"a rehearsal follows only a step clock: {SERVE_HINT}")
        return answer

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self.timeout_s)
        return self._conn

    def _call(self, method: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One admin request; a dropped keep-alive connection is reopened once (every request is
        safe to repeat). Raises VenueUnreachable when nothing answers, NotASandbox when the
        answer is not a livegate sandbox's."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        path = f"{self._prefix}/_sandbox/{action}"
        for attempt in (1, 2):
            try:
                conn = self._connect()
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                status, raw = response.status, response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise VenueUnreachable(f"the local sandbox at {self.url} did not answer ({type(exc).__name__}: {exc}); "
                                           f"is `livegate sandbox serve --clock step` still running?") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("sandbox") != SANDBOX_ID:
            raise NotASandbox(f"{method} {path} answered HTTP {status}, not as a livegate sandbox")
        if status != 200:
            raise UsageError(f"the sandbox at {self.url} refused {method} /_sandbox/{action}: {answer.get('error', status)}")
        return answer


def feed_source(section: Any) -> tuple[str, bool]:
    """How a forward run names its market data in the ledger, and whether those prices are
    synthetic: a livegate sandbox on this machine serves generated prices; the exchange's test
    network, a proxy or the venue itself are named as such."""
    venue = getattr(section, "id", "exchange")
    url = exchange_base_url(section)
    if url and is_loopback(url):
        try:
            found = probe(url)
        except VenueUnreachable:
            found = None  # the run itself reports an unreachable venue
        if found is not None:
            return f"livegate sandbox at {url}, generated prices", True
        return f"{venue} via {url} (this machine)", False
    if getattr(section, "testnet", False):
        return f"{venue} testnet", False
    return (f"{venue} via {url}" if url else f"{venue} live"), False


def probe(url: str) -> dict[str, Any] | None:
    """The clock of the livegate sandbox at `url` (GET /_sandbox/clock, any clock mode), or
    None when something else answers. Raises VenueUnreachable when nothing answers."""
    clock = SandboxClock(url, timeout_s=5.0)
    try:
        return clock._call("GET", "clock")
    except NotASandbox:
        return None
    finally:
        clock.close()


def follow_sandbox_clock(section: Any, wanted: bool, command: str) -> SandboxClock | None:
    """The sandbox clock `command` follows, or None when it runs on the wall clock.

    `wanted` (the command's --sandbox-clock): see `sandbox_clock_of`. Not wanted: None — except
    that a step-clock sandbox on this machine is refused too, since its market would never move
    and the command would wait forever."""
    if wanted:
        return sandbox_clock_of(section, command)
    url = exchange_base_url(section)
    if url and is_loopback(url):
        try:
            found = probe(url)
        except VenueUnreachable:
            return None  # the command itself reports an unreachable venue
        if found is not None and found.get("clock") == STEP:
            raise UsageError(f"the sandbox at {url} holds market time still until a rehearsal moves it: "
                             f"run `livegate {command} {FLAG}` to follow its clock")
    return None


def sandbox_clock_of(section: Any, command: str) -> SandboxClock:
    """The step clock of the livegate sandbox the workspace's exchange points at. UsageError for
    any other venue — no base URL (the venue itself), a host that is not this machine, a server
    that is not a livegate sandbox, a sandbox on a wall clock; VenueUnreachable when nothing
    answers there."""
    url = getattr(section, "base_url", None)  # livegate.yaml's, signed off with the config — never the environment's
    venue = getattr(section, "id", "the exchange")
    refusal = f"{FLAG} is for rehearsals on the local sandbox only; it never shortens real market time"
    if not url:
        also = (f" ({BASE_URL_ENV} is not enough: a rehearsal's sandbox must be the one livegate.yaml names, which the sign-offs cover)"
                if os.environ.get(BASE_URL_ENV) else "")
        raise UsageError(f"{refusal}: exchange.base_url is not set, so `livegate {command}` trades on {venue} itself{also} ({SERVE_HINT})")
    if not is_loopback(url):
        raise UsageError(f"{refusal}: exchange.base_url {url} is not on this machine ({SERVE_HINT})")
    found = probe(url)
    if found is None:
        raise UsageError(f"{refusal}: {url} does not answer as a livegate sandbox ({SERVE_HINT})")
    if found.get("clock") != STEP:
        raise UsageError(f"the sandbox at {url} runs its market clock on wall time (--speed), which a busy machine "
                         f"falls behind: restart it with `livegate sandbox serve --clock step` to rehearse with {FLAG}")
    return SandboxClock(url)
