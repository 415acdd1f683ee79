"""An order gateway on a real venue for scripted orders (the testnet script, the production
kill-switch drill): the workspace's risk limits with the order-count throttles lifted — they
pace a strategy, not a handful of validation orders — every value, position and capital cap,
MAX_TRADE_AMOUNT, the approval and the halt still applying; the ccxt executor behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from livegate.core.errors import UsageError

SCRIPT_THROTTLES = {"max_trades_per_hour": 1_000_000, "max_trades_per_day": 1_000_000, "min_seconds_between_trades": 0.0}


@dataclass
class VenueGateway:
    gateway: Any
    executor: Any
    client: Any
    symbol: str
    balances: dict[str, float]  # the venue's total balances when it was built


def venue_gateway(ws: Any, effective: Any, env: Any, journal: Any, run: str, symbol: str, approve: Callable | None, *,
                  client: Any = None, sleep: Callable[[float], None] | None = None) -> VenueGateway:
    import time

    from livegate.services import modes
    from livegate.core.breakers import CircuitBreakers
    from livegate.core.gateway import OrderGateway
    from livegate.core.guardian import RiskGuardian, RiskState
    from livegate.core.portfolio import Portfolio
    from livegate.adapters.exchange.client import workspace_exchange
    from livegate.adapters.execution.cex import CcxtExecutor, split_symbol
    from livegate.phases.paper.run import rules_for

    cfg, risk = effective.config, effective.risk
    client = client or workspace_exchange(cfg.exchange, env)
    executor = CcxtExecutor(client, journal, sleep=sleep or time.sleep, halt_check=lambda: modes.halted_reason(ws))
    markets = executor.call(client.load_markets)
    if symbol not in markets:
        raise UsageError(f"{client.id} has no market {symbol}")
    balances = {k: float(v or 0.0) for k, v in executor.call(client.fetch_balance)["total"].items()}
    cash = balances.get(split_symbol(symbol)[1], 0.0)
    max_amount = env.get("MAX_TRADE_AMOUNT")
    guardian = RiskGuardian(risk.live_trading.model_copy(update=SCRIPT_THROTTLES), risk.guardian,
                            float(max_amount) if max_amount else None)
    gateway = OrderGateway(guardian=guardian, breakers=CircuitBreakers(risk.live_trading, risk.circuit_breakers),
                           executor=executor, account=Portfolio(cash=cash), state=RiskState(peak_equity=cash, equity=cash),
                           rules=rules_for([symbol], {}, cfg.exchange, markets), journal=journal, id_prefix=run,
                           halt_check=lambda: modes.halted_reason(ws), approve=approve)
    return VenueGateway(gateway, executor, client, symbol, balances)
