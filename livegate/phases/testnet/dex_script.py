"""The test swap of `livegate testnet` (seed 000 §3.2): `swap_amount` of `swap_from` sold for
`swap_to` through the configured router on the test chain — after the approval step — with
the quote, the minimum output, the gas estimate, the receipt and its confirmations recorded."""

from __future__ import annotations

from typing import Any

from livegate.adapters.chain.transact import connect
from livegate.adapters.envcheck.signer import signer_key
from livegate.adapters.execution.dex import Allowlists, DexExecutor, SwapOutcome, from_units, open_swaps
from livegate.core.errors import UsageError
from livegate.core.fills import MarketRules
from livegate.core.guardian import RiskState
from livegate.core.orders import BUY, OrderIntent
from livegate.core.portfolio import Portfolio
from livegate.services.trading import TESTNET, Approve, assemble_gateway, order_refusal

# Chain ids of production networks: `livegate testnet` refuses to swap on them.
MAINNETS = {1: "Ethereum", 10: "Optimism", 56: "BNB Chain", 137: "Polygon", 8453: "Base", 42161: "Arbitrum One",
            43114: "Avalanche C-Chain", 324: "zkSync Era", 59144: "Linea"}


def build_dex(ws: Any, effective: Any, env: Any, journal: Any):
    """The DEX executor for the workspace's chain section, signed with its configured signer,
    reading testnet's halt rule again before its approval and its broadcast."""
    root = ws.root

    chain = effective.config.chain
    if chain.chain_id in MAINNETS:
        raise UsageError(f"chain.chain_id {chain.chain_id} is {MAINNETS[chain.chain_id]} mainnet: `livegate testnet` swaps on a test chain only")
    if not chain.rpc_url or not chain.router:
        raise UsageError("the test swap needs chain.rpc_url and chain.router in livegate.yaml")
    key, _kind = signer_key(env, root)
    if key is None:
        raise UsageError("the test swap needs a signer: SIGNER_KEYSTORE_PATH (or SIGNER_PRIVATE_KEY) in .env")
    allow = Allowlists.from_env(env)
    return DexExecutor(connect(chain.rpc_url), key, router=chain.router, tokens=dict(chain.tokens), chain_name=chain.name,
                       chain_id=chain.chain_id, allow=allow, slippage=chain.slippage_pct,
                       confirmations=chain.confirmations, journal=journal, halt_check=lambda: order_refusal(ws, TESTNET))


def dex_rules(symbol: str, price: float, base_decimals: int, quote_decimals: int) -> MarketRules:
    """A pool's filters: any whole number of token units (to 8 decimals at most), no minimum
    value beyond one unit; the pool's 0.3 % fee is inside its price."""
    step = 10.0 ** -min(base_decimals, 8)
    return MarketRules(symbol=symbol, step=step, min_amount=step, max_amount=1e18, tick=10.0 ** -min(quote_decimals, 8),
                       min_notional=10.0 ** -min(quote_decimals, 8), maker_fee=0.003, taker_fee=0.003, source="uniswap-v2 pool")


def resumed_swap(executor: Any, events: list[tuple[str, dict]]) -> dict | None:
    """The run's swap when a stopped run already sent one: its recorded outcome when confirmed,
    else the outcome of resuming it (the same signed transaction, never a new one). None when the
    run never journaled a swap, or its swap was closed without trading (not sent, failed)."""
    sending = {p["tx_hash"]: p for k, p in events if k == "dex_swap_sending"}
    for kind, p in events:
        if kind == "dex_swap_confirmed" and p.get("tx_hash") in sending:
            s = sending[p["tx_hash"]]
            return SwapOutcome(s["client_id"], s["tx_hash"], p["block"], s["amount_in"], s["quoted_out"], s["min_out"],
                               p["amount_out"], s["gas_estimate"], p["gas_used"], p["confirmations"], p["slippage_bps"]).to_dict()
    for pending in open_swaps(events):
        outcome = executor.resume(pending)
        if outcome is not None:
            return outcome.to_dict()
    return None


def run_swap(executor: Any, ws: Any, effective: Any, env: Any, journal: Any, run: str, approve: Approve | None, now_ms: int,
             events: list[tuple[str, dict]] | None = None) -> dict:
    """The test swap as an order through the one gateway: a market buy of `swap_to` paid with
    `swap_amount` of `swap_from` (its value counted in `swap_from`), so the halt, the breakers,
    the risk guardian with MAX_TRADE_AMOUNT and the approval decide on it like on any order
    (MAX_CEX_ORDER_AMOUNT, a cap on exchange orders, does not apply to a swap).
    A resumed run whose swap was already sent settles that one instead (`resumed_swap`). The
    outcome as a dict, or why it did not happen."""
    section = effective.config.testnet
    base, quote = section.swap_to, section.swap_from
    resumed = resumed_swap(executor, events or [])
    if resumed is not None:
        return describe_swap(resumed, executor, effective, base, quote, resumed=True)
    symbol = f"{base}/{quote}"
    price = executor.price(base, quote)
    cash = executor.balance(quote)
    gateway = assemble_gateway(TESTNET, risk=effective.risk, executor=executor, rules={symbol: dex_rules(symbol, price, executor.decimals(base), executor.decimals(quote))},
                               account=Portfolio(cash=cash, last_price={symbol: price}), state=RiskState(peak_equity=cash, equity=cash),
                               journal=journal, id_prefix=f"{run}-swap", ws=ws, env=env, approve=approve, scripted=True, dex=True)
    decision = gateway.submit(OrderIntent(symbol, BUY, quote_amount=section.swap_amount, reason="testnet swap"), now_ms, origin="testnet")
    if not decision.accepted:
        return {"executed": False, "reason": "; ".join(f"{b.rule}: {b.message}" for b in decision.blocks),
                "blocks": [[b.rule, b.message] for b in decision.blocks]}
    return describe_swap(executor.outcomes[decision.order.client_id].to_dict(), executor, effective, base, quote)


def describe_swap(out: dict, executor: Any, effective: Any, base: str, quote: str, resumed: bool = False) -> dict:
    """A swap outcome in whole tokens, with its gas ratio and slippage."""
    scale_in, scale_out = executor.decimals(quote), executor.decimals(base)
    # (no "token" in these names: keys that look like secrets are masked in every report)
    out["paid"] = f"{from_units(out['amount_in'], scale_in):g} {quote}"
    out["out_amounts"] = {k: from_units(out[k], scale_out) for k in ("quoted_out", "min_out", "amount_out")}
    out["bought"] = base
    quoted = out.get("quoted_out") or 0
    out.update(executed=True, resumed=resumed, gas_ratio=(out["gas_used"] / out["gas_estimate"]) if out.get("gas_estimate") else None,
               slippage_pct=(100.0 * (quoted - out["amount_out"]) / quoted) if quoted else None,
               required_confirmations=effective.config.chain.confirmations)
    return out
