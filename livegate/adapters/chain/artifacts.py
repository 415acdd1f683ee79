"""The Uniswap V2 contract builds the local chain deploys, read from the npm packages'
`build/*.json` (ABI and creation bytecode), exactly as Uniswap published them.

`ERC20` is v2-core's test token: its constructor mints `_totalSupply` to the deployer; its name
and symbol are fixed ("Uniswap V2", "UNI-V2"), so livegate keys the two tokens by its own
symbols (TKA, TKB)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from livegate.adapters.chain import node_modules
from livegate.core.errors import VenueUnreachable

# contract name -> the npm package whose build/ holds it
SOURCES = {
    "UniswapV2Factory": "@uniswap/v2-core",
    "UniswapV2Pair": "@uniswap/v2-core",
    "ERC20": "@uniswap/v2-core",
    "UniswapV2Router02": "@uniswap/v2-periphery",
    "WETH9": "@uniswap/v2-periphery",
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its name, ABI and creation bytecode (0x-prefixed hex)."""

    name: str
    abi: list = field(repr=False, hash=False)
    bytecode: str = field(repr=False)


@cache
def load(name: str) -> Artifact:
    """The build of contract `name` (a key of `SOURCES`) from node_modules, read once per process."""
    package = SOURCES[name]
    root = node_modules.find_package(package)
    if root is None:
        raise VenueUnreachable(f"cannot deploy Uniswap V2 on the local chain: npm package {package} not found "
                               f"(searched {node_modules.searched()}); {node_modules.INSTALL_HINT}")
    path = root / "build" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        bytecode = data.get("bytecode") or data["evm"]["bytecode"]["object"]
        abi = data["abi"]
    except (OSError, ValueError, KeyError) as exc:
        raise VenueUnreachable(f"cannot read the {name} build at {path}: {exc}") from exc
    return Artifact(name, abi, bytecode if bytecode.startswith("0x") else "0x" + bytecode)


def load_all() -> dict[str, Artifact]:
    """Every contract of `SOURCES`, by name."""
    return {name: load(name) for name in SOURCES}
