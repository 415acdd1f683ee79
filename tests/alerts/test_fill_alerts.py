"""The words of a fill's alert, checked against strings written out by hand."""

from __future__ import annotations

import pytest

from livegate.services.alerts.journal import AlertingJournal, fill_title


@pytest.mark.parametrize(("fill", "where", "text"), [
    ({"side": "buy", "amount": 0.00028, "symbol": "BTC/USDT", "price": 42284.7, "fee": 0.0118, "fee_cost": 0.0118, "fee_currency": "USDT"},
     "stage 4.1a", "filled: BUY 0.00028 BTC/USDT at 42,284.70, fee 0.0118 USDT, stage 4.1a"),
    # the fee as the venue charged it: in BNB, not the quote
    ({"side": "sell", "amount": 1.5, "symbol": "ETH/USDT", "price": 2250.0, "fee": 3.375, "fee_cost": 0.0061, "fee_currency": "BNB"},
     "stage 4.1d", "filled: SELL 1.5 ETH/USDT at 2,250.00, fee 0.0061 BNB, stage 4.1d"),
    # no venue fee reported: the quote fee; a price below a cent keeps its digits
    ({"side": "sell", "amount": 1234567.0, "symbol": "PEPE/USDT", "price": 0.00001234, "fee": 0.0152, "fee_cost": None, "fee_currency": None},
     "stage 4.1b", "filled: SELL 1,234,567 PEPE/USDT at 0.00001234, fee 0.0152 USDT, stage 4.1b"),
])
def test_fill_title(fill, where, text):
    assert fill_title(fill, where) == text


class Recorder:
    """Stands in for both sides of the journal: what was journaled, what was sent as an alert."""

    def __init__(self):
        self.sent = []

    def emit(self, kind, payload_or_severity, title=None, body="", **kwargs):
        self.sent.append((kind, payload_or_severity, title, kwargs.get("wait")))


def test_fills_wait_for_the_loop_and_only_in_a_live_session():
    journal, alerter = Recorder(), Recorder()
    live = AlertingJournal(journal, alerter, fills_at="stage 4.1a")
    fill = {"side": "buy", "amount": 0.001, "symbol": "BTC/USDT", "price": 40000.0, "fee": 0.04, "fee_cost": 0.04, "fee_currency": "USDT"}
    live.emit("venue_fill", fill)
    assert alerter.sent == []  # nothing on the order's way out
    assert live.send_fill_alerts() == 1 and live.send_fill_alerts() == 0
    assert alerter.sent == [("fill", "info", "filled: BUY 0.001 BTC/USDT at 40,000.00, fee 0.04 USDT, stage 4.1a", False)]
    testnet = AlertingJournal(Recorder(), Recorder())
    testnet.emit("venue_fill", fill)
    assert testnet.send_fill_alerts() == 0
