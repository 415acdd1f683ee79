"""What a micro-live stage is measured by, computed from the ledger events of its runs (pure:
no I/O here). Seed 000 §4.1 (cap, duration, successful trades), seed 001 §4.3 (kill criteria:
live more than 50 % worse than paper, unexpected loss, limits not enforced) and seed 002 (win
rate within 5 points of paper). Trades are the `trade` events: one per reducing order, all
its fills together (`livegate.core.portfolio`), as in the paper run they are compared with.
The measurements themselves live in `livegate.core.kill_criteria` (the report compares paper
and live with them too) and are re-exported here.

`StallWatch` tells a stage that makes no progress: the strategy keeps asking, nothing is
accepted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from livegate.core.kill_criteria import (  # noqa: F401 - re-exported: the stage measures live here
    Baseline,
    StageSpec,
    baseline_from,
    kill_breaches,
    measure,
    order_value,
    stage_spec,
    trade_return,
)

# -- no progress ------------------------------------------------------------------------------------

STALL_BARS = 30  # the default N: bars in a row on which the strategy asked and nothing was accepted

# Refusals that wait for something that passes by itself or that a person decides — a halt (the
# loop stops on it anyway), a breaker's cooldown, the order throttles, the guardian's buy halts
# (the day's loss, the drawdown), reduce-only (lifted by a resume), an approval, a decision replayed after a restart. They neither
# count towards a stall nor end one. Every other refusal (the market's filters, dust, the caps,
# funds, the venue's refusal, a rule not known here) counts: it would refuse the same ask again.
WAITING_RULES = frozenset({"halted", "reducing", "approval", "already_sent", "min_seconds_between_trades", "max_trades_per_hour",
                           "max_trades_per_day", "daily_loss_halt_buys", "drawdown_halt_buys"})


def waiting(rule: str) -> bool:
    return rule in WAITING_RULES or rule.startswith("breaker:")


@dataclass(frozen=True)
class Stall:
    """A stage that makes no progress: `bars` bars in a row on which the strategy asked for
    `asked` orders in all, not one accepted, refused by `refusals` (rule → how often)."""

    bars: int
    asked: int
    refusals: dict[str, int]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"bars": self.bars, "asked": self.asked, "refusals": dict(self.refusals), "message": self.message}


@dataclass
class StallWatch:
    """Fed once per bar with what the strategy asked and what was accepted (`on_bar`), it says
    when a stage makes no progress: on `limit` bars in a row (default `STALL_BARS`) the
    strategy asked for at least one order and the gateway accepted none. A bar with an accepted
    order starts the count again; a bar without asks, or whose asks were only refused by rules
    that wait (`WAITING_RULES`, the breakers), leaves it as it is. Pure: no I/O, no clock."""

    limit: int = STALL_BARS
    bars: int = 0  # bars in a row on which asks were refused
    asked: int = 0  # asks on those bars
    refusals: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"the stall limit must be a whole number of bars >= 1 (got {self.limit!r})")

    def on_bar(self, asked: int, accepted: int, refusals: Iterable[str] = ()) -> Stall | None:
        """One bar: `asked` orders the strategy asked for, `accepted` of them accepted, the rules
        that refused the others (`Engine.refusals`). Returns the Stall once the limit is reached
        (and on every bar after, until an order is accepted), else None."""
        if accepted > 0:
            self.bars, self.asked = 0, 0
            self.refusals.clear()
            return None
        if asked <= 0:
            return None
        rules = list(refusals)
        counted = [r for r in rules if not waiting(r)]
        if rules and not counted:
            return None  # only rules that wait: neither progress nor a stall
        self.bars += 1
        self.asked += asked
        self.refusals.update(counted)
        return self.stall() if self.bars >= self.limit else None

    def stall(self) -> Stall:
        why = ", ".join(f"{rule} ×{n}" for rule, n in self.refusals.most_common()) or "no reason given"
        message = (f"no progress: on {self.bars} bars in a row the strategy asked for an order ({self.asked} in all) and "
                   f"none was accepted (refused by {why})")
        return Stall(self.bars, self.asked, dict(self.refusals), message)
