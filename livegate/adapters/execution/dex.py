"""The DEX executor: orders become swaps through a Uniswap-V2-style router over web3 (SPEC §3
row 3, §6). The order gateway drives it like any other executor.

A swap: quote (`getAmountsOut`), a minimum output from the configured slippage, an approval
when the router's allowance is short, a gas estimate, a transaction signed locally and written
ahead to the journal with its hash and nonce (`dex_swap_sending`) *before* it is broadcast,
then its receipt, its confirmations and the output read from the receipt's Transfer logs
(`dex_swap_confirmed`). A revert — the pool would pay less than the minimum — is an
`OrderRejected` naming the router's reason (`dex_swap_failed`).

After a crash, `open_swaps` finds the `dex_swap_sending` entries that were never closed and
`resume` reconciles each by its hash: a transaction the node knows is waited for, never sent
again; one it does not know, whose nonce is still free, was never broadcast.

Only chains, routers and tokens on ALLOW_CHAINS, ALLOW_ROUTERS and ALLOW_TOKENS are accepted.
The signing key lives only inside an eth-account account: never in a repr, a message, the
journal or an exception. web3 is imported inside the methods that use it."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

from livegate.adapters.chain.swap import amounts_out, approve, received, router_contract, swap_call, token_allowance, token_contract
from livegate.adapters.chain.transact import chain_errors, node_url, sign
from livegate.core.errors import OrderNotFound, OrderRejected, TradingHalted, UsageError, VenueRefused, VenueTimeout, VenueUnreachable
from livegate.core.fills import slippage_bps
from livegate.core.gateway import Journal
from livegate.core.orders import BUY, MARKET, SELL, Block, Fill, Order
from livegate.core.redact import register_secret

GAS_MARGIN = Fraction(6, 5)  # gas limit = estimate + 20 %, in case the pool's state moves before mining
MAX_ALLOWANCE = 2**256 - 1
POLL_S = 0.1
CLOSING_EVENTS = ("dex_swap_confirmed", "dex_swap_failed", "dex_swap_abandoned", "dex_swap_not_sent")
ROUTER_REASONS = {
    "INSUFFICIENT_OUTPUT_AMOUNT": "the pool would pay less than the minimum output",
    "EXCESSIVE_INPUT_AMOUNT": "the pool would take more than the maximum input",
    "INSUFFICIENT_LIQUIDITY": "the pool has too little liquidity for this amount",
    "INSUFFICIENT_INPUT_AMOUNT": "the input amount is too small",
    "TRANSFER_FROM_FAILED": "the router could not take the input tokens (balance or allowance short)",
    "EXPIRED": "the swap's deadline passed before it was mined",
    "INVALID_PATH": "the path is not a route the router accepts",
}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _listed(name: str, items: Sequence[str]) -> str:
    return f"{name} ({', '.join(items) or 'empty'})"


@dataclass(frozen=True)
class Allowlists:
    """ALLOW_CHAINS (names or chain ids), ALLOW_TOKENS (symbols or addresses), ALLOW_ROUTERS
    (addresses); compared case-insensitively. An empty list allows nothing."""

    chains: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    routers: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env) -> Allowlists:
        """The allowlists of a `livegate.config.environment.WorkspaceEnv`."""
        return cls(*(tuple(env.allowlist(name)) for name in ("ALLOW_CHAINS", "ALLOW_TOKENS", "ALLOW_ROUTERS")))

    @staticmethod
    def _has(items: Sequence[str], *candidates: str) -> bool:
        listed = {item.strip().lower() for item in items}
        return any(candidate.lower() in listed for candidate in candidates)

    def check_chain(self, name: str, chain_id: int) -> None:
        """`UsageError` unless the chain is listed by name or id."""
        if not self._has(self.chains, name, str(chain_id)):
            raise UsageError(f"chain {name} (id {chain_id}) is not on {_listed('ALLOW_CHAINS', self.chains)}")

    def check_router(self, address: str) -> None:
        """`UsageError` unless the router's address is listed."""
        if not self._has(self.routers, address):
            raise UsageError(f"router {address} is not on {_listed('ALLOW_ROUTERS', self.routers)}")

    def check_token(self, symbol: str, address: str) -> None:
        """`UsageError` unless the token is listed by symbol or address."""
        if not self._has(self.tokens, symbol, address):
            raise UsageError(f"token {symbol} ({address}) is not on {_listed('ALLOW_TOKENS', self.tokens)}")


@dataclass(frozen=True)
class SwapOutcome:
    """A confirmed swap, in token units. `slippage_bps` is the output's shortfall against the
    quote taken before sending (positive = received less)."""

    client_id: str
    tx_hash: str
    block: int
    amount_in: int
    quoted_out: int
    min_out: int
    amount_out: int
    gas_estimate: int
    gas_used: int
    confirmations: int
    slippage_bps: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedSwap:
    """A signed swap whose write-ahead entry is journaled (`payload`) but not yet broadcast."""

    payload: dict[str, Any]
    raw_transaction: bytes


def open_swaps(events: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The `dex_swap_sending` payloads among `(kind, payload)` journal events that no
    confirmed, failed or abandoned event closed: the swaps to `resume` after a restart."""
    pending: dict[str, dict[str, Any]] = {}
    for kind, payload in events:
        if kind == "dex_swap_sending":
            pending[payload["tx_hash"]] = payload
        elif kind in CLOSING_EVENTS:
            pending.pop(payload.get("tx_hash"), None)
    return list(pending.values())


def to_units(amount: float, decimals: int) -> int:
    """`amount` tokens as an integer count of the token's smallest unit (rounded down)."""
    return int(Decimal(str(amount)).scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))


def from_units(units: int, decimals: int) -> float:
    """An integer count of the token's smallest unit as tokens."""
    return float(Fraction(units, 10**decimals))


def explain_revert(reason: str, *, min_out: int | None = None, quoted_out: int | None = None) -> str:
    """The router's revert reason (e.g. "execution reverted: UniswapV2Router:
    INSUFFICIENT_OUTPUT_AMOUNT") in a sentence for the operator, quoting it."""
    said = reason.removeprefix("execution reverted: ").strip() or "no reason given"
    for code, meaning in ROUTER_REASONS.items():
        if code in said:
            if code == "INSUFFICIENT_OUTPUT_AMOUNT" and min_out is not None:
                meaning += f" {min_out} (quoted {quoted_out})"
            return f"{meaning} (the router said {said!r})"
    return f"the router reverted (it said {said!r})"


class DexExecutor:
    """Swaps for one signer through one router on one chain, with the tokens of `tokens`
    (symbol → address, WETH included when it is traded).

    `slippage` is a fraction (0.005 = 0.5 %): the minimum output is floor(quote × (1 −
    slippage)). `confirmations` blocks, counting the receipt's own, are awaited within
    `wait_timeout_s`. By default the router is approved for exactly each swap's input;
    `unlimited_approval=True` approves it once for good. The journal must write through
    (`livegate.ledger.journal.WriteThroughJournal`): `dex_swap_sending` has to be on disk
    before the transaction leaves. `halt_check` (the gateway's halt rule) is read again before
    the token approval and before the broadcast: a halt pulled meanwhile stops the swap."""

    def __init__(self, w3, signer_key: str, *, router: str, tokens: dict[str, str], chain_name: str, chain_id: int,
                 allow: Allowlists, slippage: float, journal: Journal, confirmations: int = 1,
                 halt_check: Callable[[], str | None], wait_timeout_s: float = 60.0, poll_s: float = POLL_S,
                 unlimited_approval: bool = False):
        from eth_account import Account
        from eth_utils import to_checksum_address

        allow.check_chain(chain_name, chain_id)
        for what, address in (("router", router), *((f"token {symbol}", a) for symbol, a in tokens.items())):
            if not isinstance(address, str) or not _ADDRESS.match(address):
                raise UsageError(f"{what}: {address!r} is not a 0x address of 40 hex digits")
        allow.check_router(router)
        for symbol, address in tokens.items():
            allow.check_token(symbol, address)
        if not (isinstance(slippage, (int, float)) and 0 <= slippage < 1):
            raise UsageError(f"slippage must be a fraction from 0 up to 1, e.g. 0.005 for 0.5 % (got {slippage!r})")
        if confirmations < 1:
            raise UsageError(f"confirmations must be at least 1 (got {confirmations!r})")
        for form in (signer_key, str(signer_key).removeprefix("0x")):
            register_secret(form)  # masked wherever livegate prints or records text
        try:
            account = Account.from_key(signer_key)
        except Exception:  # noqa: BLE001 - raised below, outside this block, so the library's message
            account = None  # (which may quote the key) is neither the cause nor the context
        if account is None:
            raise UsageError("the signer key is not a valid private key (32 bytes as 64 hex digits)")
        self._account = account
        self.w3, self.journal = w3, journal
        self.router = to_checksum_address(router)
        self.tokens = {symbol: to_checksum_address(address) for symbol, address in tokens.items()}
        self.chain_name, self.chain_id = chain_name, chain_id
        self.slippage, self.confirmations = slippage, confirmations
        self.wait_timeout_s, self.poll_s, self.unlimited_approval = wait_timeout_s, poll_s, unlimited_approval
        self._decimals: dict[str, int] = {}
        self.outcomes: dict[str, SwapOutcome] = {}  # client id → the confirmed swap behind a placed order
        self.halt_check = halt_check
        with self._chain(f"read the chain id of {chain_name}"):
            node_chain_id = w3.eth.chain_id
        if node_chain_id != chain_id:
            raise UsageError(f"the node at {self.node} is on chain id {node_chain_id}, not {chain_name}'s "
                             f"configured chain id {chain_id}")

    @property
    def address(self) -> str:
        """The signer's address (public)."""
        return self._account.address

    @property
    def node(self) -> str:
        return node_url(self.w3)

    def __repr__(self) -> str:
        return (f"DexExecutor(chain={self.chain_name} ({self.chain_id}), router={self.router}, "
                f"signer={self.address}, slippage={self.slippage:g})")

    # -- the order gateway's Executor protocol ---------------------------------------------

    def place(self, order: Order, now_ms: int, account: Any = None) -> list[Fill] | Block:
        """One market order as one swap, filled at once. A sell spends exactly `order.amount`
        of BASE for QUOTE. A buy spends the QUOTE the router says `order.amount` of BASE costs
        (`getAmountsIn`) and receives at least that BASE when nothing trades before it. The
        fill's price is QUOTE per BASE actually exchanged, with the pool's 0.3 % fee inside it
        (so `fee` is 0; gas is paid in the chain's coin and journaled, not charged here);
        `reference` is the quoted price. A revert is `Block("dex_revert", ...)`."""
        base, _, quote = order.symbol.partition("/")
        if base not in self.tokens or quote not in self.tokens:
            return Block("unknown_symbol", f"{order.symbol!r} is not a pair of this executor's tokens "
                                           f"({', '.join(self.tokens)})")
        if order.type != MARKET or order.side not in (BUY, SELL):
            return Block("dex_order_type", f"the DEX executor places market buys and sells only "
                                           f"(got a {order.type} {order.side})")
        base_decimals, quote_decimals = self.decimals(base), self.decimals(quote)
        wanted = to_units(order.amount, base_decimals)
        if wanted <= 0:
            return Block("invalid", f"{order.amount!r} {base} is less than one unit of the token")
        try:
            if order.side == SELL:
                outcome = self.swap(base, quote, wanted, client_id=order.client_id)
                base_units, quote_units, quoted_base, quoted_quote = (outcome.amount_in, outcome.amount_out,
                                                                      outcome.amount_in, outcome.quoted_out)
            else:
                spend = self._amount_in_for(quote, base, wanted, order.client_id)
                if order.quote_value is not None:  # never more than the guardian approved (price impact)
                    spend = min(spend, to_units(order.quote_value, quote_decimals))
                outcome = self.swap(quote, base, spend, client_id=order.client_id)
                base_units, quote_units, quoted_base, quoted_quote = (outcome.amount_out, outcome.amount_in,
                                                                      outcome.quoted_out, outcome.amount_in)
        except TradingHalted as exc:
            return Block("halted", str(exc))
        except OrderRejected as exc:
            return Block("dex_revert", str(exc))
        self.outcomes[order.client_id] = outcome
        amount = from_units(base_units, base_decimals)
        price = from_units(quote_units, quote_decimals) / amount
        reference = from_units(quoted_quote, quote_decimals) / from_units(quoted_base, base_decimals)
        order.filled, order.status = amount, "filled"
        return [Fill(order.client_id, order.symbol, order.side, amount, price, 0.0, "taker", now_ms, reference,
                     slippage_bps(order.side, price, reference), "dex")]

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Nothing to cancel: a swap is atomic, never left open."""
        return []

    def open_orders(self) -> list[Order]:
        """None: a swap is atomic, never left open."""
        return []

    # -- swaps -------------------------------------------------------------------------------

    def swap(self, token_in: str, token_out: str, amount_in: int, *, client_id: str, via: Sequence[str] = (),
             min_out: int | None = None) -> SwapOutcome:
        """Sell exactly `amount_in` units of `token_in` for `token_out` (symbols of `tokens`,
        through the `via` tokens when given), signed, journaled, broadcast, confirmed. `min_out`
        replaces the slippage floor when given. A revert raises `OrderRejected`; no receipt in
        time raises `VenueTimeout` (the swap is still open: `resume` it)."""
        prepared = self.prepare(token_in, token_out, amount_in, client_id=client_id, via=via, min_out=min_out)
        self._unless_halted(client_id, prepared.payload)
        self.broadcast(prepared)
        return self.settle(prepared.payload)

    def prepare(self, token_in: str, token_out: str, amount_in: int, *, client_id: str, via: Sequence[str] = (),
                min_out: int | None = None) -> PreparedSwap:
        """Everything before the broadcast: quote, minimum output, approval, gas estimate, a
        locally signed transaction, and its write-ahead journal entry `dex_swap_sending`."""

        symbols = (token_in, *via, token_out)
        path = [self._token(symbol) for symbol in symbols]
        if not isinstance(amount_in, int) or amount_in <= 0:
            raise UsageError(f"swap {client_id}: amount_in must be a positive whole number of token units "
                             f"(got {amount_in!r})")
        action = f"swap {client_id}: {amount_in} {' -> '.join(symbols)}"
        record = {"client_id": client_id, "amount_in": amount_in, "min_out": min_out, "quoted_out": None}
        with self._router_call(action, "quote", record):
            quoted_out = amounts_out(self.w3, self.router, amount_in, path)
        if min_out is None:
            min_out = math.floor(quoted_out * (1 - Fraction(str(self.slippage))))
        record.update(min_out=min_out, quoted_out=quoted_out)
        if quoted_out <= 0:
            raise self._failed({**record, "tx_hash": None}, "quote",
                               f"the pool would pay nothing for {amount_in} units")
        self._unless_halted(client_id)
        self._ensure_allowance(path[0], amount_in, client_id, action)
        with self._router_call(action, "estimate", record):
            call = swap_call(self.w3, self.router, amount_in, min_out, path, self.address)
            gas_estimate = call.estimate_gas({"from": self.address})
        gas_limit = math.ceil(gas_estimate * GAS_MARGIN)
        with self._chain(action):
            nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            signed = sign(self.w3, self._account, call, gas=gas_limit, nonce=nonce)
        payload = {"client_id": client_id, "tx_hash": "0x" + bytes(signed.hash).hex(), "nonce": nonce,
                   "from": self.address, "chain_id": self.chain_id, "router": self.router, "path": path,
                   "symbols": list(symbols), "amount_in": amount_in, "quoted_out": quoted_out, "min_out": min_out,
                   "gas_estimate": gas_estimate, "gas_limit": gas_limit,
                   # the signed bytes (public once broadcast, no key in them): after a crash the very
                   # same transaction is the only one ever broadcast for this swap
                   "raw_tx": "0x" + bytes(signed.raw_transaction).hex()}
        self.journal.emit("dex_swap_sending", payload)
        return PreparedSwap(payload, bytes(signed.raw_transaction))

    def _unless_halted(self, client_id: str, sending: dict[str, Any] | None = None) -> None:
        """Raise TradingHalted when the halt rule refuses now; a swap already journaled as
        sending is closed as not sent (`dex_swap_not_sent`): its transaction never leaves."""
        reason = self.halt_check()
        if reason:
            if sending is not None:
                self.journal.emit("dex_swap_not_sent", {"client_id": client_id, "tx_hash": sending["tx_hash"], "reason": reason})
            raise TradingHalted(reason)

    def broadcast(self, prepared: PreparedSwap) -> str:
        """Send the signed transaction; returns its hash. A refusal by the node closes the swap
        (`dex_swap_failed`); no answer leaves it open for `resume`."""
        payload = prepared.payload
        action = f"swap {payload['client_id']}: send {payload['tx_hash']}"
        try:
            with self._chain(action):
                self.w3.eth.send_raw_transaction(prepared.raw_transaction)
        except VenueRefused as exc:
            if self._known(payload["tx_hash"]):  # "already known": it is in the node's mempool after all
                return payload["tx_hash"]
            self._failed(payload, "broadcast", str(exc))
            raise
        except VenueUnreachable as exc:
            raise VenueTimeout(f"{exc}; the transaction may have reached the node: reconcile it with resume() "
                               "before trading again") from exc
        return payload["tx_hash"]

    def settle(self, pending: dict[str, Any], *, resumed: bool = False) -> SwapOutcome:
        """Wait for a broadcast swap's receipt and confirmations and read what it paid out
        (`dex_swap_confirmed`); a reverted one raises `OrderRejected` (`dex_swap_failed`)."""

        receipt, depth = self._confirmed_receipt(pending)
        if receipt["status"] != 1:
            why = explain_revert(self._revert_reason(pending, receipt), **_quote(pending))
            raise self._failed(pending, "chain", why)
        amount_out = received(self.w3, pending["path"][-1], receipt, pending["from"])
        outcome = SwapOutcome(pending["client_id"], pending["tx_hash"], receipt["blockNumber"], pending["amount_in"],
                              pending["quoted_out"], pending["min_out"], amount_out, pending["gas_estimate"],
                              receipt["gasUsed"], depth, slippage_bps(SELL, amount_out, pending["quoted_out"]))
        self.journal.emit("dex_swap_confirmed", {
            "client_id": outcome.client_id, "tx_hash": outcome.tx_hash, "block": outcome.block,
            "amount_out": amount_out, "gas_used": outcome.gas_used, "gas_estimate": outcome.gas_estimate,
            "gas_cost_wei": receipt["gasUsed"] * receipt.get("effectiveGasPrice", 0), "status": receipt["status"],
            "confirmations": depth, "slippage_bps": outcome.slippage_bps, "resumed": resumed})
        return outcome

    def resume(self, pending: dict[str, Any]) -> SwapOutcome | None:
        """Reconcile a swap journaled as `dex_swap_sending` before a crash, by its hash; never
        signs anything new. Known to the node (mined or in its mempool): wait and return the
        outcome, or `OrderRejected` if it reverted. Unknown, with the account's nonce not past
        the recorded one: it was never broadcast — the journaled signed transaction itself is
        broadcast now unless the halt rule refuses (`dex_swap_not_sent`, TradingHalted), so no
        other transaction ever exists for the swap; a journal entry without the signed bytes
        (an older ledger) is closed as never broadcast — None (`dex_swap_abandoned`). Unknown,
        but the nonce was used: `OrderNotFound`."""
        if str(pending.get("from", "")).lower() != self.address.lower():
            raise UsageError(f"swap {pending.get('client_id')} was signed by {pending.get('from')}, "
                             f"not by this executor's signer {self.address}")
        tx_hash, nonce = pending["tx_hash"], pending["nonce"]
        if self._known(tx_hash):
            return self.settle(pending, resumed=True)
        with self._chain(f"swap {pending['client_id']}: read the nonce of {self.address}"):
            used = self.w3.eth.get_transaction_count(self.address, "pending")
        never_sent = used <= nonce
        if never_sent and pending.get("raw_tx"):
            self._unless_halted(pending["client_id"], pending)
            self.journal.emit("dex_swap_rebroadcast", {"client_id": pending["client_id"], "tx_hash": tx_hash, "nonce": nonce})
            self.broadcast(PreparedSwap(pending, bytes.fromhex(pending["raw_tx"][2:])))
            return self.settle(pending, resumed=True)
        self.journal.emit("dex_swap_abandoned", {
            "client_id": pending["client_id"], "tx_hash": tx_hash, "nonce": nonce, "account_nonce": used,
            "reason": "never_broadcast" if never_sent else "nonce_taken"})
        if never_sent:
            return None
        raise OrderNotFound(f"swap {pending['client_id']}: the node at {self.node} knows no transaction {tx_hash}, "
                            f"and nonce {nonce} of {self.address} was taken by another transaction (the account has "
                            f"sent {used}): the swap did not happen as recorded; check the account's transactions "
                            "before trading again", venue="chain")

    def price(self, base: str, quote: str) -> float:
        """What one whole `base` costs in `quote` at the pool now (the router's `getAmountsOut`
        for one whole `quote`, inverted; the pool's fee inside it)."""

        one_quote = 10 ** self.decimals(quote)
        with self._chain(f"quote {base} in {quote}"):
            base_units = amounts_out(self.w3, self.router, one_quote, [self._token(quote), self._token(base)])
        if base_units <= 0:
            raise OrderRejected(f"the {base}/{quote} pool would pay nothing for one {quote}")
        return 1.0 / from_units(base_units, self.decimals(base))

    def balance(self, symbol: str) -> float:
        """The signer's balance of `symbol`, in token units."""

        with self._chain(f"read the {symbol} balance"):
            units = token_contract(self.w3, self._token(symbol)).functions.balanceOf(self.address).call()
        return from_units(units, self.decimals(symbol))

    def decimals(self, symbol: str) -> int:
        """The token's `decimals()`, read once."""
        if symbol not in self._decimals:
            with self._chain(f"read the decimals of {symbol}"):
                self._decimals[symbol] = token_contract(self.w3, self._token(symbol)).functions.decimals().call()
        return self._decimals[symbol]

    # -- pieces ----------------------------------------------------------------------------

    def _token(self, symbol: str) -> str:
        try:
            return self.tokens[symbol]
        except KeyError:
            raise UsageError(f"{symbol!r} is not one of this executor's tokens ({', '.join(self.tokens)})") from None

    @contextmanager
    def _chain(self, action: str) -> Iterator[None]:
        with chain_errors(self.w3, action):
            yield

    @contextmanager
    def _router_call(self, action: str, stage: str, record: dict[str, Any]) -> Iterator[None]:
        """web3's failures as livegate's, and a revert as `OrderRejected` (`dex_swap_failed`)."""
        from web3.exceptions import ContractLogicError

        with self._chain(action):
            try:
                yield
            except ContractLogicError as exc:
                raise self._failed({**record, "tx_hash": None}, stage,
                                   explain_revert(exc.message or str(exc), **_quote(record))) from exc

    def _failed(self, swap: dict[str, Any], stage: str, why: str) -> OrderRejected:
        """Journal `dex_swap_failed`; the `OrderRejected` to raise."""
        self.journal.emit("dex_swap_failed", {"client_id": swap["client_id"], "tx_hash": swap.get("tx_hash"),
                                              "stage": stage, "reason": why, "amount_in": swap.get("amount_in"),
                                              "quoted_out": swap.get("quoted_out"), "min_out": swap.get("min_out")})
        sent = f" (transaction {swap['tx_hash']})" if swap.get("tx_hash") else ""
        return OrderRejected(f"swap {swap['client_id']}{sent} refused by the router {self.router} on "
                             f"{self.chain_name}: {why}", venue="chain")

    def _amount_in_for(self, token_in: str, token_out: str, amount_out: int, client_id: str) -> int:
        """The router's `getAmountsIn`: what `amount_out` of `token_out` costs in `token_in`."""

        action = f"swap {client_id}: price {amount_out} {token_out} in {token_in}"
        with self._router_call(action, "quote", {"client_id": client_id, "amount_in": None, "min_out": None}):
            return router_contract(self.w3, self.router).functions.getAmountsIn(
                amount_out, [self._token(token_in), self._token(token_out)]).call()[0]

    def _ensure_allowance(self, token: str, amount: int, client_id: str, action: str) -> None:
        if token_allowance(self.w3, token, self.address, self.router, action=action) >= amount:
            return
        allowance = MAX_ALLOWANCE if self.unlimited_approval else amount
        receipt = approve(self.w3, self._account, token, self.router, allowance, action=action)
        self.journal.emit("dex_approval", {
            "client_id": client_id, "token": token, "spender": self.router, "amount": allowance,
            "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(), "block": receipt["blockNumber"],
            "gas_used": receipt["gasUsed"]})

    def _known(self, tx_hash: str) -> bool:
        """Whether the node has the transaction, mined or in its mempool."""
        with self._chain(f"look up {tx_hash}"):
            return self._lookup(self.w3.eth.get_transaction, tx_hash) is not None

    @staticmethod
    def _lookup(get: Callable[[str], Any], tx_hash: str) -> Any:
        """`get(tx_hash)`, or None when the node knows no such transaction."""
        from web3.exceptions import TransactionNotFound

        try:
            return get(tx_hash)
        except TransactionNotFound:
            return None

    def _confirmed_receipt(self, pending: dict[str, Any]) -> tuple[dict, int]:
        """The receipt once `confirmations` blocks (its own included) are on top of it, and that
        depth; the receipt is read again each round, so a reorganised one is followed."""
        tx_hash = pending["tx_hash"]
        deadline = time.monotonic() + self.wait_timeout_s
        depth = 0
        while True:
            with self._chain(f"swap {pending['client_id']}: wait for {tx_hash}"):
                receipt = self._lookup(self.w3.eth.get_transaction_receipt, tx_hash)
                if receipt is not None:
                    depth = self.w3.eth.block_number - receipt["blockNumber"] + 1
                    if depth >= self.confirmations:
                        return receipt, depth
            if time.monotonic() >= deadline:
                seen = f"{depth} of {self.confirmations} confirmations" if receipt is not None else "no receipt"
                raise VenueTimeout(f"swap {pending['client_id']}: transaction {tx_hash} on {self.node} has {seen} "
                                   f"after {self.wait_timeout_s:g} s; it may still be mined: reconcile it with "
                                   "resume() before trading again")
            time.sleep(self.poll_s)

    def _revert_reason(self, pending: dict[str, Any], receipt: dict) -> str:
        """Why a mined transaction reverted: it is replayed on the state before its block."""
        from web3.exceptions import ContractLogicError, Web3Exception

        try:
            tx = self.w3.eth.get_transaction(pending["tx_hash"])
            self.w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"],
                              "gas": tx["gas"]}, receipt["blockNumber"] - 1)
        except ContractLogicError as exc:
            return exc.message or str(exc)
        except (Web3Exception, ValueError, OSError):
            pass
        return f"execution reverted: unknown reason (status 0 in block {receipt['blockNumber']})"


def _quote(swap: dict[str, Any]) -> dict[str, Any]:
    return {"min_out": swap.get("min_out"), "quoted_out": swap.get("quoted_out")}
