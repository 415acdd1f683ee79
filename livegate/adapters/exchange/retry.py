"""Calling a venue with backoff: network trouble, timeouts and rate limits are retried;
refusals (a bad key, a skewed clock, a bad symbol) are not — retrying them only hides them.
The loop and its delays are `livegate.core.retry`'s; this adds ccxt's error translation, the
breakers' call timings and the venue's wording."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livegate.adapters.exchange.client import translate_error
from livegate.core.errors import RateLimited, VenueRefused, VenueUnreachable
from livegate.core.retry import Backoff, RetriesExhausted, call_with_retries


@dataclass
class Retry:
    """Call `fn` up to `attempts` times, waiting `base_delay`, then twice as long each time (a
    429's Retry-After when it asks for longer). Every call's outcome and latency go to
    `on_call(ok, seconds)` (the breakers); `retries` and `rate_limited` count what happened.
    When every attempt failed: VenueUnreachable, its message ending with `then`.

    An error of `on_call` never replaces the call's outcome nor stops it: it is counted in
    `on_call_errors`. A client observed by `venue_calls.observe` tells its listeners of every
    request itself — leave `on_call` unset for it, or each call counts twice."""

    attempts: int = 5
    base_delay: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    on_call: Callable[[bool, float], None] | None = None
    venue: str = "exchange"
    client: Any = None  # the ccxt client, for the Retry-After of a 429
    then: str = "the run stopped at its last checkpoint — resume with `livegate paper-run --resume`"
    retries: int = 0
    rate_limited: int = 0
    on_call_errors: int = 0

    def __call__(self, fn: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            t0 = time.perf_counter()
            try:
                out = fn()
            except Exception as exc:  # noqa: BLE001 - translated, then classified by `retryable`
                self._tell(False, time.perf_counter() - t0)
                raise translate_error(exc, venue=self.venue, exchange=self.client) from None
            self._tell(True, time.perf_counter() - t0)
            return out

        def count(err: Exception, retrying: bool) -> None:
            if isinstance(err, RateLimited):
                self.rate_limited += 1
            if retrying:
                self.retries += 1

        try:
            return call_with_retries(attempt, attempts=self.attempts, backoff=Backoff(self.base_delay), sleep=self.sleep,
                                     retryable=retryable, min_wait=lambda err: getattr(err, "retry_after", None),
                                     on_failure=count)
        except RetriesExhausted as gave_up:
            last = None if gave_up.last is None else str(gave_up.last)
            raise VenueUnreachable(f"{self.venue} unreachable after {self.attempts} attempts ({last}); {self.then}") from None

    def _tell(self, ok: bool, seconds: float) -> None:
        if self.on_call is None:
            return
        try:
            self.on_call(ok, seconds)
        except Exception:  # noqa: BLE001 - the breakers' feed never breaks the call it times
            self.on_call_errors += 1


def retryable(err: Exception) -> bool:
    """Network trouble, timeouts and rate limits are worth retrying; refusals are not."""
    return isinstance(err, VenueUnreachable) and not isinstance(err, VenueRefused)
