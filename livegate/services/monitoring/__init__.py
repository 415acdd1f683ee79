"""Watching and reporting: the monitor's snapshot, seed 002's flags, Prometheus metrics and the
HTML / JSON / CSV report — all read from the ledger, nothing written."""
