"""Paper trading runs: feeds, the ledger journal, and the run loop around the core engine."""
