"""The one retry helper (livegate.core.retry) and the two loops built on it: the exchange's
`Retry` (error translation, Retry-After, counters) and the alert delivery's backoff."""

from __future__ import annotations

import pytest

from livegate.adapters.exchange.retry import Retry
from livegate.core.errors import ExchangeAuthError, RateLimited, VenueTimeout, VenueUnreachable
from livegate.core.retry import Backoff, RetriesExhausted, call_with_retries


class Flaky:
    """Fails with each of `errors` in turn, then answers `result`."""

    def __init__(self, *errors: Exception, result="ok"):
        self.errors, self.result, self.calls = list(errors), result, 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


# -- Backoff ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "backoff, retries, expected",
    [
        (Backoff(1.0), 5, [1.0, 2.0, 4.0, 8.0, 16.0]),
        (Backoff(0.5, cap=4.0), 6, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]),
        (Backoff(0.25, factor=3.0), 3, [0.25, 0.75, 2.25]),
        (Backoff(2.0, factor=1.0), 3, [2.0, 2.0, 2.0]),
        (Backoff(0.0), 2, [0.0, 0.0]),
    ],
)
def test_backoff_delays(backoff, retries, expected):
    assert backoff.delays(retries) == pytest.approx(expected)


def test_jitter_shortens_each_delay_by_at_most_its_fraction():
    backoff = Backoff(1.0, cap=3.0, jitter=0.5)
    assert backoff.delays(3, rng=lambda: 0.0) == [1.0, 2.0, 3.0]  # no shortening
    assert backoff.delays(3, rng=lambda: 0.5) == [0.75, 1.5, 2.25]  # a quarter off
    assert backoff.delay(2, rng=lambda: 0.999999) == pytest.approx(1.5, abs=1e-5)  # at most half off


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_jitter_is_a_fraction(jitter):
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1.0, jitter=jitter)


# -- call_with_retries ----------------------------------------------------------------------------
def test_returns_the_first_success_and_sleeps_the_backoff_between_attempts():
    slept: list[float] = []
    fn = Flaky(TimeoutError("a"), TimeoutError("b"), result=42)
    assert call_with_retries(fn, attempts=5, backoff=Backoff(0.5), sleep=slept.append) == 42
    assert fn.calls == 3 and slept == [0.5, 1.0]


def test_no_sleep_after_the_last_attempt_then_retries_exhausted():
    slept: list[float] = []
    last = TimeoutError("third")
    fn = Flaky(TimeoutError("first"), TimeoutError("second"), last)
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fn, attempts=3, backoff=Backoff(1.0), sleep=slept.append)
    assert caught.value.last is last and caught.value.attempts == 3 and caught.value.__cause__ is last
    assert fn.calls == 3 and slept == [1.0, 2.0]


def test_a_failure_not_retryable_is_raised_at_once_unchanged():
    slept: list[float] = []
    refusal = PermissionError("no")
    fn = Flaky(TimeoutError("t"), refusal)
    with pytest.raises(PermissionError) as caught:
        call_with_retries(fn, attempts=5, backoff=Backoff(1.0), sleep=slept.append,
                          retryable=lambda exc: isinstance(exc, TimeoutError))
    assert caught.value is refusal and fn.calls == 2 and slept == [1.0]


def test_min_wait_lengthens_a_delay_never_shortens_it():
    slept: list[float] = []
    fn = Flaky(KeyError(7.0), KeyError(0.1), KeyError(None))
    call_with_retries(fn, attempts=4, backoff=Backoff(1.0), sleep=slept.append, min_wait=lambda exc: exc.args[0])
    assert slept == [7.0, 2.0, 4.0]


def test_on_failure_hears_every_retryable_failure_and_whether_another_attempt_follows():
    heard: list[tuple[str, bool]] = []
    fn = Flaky(TimeoutError("a"), TimeoutError("b"))
    with pytest.raises(RetriesExhausted):
        call_with_retries(fn, attempts=2, backoff=Backoff(0.0), sleep=lambda s: None,
                          on_failure=lambda exc, retrying: heard.append((str(exc), retrying)))
    assert heard == [("a", True), ("b", False)]


def test_jitter_uses_the_given_random_source():
    slept: list[float] = []
    fn = Flaky(TimeoutError(), TimeoutError(), result=None)
    call_with_retries(fn, attempts=3, backoff=Backoff(2.0, jitter=1.0), sleep=slept.append, rng=lambda: 0.25)
    assert slept == [1.5, 3.0]


def test_base_exceptions_are_not_retried():
    fn = Flaky(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        call_with_retries(fn, attempts=3, backoff=Backoff(0.0), sleep=lambda s: None)
    assert fn.calls == 1


# -- the exchange's Retry on top of it ------------------------------------------------------------
def test_exchange_retry_doubles_from_base_delay_and_honours_retry_after():
    slept: list[float] = []
    calls: list[bool] = []
    retry = Retry(attempts=4, base_delay=0.5, sleep=slept.append, venue="binance",
                  on_call=lambda ok, seconds: calls.append(ok))
    fn = Flaky(VenueTimeout("slow"), RateLimited("429", retry_after=3.0), VenueUnreachable("down"), result="ok")
    assert retry(fn) == "ok"
    assert slept == [0.5, 3.0, 2.0] and calls == [False, False, False, True]
    assert retry.retries == 3 and retry.rate_limited == 1


def test_exchange_retry_gives_up_with_the_venue_and_the_last_error():
    slept: list[float] = []
    retry = Retry(attempts=3, base_delay=1.0, sleep=slept.append, venue="binance", then="try later")
    with pytest.raises(VenueUnreachable) as caught:
        retry(Flaky(VenueTimeout("a"), VenueTimeout("b"), RateLimited("c")))
    assert str(caught.value) == "binance unreachable after 3 attempts (c); try later"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert slept == [1.0, 2.0] and retry.retries == 2 and retry.rate_limited == 1


def test_exchange_retry_raises_a_refusal_at_once():
    slept: list[float] = []
    retry = Retry(attempts=5, sleep=slept.append)
    refusal = ExchangeAuthError("bad key")
    with pytest.raises(ExchangeAuthError) as caught:
        retry(Flaky(VenueTimeout("t"), refusal))
    assert caught.value is refusal and slept == [1.0] and retry.retries == 1


def test_exchange_retry_translates_a_network_error():
    retry = Retry(attempts=2, base_delay=0.0, sleep=lambda s: None, venue="binance")
    with pytest.raises(VenueUnreachable, match=r"^binance unreachable after 2 attempts \(binance is unreachable"):
        retry(Flaky(ConnectionError("refused"), ConnectionError("refused")))


def test_exchange_retry_keeps_its_dataclass_defaults():
    retry = Retry()
    assert (retry.attempts, retry.base_delay, retry.retries, retry.rate_limited) == (5, 1.0, 0, 0)
