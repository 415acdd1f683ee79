"""livegate's own exceptions. Library code raises these; only the CLI maps them to exit codes."""

from __future__ import annotations


class LivegateError(Exception):
    """Base class: an expected failure with a message meant for the operator."""


class ConfigError(LivegateError):
    """Bad input: a config file, a flag value or a data file is wrong.

    `problems` holds one line per problem, each naming file, line and key.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class UsageError(LivegateError):
    """The command was called in a way that cannot work (missing workspace, bad argument)."""


class GateClosed(LivegateError):
    """A prerequisite of the requested phase is missing; `reasons` says each."""

    def __init__(self, target: str, reasons: list[str]):
        self.target = target
        self.reasons = list(reasons)
        super().__init__(f"gate closed for {target}: " + "; ".join(self.reasons))


class CriteriaNotMet(LivegateError):
    """A phase ran and recorded its result, but at least one required criterion failed."""


class TradingHalted(LivegateError):
    """Trading is halted (kill switch or EMERGENCY_STOP); no new order may be placed."""


class VenueUnreachable(LivegateError):
    """An exchange or chain node could not be reached or refused the request."""


class LedgerError(LivegateError):
    """The ledger is missing, unreadable, or failed verification."""


class KeyMissing(LivegateError):
    """The operator's signing key is needed but not found."""


class StrategyError(LivegateError):
    """The strategy raised or returned something that is not a list of order intents."""


class Interrupted(LivegateError):
    """The operator stopped a run (Ctrl-C, SIGTERM); it stopped at its last checkpoint."""


class VenueRefused(VenueUnreachable):
    """The venue answered but refused the request; `code` is its own error code when it gave one."""

    def __init__(self, message: str, *, venue: str | None = None, code: int | None = None):
        super().__init__(message)
        self.venue, self.code = venue, code


class ExchangeAuthError(VenueRefused):
    """The exchange refused the API key: wrong key or secret, IP not whitelisted, missing permission."""


class ClockSkewError(VenueRefused):
    """The exchange refused a request's timestamp: the local clock is off from the exchange's."""


class InsufficientFundsError(VenueRefused):
    """The account does not hold the balance the order needs."""


class OrderRejected(VenueRefused):
    """The exchange refused the order itself: a symbol filter (LOT_SIZE, MIN_NOTIONAL, PRICE_FILTER),
    a duplicate client order id, an unknown symbol or a malformed parameter."""


class OrderNotFound(VenueRefused):
    """The exchange knows no such order, or it is no longer open."""


class RateLimited(VenueUnreachable):
    """The exchange is throttling requests (HTTP 429/418); `retry_after` is in seconds when it said."""

    def __init__(self, message: str, *, venue: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.venue, self.retry_after = venue, retry_after


class VenueTimeout(VenueUnreachable):
    """No answer in time. A request that places an order may or may not have taken effect."""
