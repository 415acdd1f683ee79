"""Retrying a call with exponential backoff: the one helper behind every retry loop (venue calls,
alert deliveries). Pure: it never reads a clock or sleeps by itself — the caller passes `sleep`
(and, for jitter, the random source), so tests run it without waiting.

    backoff = Backoff(base=0.5, cap=4.0)            # 0.5, 1, 2, 4, 4, ... seconds
    call_with_retries(fetch, attempts=3, backoff=backoff, sleep=time.sleep,
                      retryable=lambda exc: isinstance(exc, TimeoutError))

A failure `retryable` refuses is raised at once; when every attempt failed, RetriesExhausted
(its `last` is the last failure, also its `__cause__`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: `base` before the first retry, multiplied by `factor` before each
    next one, never above `cap` (None: no cap). `jitter` (0..1) shortens each delay by up to that
    fraction at random — `rng()` in [0, 1) picks how much — so clients do not retry in step."""

    base: float
    factor: float = 2.0
    cap: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter is a fraction from 0 to 1 (got {self.jitter})")

    def delay(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry number `retry` (0: before the second attempt)."""
        wait = self.base * self.factor ** retry
        if self.cap is not None:
            wait = min(wait, self.cap)
        if self.jitter:
            wait *= 1.0 - self.jitter * rng()
        return wait

    def delays(self, retries: int, rng: Callable[[], float] = random.random) -> list[float]:
        """The waits of `retries` retries in turn."""
        return [self.delay(i, rng) for i in range(retries)]


class RetriesExhausted(Exception):
    """Every attempt failed with a retryable error: `last` is the last one, `attempts` how many ran."""

    def __init__(self, last: BaseException | None, attempts: int):
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.last, self.attempts = last, attempts


def call_with_retries(fn: Callable[[], T], *, attempts: int, backoff: Backoff, sleep: Callable[[float], None],
                      retryable: Callable[[Exception], bool] = lambda exc: True,
                      min_wait: Callable[[Exception], float | None] | None = None,
                      on_failure: Callable[[Exception, bool], None] | None = None,
                      rng: Callable[[], float] = random.random) -> T:
    """`fn()`'s result, calling it up to `attempts` times.

    A failure (an Exception) that `retryable` refuses is re-raised at once, as it is. Otherwise
    `on_failure(exc, retrying)` is told (`retrying` is False after the last attempt) and, when
    attempts remain, `sleep` waits `backoff.delay(n)` — or `min_wait(exc)` when that is longer
    (a server's Retry-After) — before the next call. When none succeeded: RetriesExhausted."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified by `retryable`
            if not retryable(exc):
                raise
            last = exc
        retrying = attempt < attempts - 1
        if on_failure is not None:
            on_failure(last, retrying)
        if retrying:
            wait = backoff.delay(attempt, rng)
            hint = min_wait(last) if min_wait is not None else None
            sleep(max(wait, hint or 0.0))
    raise RetriesExhausted(last, max(attempts, 0)) from last
