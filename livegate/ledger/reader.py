"""The ledger's read helpers under their old names. Every read lives in
`livegate.ledger.queries`; this module only re-exports the general ones for code that still
imports them from here (new code imports `livegate.ledger.queries`)."""

from __future__ import annotations

from livegate.ledger.queries import connect_readonly, count_events
from livegate.ledger.queries import events as iter_events

__all__ = ["connect_readonly", "count_events", "iter_events"]
