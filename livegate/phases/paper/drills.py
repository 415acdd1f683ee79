"""Risk-guardian drills (seed 000 §2.3, seed 003 Phase 4) and the synthetic stress test
(seed 000 §2.5), run through the same gateway and engine as a paper run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.core.fills import default_rules
from livegate.core.gateway import NullJournal, OrderGateway
from livegate.core.guardian import RiskState
from livegate.core.orders import BUY, OrderIntent
from livegate.core.portfolio import Portfolio, Position
from livegate.core.simulator import PaperExecutor
from livegate.services.trading import SIMULATION, assemble_gateway

DRILL_SYMBOL, DRILL_PRICE, DRILL_EQUITY = "BTC/USDT", 50_000.0, 10_000.0
DAY_START_MS = 1_704_153_600_000  # 2024-01-02T00:00Z, a Tuesday


def _gateway(risk, state: RiskState, account: Portfolio) -> OrderGateway:
    rules = {DRILL_SYMBOL: default_rules(DRILL_SYMBOL, DRILL_PRICE)}
    return assemble_gateway(SIMULATION, risk=risk, executor=PaperExecutor(rules), account=account, state=state, rules=rules,
                            journal=NullJournal(), id_prefix="drill")


def _account(cash: float = DRILL_EQUITY, held_value: float = 0.0) -> Portfolio:
    acct = Portfolio(cash=cash - held_value, last_price={DRILL_SYMBOL: DRILL_PRICE})
    if held_value:
        acct.positions[DRILL_SYMBOL] = Position(held_value / DRILL_PRICE, held_value, 0.0, DAY_START_MS)
    return acct


def _state(equity: float, day_open: float | None = None, peak: float | None = None) -> RiskState:
    st = RiskState(peak_equity=peak or equity)
    st.mark(DAY_START_MS, day_open or equity)
    st.mark(DAY_START_MS + 3_600_000, equity)
    return st


def run_drills(risk) -> list[dict[str, Any]]:
    """Each drill crafts one dangerous order against the workspace's own limits and expects
    the named rule to stop it (or, for the position cap, to shrink it)."""
    g = risk.guardian
    lim = risk.live_trading
    now = DAY_START_MS + 7_200_000
    small = DRILL_EQUITY * min(g.max_trade_pct, lim.max_position_pct) / 4
    cases: list[tuple[str, str, Callable[[], tuple]]] = [
        ("position_size", "max_trade_pct", lambda: (_state(DRILL_EQUITY), _account(), OrderIntent(DRILL_SYMBOL, BUY, quote_amount=DRILL_EQUITY * (g.max_trade_pct + 0.01)))),
        ("daily_loss", "daily_loss_halt_buys", lambda: (_state(DRILL_EQUITY * (1 - g.daily_loss_halt_buys_pct - 0.01), day_open=DRILL_EQUITY, peak=DRILL_EQUITY),
                                                        _account(DRILL_EQUITY * (1 - g.daily_loss_halt_buys_pct - 0.01)), OrderIntent(DRILL_SYMBOL, BUY, quote_amount=small))),
        ("drawdown", "drawdown_halt_buys", lambda: (_state(DRILL_EQUITY * (1 - g.drawdown_halt_buys_pct - 0.01), peak=DRILL_EQUITY),
                                                    _account(DRILL_EQUITY * (1 - g.drawdown_halt_buys_pct - 0.01)), OrderIntent(DRILL_SYMBOL, BUY, quote_amount=small))),
        ("falling_knife", "falling_knife", lambda: (_state(DRILL_EQUITY), _account(), OrderIntent(DRILL_SYMBOL, BUY, quote_amount=small, sentiment=g.falling_knife_sentiment - 0.1))),
        ("leverage", "max_leverage", lambda: (_state(DRILL_EQUITY), _account(), OrderIntent(DRILL_SYMBOL, BUY, quote_amount=small, leverage=lim.max_leverage + 1))),
    ]
    out = []
    for name, rule, make in cases:
        state, account, intent = make()
        decision = _gateway(risk, state, account).submit(intent, now)
        rules_hit = [b.rule for b in decision.blocks]
        out.append({"name": name, "rule": rule, "blocked": rule in rules_hit and not decision.accepted,
                    "blocks": [[b.rule, b.message] for b in decision.blocks], "intent": {"quote_amount": intent.quote_amount, "sentiment": intent.sentiment, "leverage": intent.leverage}})
    # Seed 003: a position may not exceed max_position_pct of equity; a buy that would is capped.
    # The USD position and capital limits are opened up here so that the cap under test decides.
    risk_open = risk.model_copy(update={"live_trading": lim.model_copy(update={"max_position_size": DRILL_EQUITY * 10, "max_total_capital": DRILL_EQUITY * 10})})
    held = DRILL_EQUITY * (lim.max_position_pct - g.max_trade_pct / 2)
    state, account = _state(DRILL_EQUITY), _account(held_value=held)
    intent = OrderIntent(DRILL_SYMBOL, BUY, quote_amount=DRILL_EQUITY * g.max_trade_pct)
    decision = _gateway(risk_open, state, account).submit(intent, now)
    value = decision.order.amount * DRILL_PRICE if decision.order else 0.0
    capped = decision.accepted and any(c.startswith("max_position_pct") for c in decision.caps) and held + value <= lim.max_position_pct * DRILL_EQUITY * 1.001
    out.append({"name": "position_cap", "rule": "max_position_pct", "blocked": capped, "caps": decision.caps,
                "blocks": [[b.rule, b.message] for b in decision.blocks], "intent": {"quote_amount": intent.quote_amount, "held": held}})
    return out
