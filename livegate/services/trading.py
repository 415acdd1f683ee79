"""The one trading path: the purposes that place orders, the one rule that says whether a
purpose may place a new order now, and the one assembly of the order gateway.

Every order in every mode — a backtest, a paper run, testnet's scripted orders and swap, a
micro-live stage, production, the kill-switch drill, the guardian's drills — goes through an
`OrderGateway` built by `assemble_gateway` here, and nowhere else:

    intent → halt rule → breakers → sanity and filters → risk guardian (caps, MAX_TRADE_AMOUNT,
    MAX_CEX_ORDER_AMOUNT)
    → stage cap → approval → executor (simulator, ccxt, web3) → fills → ledger

`order_rule` is the halt rule with REDUCING (only orders that reduce an open position pass): the
gateway reads it fresh before every order. `order_refusal` is its halt part, which the ccxt
executor reads again right before a request leaves; a cancel never asks it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from livegate.adapters.exchange.client import workspace_exchange
from livegate.adapters.exchange.markets import rules_from_market
from livegate.adapters.exchange.venue_calls import BREAKER_SLOT, breaker_feed, observe
from livegate.adapters.execution.cex import CcxtExecutor, split_symbol
from livegate.adapters.marketdata.candles import TIMEFRAME_MS
from livegate.config.environment import WorkspaceEnv, flag_now, load_env
from livegate.config.models import ExchangeSection, LiveTradingLimits, RiskLimitsFile
from livegate.config.workspace import Effective, Workspace
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import BarExecutor, Engine
from livegate.core.errors import UsageError
from livegate.core.fills import MarketRules, default_rules
from livegate.core.gateway import Executor, Journal, OrderGateway, Reducing
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import Block, Order
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor
from livegate.services import approvals, mode_switch, modes

Approve = Callable[[Order], Block | None]


@dataclass(frozen=True)
class Purpose:
    """Why a gateway is built. `venue`: its orders reach a real venue (testnet or live), so
    approvals and MAX_TRADE_AMOUNT apply. `halts`: the kill switch and EMERGENCY_STOP stop its
    new orders. `live`: it also needs a live trading mode (LIVE_MINIMAL or LIVE_SCALED)."""

    name: str
    venue: bool
    halts: bool
    live: bool = False
    reduces: bool = False  # it only ever reduces positions: a halt lets its sells through, as REDUCING does


BACKTEST = Purpose("backtest", venue=False, halts=False)  # history replayed: research, never gated
SIMULATION = Purpose("simulation", venue=False, halts=False)  # the guardian's drills and the stress scenarios
PAPER = Purpose("paper", venue=False, halts=True)
TESTNET = Purpose("testnet", venue=True, halts=True)
LIVE_STAGE = Purpose("live stage", venue=True, halts=True, live=True)
PRODUCTION = Purpose("production", venue=True, halts=True, live=True)
DRILL = Purpose("kill-switch drill", venue=True, halts=True)
FLATTEN = Purpose("flatten", venue=True, halts=True, reduces=True)  # `livegate flatten`, EMERGENCY_STOP: closes positions
PURPOSES = (BACKTEST, SIMULATION, PAPER, TESTNET, LIVE_STAGE, PRODUCTION, DRILL, FLATTEN)

# Scripted orders on a venue (testnet's script, the kill-switch drill) are a handful of
# validation orders: the order-count throttles pace a strategy, not them. Every value,
# position and capital cap, MAX_TRADE_AMOUNT, the approval and the halt still apply.
SCRIPT_THROTTLES = {"max_trades_per_hour": 1_000_000, "max_trades_per_day": 1_000_000, "min_seconds_between_trades": 0.0}


def order_refusal(ws: Workspace, purpose: Purpose) -> str | None:
    """The halt part of `order_rule`: why `purpose` may not place any new order now, or None
    (REDUCING, where a sell that reduces may still pass, is not a refusal here)."""
    rule = order_rule(ws, purpose)
    return None if isinstance(rule, Reducing) else rule


def order_rule(ws: Workspace, purpose: Purpose) -> str | Reducing | None:
    """The halt rule: why `purpose` may not place a new order now, `Reducing` while only orders
    that reduce an open position may pass, or None. A purpose that only reduces (`flatten`)
    treats a halt and EMERGENCY_STOP as REDUCING and needs no live mode. The kill switch
    (`livegate halt`: the halt file `.livegate/HALTED` or the ledger) and EMERGENCY_STOP stop
    every purpose that trades forward; a live purpose also needs a live mode and TRADING_HALTED
    not true (the environment over `.env`). Read on every call: a few stat calls and, when the
    ledger did not change, no query. When the state cannot be read, that is the answer: no new
    order. A halt only the halt file holds is recorded in the ledger from here when it can be."""
    if not purpose.halts:
        return None
    try:
        halted, mode, reducing = modes.trading_state(ws)
        if halted:
            mode_switch.record_pending_soon(ws)
            return Reducing(halted) if purpose.reduces else halted
        if purpose.live:
            flag, where = flag_now(ws.root, "TRADING_HALTED")
            if flag:
                return f"TRADING_HALTED=true ({where}): no live orders; set it to false to trade"
            if mode not in modes.LIVE_MODES:
                return f"the trading mode is {mode}: no live orders"
        if reducing:
            return Reducing(reducing)
    except Exception as exc:  # noqa: BLE001 - an unreadable halt state refuses, it never allows
        return f"cannot read whether trading is halted ({type(exc).__name__}: {exc}): no new orders"
    return None


def rules_for(symbols: list[str], prices: dict[str, float], exchange_cfg: ExchangeSection,
              markets: dict[str, Any] | None = None) -> dict[str, MarketRules]:
    """Filters and fees per symbol: from the exchange's market info when loaded, otherwise
    Binance-like defaults; `exchange.maker_fee` / `taker_fee` in livegate.yaml override both."""
    out = {}
    for s in symbols:
        r = rules_from_market(s, markets[s]) if markets and s in markets else default_rules(s, prices[s])
        if exchange_cfg.maker_fee is not None or exchange_cfg.taker_fee is not None:
            r = replace(r, maker_fee=r.maker_fee if exchange_cfg.maker_fee is None else exchange_cfg.maker_fee,
                        taker_fee=r.taker_fee if exchange_cfg.taker_fee is None else exchange_cfg.taker_fee,
                        source=r.source + " + fees from livegate.yaml")
        out[s] = r
    return out


def assemble_gateway(purpose: Purpose, *, risk: RiskLimitsFile, executor: Executor, account: Portfolio, state: RiskState,
                     rules: dict[str, MarketRules], journal: Journal, id_prefix: str, ws: Workspace | None = None,
                     env: WorkspaceEnv | None = None, approve: Approve | None = None, stage_cap: float | None = None,
                     limits: LiveTradingLimits | None = None, scripted: bool = False, dex: bool = False) -> OrderGateway:
    """The order gateway for `purpose`: the risk guardian on `limits` (risk_limits.yaml's
    live_trading unless tightened; order-count throttles lifted for `scripted` orders), the
    circuit breakers, the stage cap and, on a venue, MAX_TRADE_AMOUNT, MAX_CEX_ORDER_AMOUNT
    (unless `dex`: an on-chain swap is not a CEX order) and the approval (`approve`, or the
    workspace's EXECUTION_APPROVAL_MODE when not given); the halt rule for every purpose that
    halts. The only place an `OrderGateway` is built."""
    halt_check: Callable[[], str | Reducing | None] | None = None
    max_amount = max_cex = None
    if purpose.halts or purpose.venue:
        if ws is None:
            raise ValueError(f"a {purpose.name} gateway needs the workspace (halt rule, approvals)")
        workspace = ws
        if purpose.halts:
            halt_check = lambda: order_rule(workspace, purpose)  # noqa: E731 - read fresh for every order
    if purpose.venue and ws is not None:
        env = env if env is not None else load_env(ws.root)
        max_amount = env.max_trade_amount()
        max_cex = None if dex else env.max_cex_order_amount()
        if approve is None:
            approve = approvals.approval_gate(ws, mode=approvals.approval_mode(env), context=purpose.name,
                                              expiry_s=ws.effective.config.approvals.expiry_seconds)
    else:
        approve = None  # simulated fills never wait for a person
    if approve is approvals.let_through:  # nothing to wait for: no approval step (nor a halt re-read after one)
        approve = None
    limits = limits if limits is not None else risk.live_trading
    if scripted:
        limits = limits.model_copy(update=SCRIPT_THROTTLES)
    return OrderGateway(guardian=RiskGuardian(limits, risk.guardian, max_amount, max_cex),
                        breakers=CircuitBreakers(risk.live_trading, risk.circuit_breakers), executor=executor,
                        account=account, state=state, rules=rules, journal=journal, id_prefix=id_prefix,
                        halt_check=halt_check, approve=approve, stage_cap=stage_cap)


def assemble_engine(purpose: Purpose, effective: Effective, strategy: Any, rules: dict[str, MarketRules], journal: Journal,
                    run_id: str, *, ws: Workspace | None = None, env: WorkspaceEnv | None = None,
                    book_for: Callable[..., Any] | None = None, saved: dict[str, Any] | None = None,
                    executor: BarExecutor | None = None, capital: float | None = None, stage_cap: float | None = None,
                    approve: Approve | None = None, id_prefix: str | None = None,
                    limits: LiveTradingLimits | None = None) -> Engine:
    """The strategy engine around the gateway for `purpose`; `saved` restores a checkpoint.
    The paper simulator executes unless `executor` is given (a venue's); `capital` defaults to
    the workspace's starting capital; `limits` replaces risk_limits.yaml's live_trading."""
    capital = effective.config.capital.starting if capital is None else capital
    account = Portfolio.from_dict(saved["account"]) if saved else Portfolio(cash=capital)
    state = RiskState.from_dict(saved["risk"]) if saved else RiskState(peak_equity=capital, equity=capital)
    simulator = None
    if executor is None:  # simulated fills; a venue's executor otherwise
        executor = simulator = PaperExecutor(rules, book_for=book_for)
    gateway = assemble_gateway(purpose, risk=effective.risk, executor=executor, account=account, state=state, rules=rules,
                               journal=journal, id_prefix=id_prefix or f"lg-{run_id}", ws=ws, env=env, approve=approve,
                               stage_cap=stage_cap, limits=limits)
    history = max(500, int(getattr(strategy, "warmup_bars", 0) or 0))
    engine = Engine(strategy=strategy, gateway=gateway, executor=executor, account=account, state=state,
                    breakers=gateway.breakers, timeframe_ms=TIMEFRAME_MS[effective.config.exchange.timeframe], history=history)
    if saved:
        gateway.breakers.restore(saved["breakers"])
        if simulator is not None:  # a venue's orders are recovered from the venue, not a checkpoint
            simulator.restore(saved["executor"])
        gateway.seq = saved["seq"]
        engine.bars = saved["bars"]
        engine.bar_time = saved.get("bar_time")  # a resumed run looks at the bar time it was in, as an unbroken one would
        if "strategy" in saved and callable(getattr(strategy, "restore", None)):
            strategy.restore(saved["strategy"])
    return engine


@dataclass
class VenueGateway:
    gateway: OrderGateway
    executor: Any
    client: Any
    symbol: str
    balances: dict[str, float]  # the venue's total balances when it was built
    calls: Any = None  # the client's observed venue calls (VenueCalls): latency, errors, rate limits


def venue_gateway(purpose: Purpose, ws: Workspace, effective: Effective, env: WorkspaceEnv, journal: Journal, run: str, symbol: str,
                  approve: Approve | None, *, client: Any = None, sleep: Callable[[float], None] | None = None,
                  scripted: bool = True) -> VenueGateway:
    """A gateway on a real venue for scripted orders (testnet's script, the kill-switch drill):
    the ccxt executor behind it, the account from the venue's balances, throttles lifted
    (`scripted=False`: kept — a trader's own bot trading on the testnet)."""
    client = client or workspace_exchange(effective.config.exchange, env)
    calls = observe(client)  # every venue call feeds the API breakers
    executor = CcxtExecutor(client, journal, sleep=sleep or time.sleep, halt_check=lambda: order_refusal(ws, purpose))
    markets = executor.call(client.load_markets)
    if symbol not in markets:
        raise UsageError(f"{client.id} has no market {symbol}")
    balances = {k: float(v or 0.0) for k, v in executor.call(client.fetch_balance)["total"].items()}
    cash = balances.get(split_symbol(symbol)[1], 0.0)
    gateway = assemble_gateway(purpose, risk=effective.risk, executor=executor, account=Portfolio(cash=cash),
                               state=RiskState(peak_equity=cash, equity=cash), rules=rules_for([symbol], {}, effective.config.exchange, markets),
                               journal=journal, id_prefix=run, ws=ws, env=env, approve=approve, scripted=scripted)
    calls.listen(breaker_feed(gateway.breakers, gateway.on_trip), replay=True, slot=BREAKER_SLOT)
    return VenueGateway(gateway, executor, client, symbol, balances, calls)
