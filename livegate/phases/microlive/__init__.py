"""Phase 4 — `livegate go-live --stage 4.1a`: the configured strategy trading real money through
the order gateway and the ccxt executor, one graduated stage at a time (`runner`), and what a
stage is measured by: its cap, duration and successful trades, and the kill criteria against
the paper baseline (`stage`)."""
