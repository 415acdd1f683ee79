"""Small stand-ins shared by tests and benchmarks."""

from __future__ import annotations


class AcceptAll:
    """An executor that takes every order and fills nothing (no I/O): the gateway's own cost."""

    pending = False

    def place(self, order, now_ms, account):
        return []

    def cancel_all(self, symbol=None):
        return []

    def open_orders(self):
        return []
