"""Executors behind the order gateway for real venues: `cex.CcxtExecutor` (an exchange through
ccxt, testnet or live) and `dex.DexExecutor` (a Uniswap-V2-style router through web3).

Both write ahead: what is about to be sent is in the ledger before it leaves, so after a
crash `resume` asks the venue what became of it instead of sending it again."""
