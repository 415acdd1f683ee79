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
