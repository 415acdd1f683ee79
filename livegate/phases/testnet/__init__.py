"""Phase 3 — `livegate testnet`: scripted real orders on the exchange's sandbox through the
order gateway and the ccxt executor (`cex_script`), a swap on the test chain through the DEX
executor (`dex_script`), and a drill of the approval flow (`approval_drill`)."""
