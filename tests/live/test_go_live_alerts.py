"""Alerts of a go-live stage on the local exchange: an info alert for every fill, its numbers
those of the venue's own fill; a critical alert nobody acknowledged re-sent by the loop."""

from __future__ import annotations

import time

import pytest

from livegate.config.workspace import Workspace
from livegate.phases.microlive.runner import LiveRunner
from livegate.services.alerts import Alerter, acks
from livegate.services.alerts.receiver import LocalReceiver
from tests.live.conftest import events, live_options


@pytest.fixture
def receiver():
    found = LocalReceiver()
    yield found
    found.close()


def venue_trades(sandbox, root) -> list:
    """Every fill the venue made for this workspace's key, as the venue records it."""
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines()
                   if line.startswith("EXCHANGE_API_KEY="))

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        return [t for trades in account.trades.values() for t in trades]

    return sandbox._on_loop(read)


def reported(value: float) -> str:
    """A venue number as its API reports it (Binance: eight decimals), trailing zeros dropped."""
    text = f"{value:.8f}".rstrip("0")
    return text[:-1] if text.endswith(".") else text


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    assert condition()


def test_every_live_fill_raises_an_info_alert_with_the_venues_numbers(make_live_ws, sandbox, operator_key, receiver):
    acks._next_look.clear()
    root = make_live_ws(config={"alerts": {"destinations": [{"url": receiver.url(), "min_severity": "info", "name": "ops"},
                                                            {"url": receiver.url("pager"), "min_severity": "warning", "name": "pager"}],
                                           "retries": 1, "timeout_seconds": 2, "resend_critical_minutes": 15}})
    Alerter(root).emit("kill_switch", "critical", "trading halted by ann: drill")  # before the stage; nobody acknowledges it
    [critical] = {e["alert_id"] for e in events(root, "alert_sent")}
    hour_later = lambda: time.time() + 3600  # noqa: E731 - a person's clock an hour on: the alert is due once
    outcome = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=3600, wall_clock=hour_later)).run()
    assert outcome.status == "completed", outcome.reason

    trades = venue_trades(sandbox, root)
    assert len(trades) >= 2 and len(trades) == len(events(root, "venue_fill"))
    fill_alerts = lambda: [r["body"]["title"] for r in receiver.requests if "filled:" in r["body"]["title"]]  # noqa: E731
    wait_for(lambda: len(fill_alerts()) == len(trades))
    expected = []
    for t in trades:
        assert t.commission_asset == "USDT" and round(t.price, 2) == t.price  # the sandbox's BTC/USDT: cents, fees in USDT
        expected.append(f"[INFO] my-bot: filled: {'BUY' if t.is_buyer else 'SELL'} {reported(t.qty)} BTC/USDT at {t.price:,.2f}, "
                        f"fee {reported(t.commission)} USDT, stage 4.1a")
    assert sorted(fill_alerts()) == sorted(expected)
    assert all(r["path"] == "/hook" for r in receiver.requests if "filled:" in r["body"]["title"])  # info: not to the pager
    wait_for(lambda: len([e for e in events(root, "alert_sent") if e["kind"] == "fill"]) == len(trades))

    # the loop re-sent the unacknowledged critical alert once: its interval runs from the re-send
    [resent] = events(root, "alert_resent")
    assert resent["alert_id"] == critical and resent["resend"] == 1
    wait_for(lambda: sum("still not acknowledged: trading halted by ann: drill" in r["body"]["title"] for r in receiver.requests) == 2)
