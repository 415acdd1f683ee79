"""One trade unit everywhere: a reducing order's fills, all of them, are one trade — whether the
paper simulator hands them over at once or a venue's trade list delivers them in pieces over
several polls. The same fills through paper and live accounting give identical trades; the
breakers count trades, not fills; a trade is final when the position is flat or its order is
done, and a restart neither loses nor doubles one. Expected numbers are worked out by hand."""

from __future__ import annotations

import pytest

from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import Engine
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, LIMIT, MARKET, SELL, Bar, Fill, Order
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules
from tests.core.venue_double import Venue

SYM = "BTC/USDT"
TF = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
RULES = {SYM: MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)}


def gateway(executor, lim=None, cash=10_000.0):
    lim = lim or limits()
    account = Portfolio(cash=cash, last_price={SYM: 100.0})
    journal = Journal()
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules()), breakers=CircuitBreakers(lim, loose_rules()), executor=executor,
                      account=account, state=RiskState(peak_equity=cash, equity=cash), rules=RULES, journal=journal,
                      id_prefix="u")
    return gw, journal


def fill(cid, side, amount, price, fee, ts):
    return Fill(cid, SYM, side, amount, price, fee, "taker", ts, price, 0.0, "venue")


BUY_FILL = fill("B", BUY, 0.5, 100.0, 0.05, T0)
# a sell of 0.5 in three pieces, as a venue's trade list reports it
PIECES = [fill("S", SELL, 0.2, 110.0, 0.022, T0 + TF), fill("S", SELL, 0.2, 111.0, 0.0222, T0 + TF),
          fill("S", SELL, 0.1, 109.0, 0.0109, T0 + TF + 500)]


def test_the_same_fills_through_paper_and_live_accounting_give_identical_trades():
    # paper: the simulator's way — the order is done when its fills are handed over, all at once
    paper, paper_journal = gateway(PaperExecutor(RULES))
    paper.settle([BUY_FILL], T0)
    paper_trades = paper.settle(PIECES, T0 + 2 * TF)
    # live: the venue reports one piece per poll; the order stays open until its last piece
    venue = Venue()
    live, live_journal = gateway(venue)
    live.settle([BUY_FILL], T0)
    venue.open(Order("S", SYM, SELL, MARKET, 0.5, None, T0 + TF))
    assert live.settle([PIECES[0]], T0 + TF) == []
    assert live.settle([PIECES[1]], T0 + TF + 250) == []
    assert live_journal.of("trade") == [] and live.account.position(SYM) == pytest.approx(0.1)
    venue.close("S", "filled")
    live_trades = live.settle([PIECES[2]], T0 + TF + 750)

    assert live_trades == paper_trades and len(live_trades) == 1
    assert live_journal.of("trade") == paper_journal.of("trade")
    (trade,) = live_trades
    # entry: 0.5 at 100 → cost 50, fee 0.05. exit: 0.2·110 + 0.2·111 + 0.1·109 = 22 + 22.2 + 10.9 = 55.1
    # gross 55.1 − 50 = 5.1; fee 0.05 + 0.022 + 0.0222 + 0.0109 = 0.1051; net 4.9949; exit price 55.1 / 0.5 = 110.2
    assert trade.amount == pytest.approx(0.5) and trade.entry_price == pytest.approx(100.0)
    assert trade.exit_price == pytest.approx(110.2) and trade.gross == pytest.approx(5.1)
    assert trade.fee == pytest.approx(0.1051) and trade.net == pytest.approx(4.9949)
    assert (trade.order_id, trade.fills, trade.opened_ms, trade.closed_ms) == ("S", 3, T0, T0 + TF + 500)
    # cash: 10000 − 50.05 + 55.1 − 0.0551 = 10004.9949 = capital + net
    assert live.account.cash == pytest.approx(10_004.9949) == paper.account.cash


def test_an_order_filled_in_pieces_is_the_trade_of_the_same_order_filled_at_once():
    pieces, _ = gateway(PaperExecutor(RULES))
    pieces.settle([BUY_FILL], T0)
    (split,) = pieces.settle(PIECES, T0 + TF)
    whole, _ = gateway(PaperExecutor(RULES))
    whole.settle([BUY_FILL], T0)
    # the same order at its quantity-weighted price, one fill: 0.5 at 110.2, fee 0.0551
    (one,) = whole.settle([fill("S", SELL, 0.5, 110.2, 0.0551, T0 + TF)], T0 + TF)
    for name in ("amount", "entry_price", "exit_price", "gross", "fee", "net"):
        assert getattr(split, name) == pytest.approx(getattr(one, name), rel=1e-12), name
    assert (split.fills, one.fills) == (3, 1)


def test_an_order_cancelled_after_part_of_it_filled_is_one_trade_at_the_next_bar():
    venue = Venue()

    class Holds:
        def on_bar(self, bar, ctx):
            return None

    gw, journal = gateway(venue)
    engine = Engine(strategy=Holds(), gateway=gw, executor=venue, account=gw.account, state=gw.state, breakers=gw.breakers,
                    timeframe_ms=TF)
    gw.settle([BUY_FILL], T0)
    venue.open(Order("S", SYM, SELL, LIMIT, 0.5, 110.0, T0))
    venue.queued = [venue.fill("S", 0.2, 110.0, 0.022, T0 + TF)]
    engine.on_bar(Bar(SYM, T0 + TF, 110.0, 110.0, 110.0, 110.0, 10.0))
    assert journal.of("trade") == [] and set(gw.account.closing) == {"S"}  # the limit still rests
    venue.close("S", "canceled")  # cancelled at the venue: no fill says so
    engine.on_bar(Bar(SYM, T0 + 2 * TF, 110.0, 110.0, 110.0, 110.0, 10.0))
    (trade,) = journal.of("trade")
    # 0.2 of 0.5 sold: entry cost 0.2 · 100 = 20, entry fee 0.05 · 0.4 = 0.02
    # gross 0.2 · 110 − 20 = 2; fee 0.02 + 0.022 = 0.042; net 1.958
    assert (trade["amount"], trade["order_id"], trade["fills"]) == (pytest.approx(0.2), "S", 1)
    assert (trade["gross"], trade["fee"], trade["net"]) == (pytest.approx(2.0), pytest.approx(0.042), pytest.approx(1.958))
    assert gw.account.closing == {} and gw.account.positions[SYM].amount == pytest.approx(0.3)


def test_two_reducing_orders_at_once_are_two_trades_and_going_flat_closes_both():
    venue = Venue()
    gw, journal = gateway(venue)
    gw.settle([fill("B", BUY, 1.0, 100.0, 0.1, T0)], T0)
    venue.open(Order("L", SYM, SELL, LIMIT, 0.5, 120.0, T0))
    venue.open(Order("M", SYM, SELL, MARKET, 0.7, None, T0 + TF))
    assert gw.settle([venue.fill("L", 0.3, 120.0, 0.036, T0 + TF)], T0 + TF) == []  # L rests, 0.3 filled
    done = gw.settle([venue.fill("M", 0.7, 90.0, 0.063, T0 + TF, "filled")], T0 + TF)  # flat: both final
    assert [t.order_id for t in done] == ["L", "M"] and len(journal.of("trade")) == 2
    limit, market = done
    # L: 0.3 of 1.0 → entry 30, fee 0.03; gross 36 − 30 = 6; fee 0.03 + 0.036 = 0.066; net 5.934
    assert (limit.gross, limit.fee, limit.net) == (pytest.approx(6.0), pytest.approx(0.066), pytest.approx(5.934))
    # M: the other 0.7 → entry 70, fee 0.07; gross 63 − 70 = −7; fee 0.07 + 0.063 = 0.133; net −7.133
    assert (market.gross, market.fee, market.net) == (pytest.approx(-7.0), pytest.approx(0.133), pytest.approx(-7.133))
    assert gw.account.positions == {} and gw.account.closing == {}


def test_the_consecutive_loss_breaker_counts_losing_trades_not_losing_fills():
    venue = Venue()
    gw, journal = gateway(venue, limits(consecutive_losses_halt=2))
    gw.settle([fill("B1", BUY, 0.5, 100.0, 0.05, T0)], T0)
    venue.open(Order("S1", SYM, SELL, MARKET, 0.5, None, T0 + TF))
    for i, (amount, status) in enumerate(((0.2, "open"), (0.2, "open"), (0.1, "filled"))):  # three losing pieces, three polls
        gw.settle([venue.fill("S1", amount, 90.0, amount * 0.09, T0 + TF + i, status)], T0 + TF + i)
    assert len(journal.of("trade")) == 1 and gw.breakers.streak == 1 and journal.of("breaker_trip") == []
    gw.settle([fill("B2", BUY, 0.5, 100.0, 0.05, T0 + 2 * TF)], T0 + 2 * TF)
    venue.open(Order("S2", SYM, SELL, MARKET, 0.5, None, T0 + 3 * TF))
    gw.settle([venue.fill("S2", 0.5, 95.0, 0.0475, T0 + 3 * TF, "filled")], T0 + 3 * TF)
    (trip,) = journal.of("breaker_trip")  # the second losing trade, not the third losing fill
    assert (trip["breaker"], trip["value"]) == ("consecutive_losses", 2)


def test_a_trade_in_progress_survives_a_checkpoint():
    venue = Venue()
    gw, _ = gateway(venue)
    gw.settle([BUY_FILL], T0)
    venue.open(Order("S", SYM, SELL, MARKET, 0.5, None, T0 + TF))
    gw.settle(PIECES[:2], T0 + TF)
    restored = Portfolio.from_dict(gw.account.to_dict())
    assert restored.to_dict() == gw.account.to_dict() and set(restored.closing) == {"S"}
    (after_restore,) = restored.apply(PIECES[2])  # flat
    (uninterrupted,) = gw.account.apply(PIECES[2])
    assert after_restore == uninterrupted


def test_after_a_restart_fills_already_recorded_are_replayed_silently_and_the_trade_recorded_once():
    # before the crash: the checkpoint holds the position; fill 1 was settled (no trade yet, the order open)
    venue = Venue()
    before, _ = gateway(venue)
    before.settle([BUY_FILL], T0)
    saved = before.account.to_dict()
    # after the restart the venue says the order is done: pieces 2 and 3 filled while the process was down
    after_venue = Venue()
    after, journal = gateway(after_venue)
    after.account = Portfolio.from_dict(saved)
    after_venue.open(Order("S", SYM, SELL, MARKET, 0.5, None, T0 + TF, status="filled", filled=0.5))
    assert after.replay([PIECES[0]], T0 + 5 * TF) == []  # recorded before: no event, the trade still in progress
    assert journal.events == [] and set(after.account.closing) == {"S"}
    (trade,) = after.settle(PIECES[1:], T0 + 5 * TF)  # the fills recovered from the venue
    assert [k for k, _ in journal.events] == ["fill", "fill", "trade"]
    assert (trade.amount, trade.fills, trade.net) == (pytest.approx(0.5), 3, pytest.approx(4.9949))


def test_a_trade_recorded_before_a_restart_is_closed_by_the_replay_without_a_second_record():
    venue = Venue()
    gw, journal = gateway(venue, limits(consecutive_losses_halt=1))
    gw.settle([BUY_FILL], T0)
    checkpoint = gw.account.to_dict()  # the last checkpoint before the crash
    venue.open(Order("S", SYM, SELL, LIMIT, 0.5, 90.0, T0 + TF))
    losing = fill("S", SELL, 0.2, 90.0, 0.018, T0 + TF)  # part of a limit sell that then expired
    gw.settle([losing], T0 + TF)
    venue.close("S", "canceled")
    gw.finish_trades(T0 + 2 * TF)  # final and recorded (tripping the breaker) before the crash
    (recorded,) = journal.of("trade")
    assert journal.of("breaker_trip")
    # the restart: the checkpoint's state, then the fill the ledger holds after it, and its trade
    again, again_journal = gateway(Venue(), limits(consecutive_losses_halt=1))
    again.account = Portfolio.from_dict(checkpoint)
    (closed,) = again.replay([losing], T0 + 3 * TF, recorded=[recorded["order_id"]])
    assert closed.to_dict() == recorded and again_journal.events == [] and again.account.closing == {}
    assert "consecutive_losses" in again.breakers.tripped  # the breaker's state, as before the crash
    assert again.finish_trades(T0 + 4 * TF) == [] and again_journal.events == []
