"""The test swap of `livegate testnet` (seed 000 §3.2): `swap_amount` of `swap_from` sold for
`swap_to` through the configured router on the test chain — after the approval step — with
the quote, the minimum output, the gas estimate, the receipt and its confirmations recorded."""

from __future__ import annotations

from typing import Any, Callable

from livegate.core.orders import SELL, Block, Order
from livegate.core.errors import UsageError

# Chain ids of production networks: `livegate testnet` refuses to swap on them.
MAINNETS = {1: "Ethereum", 10: "Optimism", 56: "BNB Chain", 137: "Polygon", 8453: "Base", 42161: "Arbitrum One",
            43114: "Avalanche C-Chain", 324: "zkSync Era", 59144: "Linea"}


def build_dex(effective: Any, env: Any, root: Any, journal: Any):
    """The DEX executor for the workspace's chain section, signed with its configured signer."""
    from livegate.adapters.chain.transact import connect
    from livegate.adapters.envcheck.signer import signer_key
    from livegate.adapters.execution.dex import Allowlists, DexExecutor

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
                       confirmations=chain.confirmations, journal=journal)


def run_swap(executor: Any, effective: Any, run: str, approve: Callable[[Order], Block | None] | None, now_ms: int) -> dict:
    """Ask for approval, then swap; the outcome as a dict (or why it did not happen)."""
    section = effective.config.testnet
    order = Order(f"{run}-swap", f"{section.swap_from}/{section.swap_to}", SELL, "market", section.swap_amount, None, now_ms,
                  origin="testnet")
    refusal = approve(order) if approve is not None else None
    if refusal is not None:
        return {"executed": False, "reason": f"{refusal.rule}: {refusal.message}"}
    from livegate.adapters.execution.dex import from_units, to_units

    amount_in = to_units(section.swap_amount, executor.decimals(section.swap_from))
    out = executor.swap(section.swap_from, section.swap_to, amount_in, client_id=order.client_id).to_dict()
    scale = executor.decimals(section.swap_to)
    out["in_tokens"] = f"{section.swap_amount:g} {section.swap_from}"
    out["out_tokens"] = {k: from_units(out[k], scale) for k in ("quoted_out", "min_out", "amount_out")}
    out["token_out"] = section.swap_to
    quoted = out.get("quoted_out") or 0
    out.update(executed=True, gas_ratio=(out["gas_used"] / out["gas_estimate"]) if out.get("gas_estimate") else None,
               slippage_pct=(100.0 * (quoted - out["amount_out"]) / quoted) if quoted else None,
               required_confirmations=effective.config.chain.confirmations)
    return out
