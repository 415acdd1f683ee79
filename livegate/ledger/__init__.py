"""The tamper-evident ledger: an append-only, hash-chained event log in SQLite, with the
operator's Ed25519 signatures on sign-offs and on the ledger head."""
