"""Uniswap V2 on a local chain: `deploy_uniswap` puts WETH9, the factory, Router02 and two test
tokens (TKA, TKB) on a node, seeds the TKA/TKB and TKA/WETH pools and funds a trader;
`Deployment` records where everything is.

Router02's bytecode has the hash of the pair's creation code built in (`pairFor` computes pair
addresses with CREATE2 instead of asking the factory). The deployment checks that the router
and the factory agree on it — if they did not, every swap through the router would revert."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from livegate.adapters.chain.accounts import DEPLOYER, TRADER, DevAccount
from livegate.adapters.chain.artifacts import Artifact, load_all
from livegate.adapters.chain.transact import chain_errors, deploy, send
from livegate.core.errors import VenueRefused

E18 = 10**18
TOKEN_SUPPLY = 1_000_000_000 * E18
TOKENS = ("TKA", "TKB")
# (token, token, amount of the first, amount of the second) added by the deployer
POOLS = (
    ("TKA", "TKB", 100_000 * E18, 200_000 * E18),
    ("TKA", "WETH", 300_000 * E18, 100 * E18),
)
TRADER_FUNDING = {"TKA": 50_000 * E18, "TKB": 50_000 * E18}
DEADLINE_S = 3600


@dataclass(frozen=True)
class Deployment:
    """Where Uniswap V2 lives on one chain: contract addresses (checksummed), tokens by symbol,
    pools by "A/B" name, the accounts that deployed and trade, and the pair init-code hash
    both the factory and the router use."""

    chain_id: int
    router: str
    factory: str
    weth: str
    tokens: dict[str, str] = field(hash=False)
    pairs: dict[str, str] = field(hash=False)
    deployer: str
    trader: str
    init_code_hash: str

    def address(self, symbol_or_address: str) -> str:
        """The address of a token symbol (TKA, TKB, WETH); an address is returned as given."""
        if symbol_or_address.startswith("0x"):
            return symbol_or_address
        if symbol_or_address == "WETH":
            return self.weth
        try:
            return self.tokens[symbol_or_address]
        except KeyError:
            raise KeyError(f"no token {symbol_or_address!r} on this chain (have WETH, {', '.join(self.tokens)})") from None

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)


def pair_init_code_hash(pair: Artifact) -> str:
    """keccak256 of the pair's creation code: what the factory's CREATE2 uses (hex, no 0x)."""
    from eth_utils import keccak

    return keccak(hexstr=pair.bytecode).hex()


def create2_pair_address(factory: str, token_a: str, token_b: str, init_code_hash: str) -> str:
    """The pair address `UniswapV2Library.pairFor` computes for two tokens."""
    from eth_utils import keccak, to_checksum_address

    token0, token1 = sorted((token_a, token_b), key=lambda address: int(address, 16))
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + bytes.fromhex(init_code_hash))
    return to_checksum_address(digest[12:])


def deploy_uniswap(w3, *, deployer: DevAccount = DEPLOYER, trader: DevAccount = TRADER) -> Deployment:
    """Deploy and seed Uniswap V2 on the node behind `w3`; returns the `Deployment`."""
    built = load_all()
    init_code_hash = router_init_code_hash(built)
    weth = deploy(w3, deployer, built["WETH9"])
    factory = deploy(w3, deployer, built["UniswapV2Factory"], deployer.address)
    router = deploy(w3, deployer, built["UniswapV2Router02"], factory, weth)
    tokens = {symbol: deploy(w3, deployer, built["ERC20"], TOKEN_SUPPLY, action=f"deploy {symbol}") for symbol in TOKENS}
    erc20 = {symbol: w3.eth.contract(address=address, abi=built["ERC20"].abi) for symbol, address in tokens.items()}
    for symbol, token in erc20.items():
        send(w3, deployer, token.functions.approve(router, 2**256 - 1), action=f"approve {symbol} for the router")
    address = {**tokens, "WETH": weth}
    seed_pools(w3, deployer, w3.eth.contract(address=router, abi=built["UniswapV2Router02"].abi), address)
    for symbol, amount in TRADER_FUNDING.items():
        send(w3, deployer, erc20[symbol].functions.transfer(trader.address, amount), action=f"fund the trader with {symbol}")
    pairs = verified_pairs(w3, w3.eth.contract(address=factory, abi=built["UniswapV2Factory"].abi), address,
                           init_code_hash)
    with chain_errors(w3, "read the chain id"):
        chain_id = w3.eth.chain_id
    return Deployment(chain_id=chain_id, router=router, factory=factory, weth=weth, tokens=tokens, pairs=pairs,
                      deployer=deployer.address, trader=trader.address, init_code_hash="0x" + init_code_hash)


def router_init_code_hash(built: dict[str, Artifact]) -> str:
    """The pair init-code hash, after checking that the Router02 build has it built in."""
    init_code_hash = pair_init_code_hash(built["UniswapV2Pair"])
    if init_code_hash not in built["UniswapV2Router02"].bytecode:
        raise VenueRefused(f"the Router02 build does not use the pair init-code hash {init_code_hash} of the "
                           "v2-core build; swaps through it would revert (reinstall the npm packages)", venue="chain")
    return init_code_hash


def seed_pools(w3, deployer: DevAccount, router, address: dict[str, str]) -> None:
    """Create every pool of `POOLS` through the router (`addLiquidity`, `addLiquidityETH` for WETH)."""
    with chain_errors(w3, "read the latest block"):
        deadline = w3.eth.get_block("latest")["timestamp"] + DEADLINE_S
    for base, quote, base_amount, quote_amount in POOLS:
        if quote == "WETH":
            call = router.functions.addLiquidityETH(address[base], base_amount, base_amount, quote_amount,
                                                    deployer.address, deadline)
        else:
            call = router.functions.addLiquidity(address[base], address[quote], base_amount, quote_amount,
                                                 base_amount, quote_amount, deployer.address, deadline)
        send(w3, deployer, call, value=quote_amount if quote == "WETH" else 0, action=f"add liquidity {base}/{quote}")


def verified_pairs(w3, factory, address: dict[str, str], init_code_hash: str) -> dict[str, str]:
    """Every pool's pair address from the factory, checked against the router's CREATE2 formula."""
    pairs = {}
    for base, quote, _, _ in POOLS:
        with chain_errors(w3, f"look up the {base}/{quote} pair"):
            pair = factory.functions.getPair(address[base], address[quote]).call()
        expected = create2_pair_address(factory.address, address[base], address[quote], init_code_hash)
        if pair != expected:
            raise VenueRefused(f"the factory created the {base}/{quote} pair at {pair}, but the router computes "
                               f"{expected}: the pair init-code hashes differ; swaps would revert", venue="chain")
        pairs[f"{base}/{quote}"] = pair
    return pairs
