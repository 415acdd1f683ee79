"""Dust is shown where a trader looks: `livegate monitor` (the screen, --json, Prometheus) and
`livegate status`. The run here is the wedge of the issue played through the real engine and
gateway into a real ledger: a sell fills in part and leaves 0.04 BTC worth 4 below the
market's minimum order of 5; afterwards the price is 80."""

from __future__ import annotations

import pytest

from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import Engine
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, SELL, Bar, Fill, OrderIntent
from livegate.core.portfolio import Portfolio
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.services.monitoring import prom
from tests.core.trading_helpers import limits, loose_rules
from tests.core.venue_double import Venue

SYM = "BTC/USDT"
TF = 60_000
T0 = 1_704_067_200_000
RULES = {SYM: MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)}


class SellsWhatItHolds:
    def on_bar(self, bar, ctx):
        return [OrderIntent(SYM, SELL)] if ctx.position(SYM) > 0 else None


@pytest.fixture
def dusty_ws(workspace):
    with Ledger.open(workspace / ".livegate" / "ledger.db") as ledger:
        start = ledger.append("paper_run_started", {"capital": 10_000.0, "plan": {"kind": "forward"}, "quote": "USDT"})
        journal = WriteThroughJournal(ledger, f"r{start.id}")
        venue = Venue()
        account = Portfolio(cash=10_000.0, last_price={SYM: 100.0})
        lim = limits()
        state = RiskState(peak_equity=10_000.0, equity=10_000.0)
        breakers = CircuitBreakers(lim, loose_rules())
        gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules()), breakers=breakers, executor=venue, account=account,
                          state=state, rules=RULES, journal=journal, id_prefix="m")
        engine = Engine(strategy=SellsWhatItHolds(), gateway=gw, executor=venue, account=account, state=state, breakers=breakers,
                        timeframe_ms=TF)
        gw.settle([Fill("B", SYM, BUY, 0.1, 100.0, 0.01, "taker", T0, 100.0, 0.0, "venue")], T0)
        engine.on_bar(Bar(SYM, T0, 100.0, 100.0, 100.0, 100.0, 10.0))
        (sell,) = venue.open_orders()
        venue.queued = [venue.fill(sell.client_id, 0.06, 100.0, 0.006, T0 + TF, "canceled")]
        for i in range(1, 6):
            engine.on_bar(Bar(SYM, T0 + i * TF, 80.0, 80.0, 80.0, 80.0, 10.0))
        journal.emit("paper_checkpoint", {"state": engine.state_dict()})
    return workspace


def test_the_monitor_shows_the_dust_and_counts_it_in_equity(dusty_ws, run_cli):
    code, snap, output = run_cli.json("-w", dusty_ws, "monitor", "--once", "--json")
    assert code == 0, output
    assert snap["positions"] == []  # not an open position
    (dust,) = snap["dust"]["positions"]
    # 0.04 at 80 = 3.2; its cost 4 and entry fee 0.004 → unrealized 3.2 − 4.004 = −0.804
    assert (dust["symbol"], dust["amount"], dust["value"]) == (SYM, pytest.approx(0.04), pytest.approx(3.2))
    assert dust["unrealized"] == pytest.approx(-0.804)
    assert snap["dust"]["value"] == pytest.approx(3.2) and snap["dust"]["events"] == 1
    # equity: cash 10000 − 10.01 + 6 − 0.006 = 9995.984, plus the dust's 3.2 = 9999.184
    assert snap["pnl"]["equity"] == pytest.approx(9999.184) and snap["pnl"]["unrealized"] == pytest.approx(-0.804)
    assert snap["performance"]["trades"] == 1  # the part that was sold

    screen = run_cli("-w", dusty_ws, "monitor", "--once")
    assert screen.exit_code == 0 and f"{SYM} (dust)" in screen.output and "too small to sell" in screen.output

    collector = prom.SnapshotCollector()
    collector.update(snap)
    text = prom.exposition(prom.registry(collector))
    samples = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert samples["livegate_dust_positions"] == 1.0 and samples["livegate_dust_value"] == pytest.approx(3.2)
    assert samples["livegate_open_positions"] == 0.0


def test_status_names_the_dust_it_keeps(dusty_ws, run_cli):
    code, report, output = run_cli.json("-w", dusty_ws, "status", "--json")
    assert code == 0, output
    assert report["dust"]["step"] == "paper" and report["dust"]["run"].startswith("r")
    assert [(p["symbol"], p["amount"]) for p in report["dust"]["positions"]] == [(SYM, pytest.approx(0.04))]
    paper = next(s for s in report["steps"] if s["step"] == "paper")
    assert "dust kept" in paper["detail"] and "BTC/USDT 0.04 worth 3.20" in paper["detail"]
    text = run_cli("-w", dusty_ws, "status")
    assert text.exit_code == 0 and "dust kept" in text.output


def test_status_without_any_run_has_no_dust(workspace, run_cli):
    code, report, output = run_cli.json("-w", workspace, "status", "--json")
    assert code == 0, output
    assert report["dust"] is None
