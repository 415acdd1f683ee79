"""`livegate paper-run`: build the engine for a workspace, feed it, journal it, resume it.

A backtest (`--replay`, `--since`) runs at full speed, committing every simulated day; a
forward run (`--days N` on live data) commits after every bar. Each commit holds the
events and a checkpoint of the engine, so `--resume` continues from the last one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livegate.adapters.exchange.client import workspace_exchange
from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles
from livegate.adapters.marketdata.ohlcv import load_ohlcv_csv
from livegate.adapters.marketdata.synthetic import load_builtin
from livegate.adapters.sandbox.rehearsal import feed_source
from livegate.config.environment import load_env
from livegate.config.strategy import load_strategy
from livegate.core.engine import Engine
from livegate.core.errors import ConfigError, Interrupted, StrategyError, TradingHalted, UsageError, VenueUnreachable
from livegate.core.fills import MarketRules
from livegate.core.timeparse import ms_to_iso as _iso
from livegate.ledger import queries
from livegate.ledger.run_journal import LedgerJournal
from livegate.ledger.store import Ledger
from livegate.phases.paper.feeds import DAY_MS, LiveFeed, Retry, fetch_history, first_days, merged_bars
from livegate.services import gate, trading
from livegate.services.bot_gateway import ExternalBot, PaperDesk, serve_bot
from livegate.services.trading import assemble_engine, order_refusal, rules_for

BACKTEST, FORWARD = "backtest", "forward"
RESUME_HINT = "interrupted: the run stopped at its last checkpoint; continue it with `livegate paper-run --resume`"
HALT_HINT = "the run stopped at its last checkpoint; after `livegate resume`, continue it with `livegate paper-run --resume`"
CHECKPOINT_BARS = 1440


@dataclass
class RunPlan:
    """What the operator asked for, parsed (testable without the CLI)."""

    kind: str
    days: float | None = None
    replay: list[str] = field(default_factory=list)
    since_ms: int | None = None
    symbols: list[str] = field(default_factory=list)
    resume: bool = False

    def describe(self) -> str:
        if self.kind == FORWARD:
            return f"forward run on live market data for {self.days:g} days"
        src = ", ".join(self.replay) if self.replay else f"history since {_iso(self.since_ms)}"
        return f"backtest on {src}" + (f" ({self.days:g} days)" if self.days else "")


@dataclass
class Progress:
    kind: str
    done: float  # bars (backtest) or elapsed days (forward)
    total: float
    trades: int
    pnl: float
    drawdown: float
    equity: float


@dataclass
class RunOutcome:
    run_id: str
    plan: RunPlan
    data: dict[str, Any]
    engine: Engine
    journal_seconds: float
    wall_seconds: float
    bars: int
    resumed_from: int | None = None


# -- data -----------------------------------------------------------------------------------
def load_replay(sources: list[str], symbols: list[str], timeframe: str, days: float | None, root) -> list[Candles]:
    """One Candles per symbol: a CSV file or `builtin:<name>` (seeded synthetic data)."""
    from pathlib import Path

    if len(sources) != len(symbols):
        raise UsageError(f"{len(sources)} --replay source(s) for {len(symbols)} symbol(s); give one --symbol per --replay, in order")
    out = []
    for source, symbol in zip(sources, symbols):
        if source.startswith("builtin:"):
            bars = int((days or 30) * DAY_MS // TIMEFRAME_MS["1m"])
            c = load_builtin(source.split(":", 1)[1], bars)
            c.symbol = symbol  # synthetic prices traded under the configured symbol
        else:
            path = Path(source).expanduser()
            if not path.is_absolute() and not path.exists():
                path = root / path
            if not path.is_file():
                raise UsageError(f"--replay {source}: no such file")
            c = first_days(load_ohlcv_csv(path, symbol), days)
        if len(c) < 2:
            raise UsageError(f"--replay {source}: fewer than 2 bars to replay")
        out.append(c)
    tfs = {c.timeframe_ms for c in out}
    if len(tfs) != 1:
        raise UsageError("the replay sources have different timeframes")
    return out


def data_digest(series: list[Candles]) -> str:
    import hashlib

    h = hashlib.sha256()
    for c in series:
        h.update(c.symbol.encode())
        for arr in (c.ts, c.open, c.high, c.low, c.close, c.volume):
            h.update(arr.data if arr.flags.c_contiguous else arr.tobytes())  # the same bytes, without a copy
    return h.hexdigest()


def _resumes_exactly(strategy, saved: dict) -> bool:
    return "strategy" in saved and callable(getattr(strategy, "restore", None))


# -- the ledger side of a run -----------------------------------------------------------------
def unfinished_run(ws) -> tuple[dict, dict | None] | None:
    """The latest run that is not finished — not completed, or completed but its result not yet
    recorded (a crash during the evaluation): (start event, last checkpoint)."""

    with queries.reading(ws.ledger_path) as conn:
        started = queries.latest_of_kind(conn, "paper_run_started")
        if started is None:
            return None
        start = {"id": started["id"], **started["payload"]}
        run = _run_id_of(start)
        if queries.result_recorded_for_run(conn, run):
            return None
        cp = queries.latest_in_run(conn, run, "paper_checkpoint")
        return start, (cp["payload"] if cp else None)


def run_events(ws, run_id: str, kinds: tuple[str, ...]) -> list[dict]:
    """Payloads of the run's events of these kinds, in ledger order."""

    with queries.reading(ws.ledger_path) as conn:
        return [e["payload"] for e in queries.events_of_run(conn, run_id, kinds)]


def run_counts(ws, run_id: str) -> dict[str, Any]:
    with queries.reading(ws.ledger_path) as conn:
        kinds = queries.run_kind_counts(conn, run_id)
        blocked = queries.blocked_by_rule(conn, run_id)
        trips = queries.breaker_trips(conn, run_id)
    return {"events": kinds, "blocked_by_rule": blocked, "breaker_trips": trips}


# -- the run ------------------------------------------------------------------------------------
@dataclass
class BotOptions:
    """bot: external — where the gateway for the trader's own bot listens, and who is told its URL."""

    host: str = "127.0.0.1"
    port: int = 0
    on_gateway: Callable[[dict], None] = lambda info: None


class PaperRunner:
    """One paper run from start (or resume) to completion. `clock`/`sleep` are injectable so
    tests can drive a 7-day forward run with freezegun; `client` overrides the ccxt client."""

    def __init__(self, ws, plan: RunPlan, *, key=None, clock: Callable[[], float] = lambda: time.time(),
                 sleep: Callable[[float], None] = time.sleep, progress: Callable[[Progress], None] | None = None,
                 client: Any = None, checkpoint_bars: int = CHECKPOINT_BARS, market_clock: Callable[[], int] | None = None,
                 bot: BotOptions | None = None):
        self.ws, self.plan, self.key = ws, plan, key
        self.bot = bot or BotOptions()  # bot: external — the gateway the trader's bot trades through
        self.clock, self.sleep, self.progress = clock, sleep, progress
        self.client = client
        self.checkpoint_bars = checkpoint_bars
        self.market_clock = market_clock  # an accelerated sandbox's clock (tests, `livegate demo`)

    # The whole run. Returns the outcome; raises on a stop (after recording it).
    def run(self) -> RunOutcome:
        ws, plan = self.ws, self.plan
        effective = ws.effective
        cfg = effective.config
        self.env = load_env(ws.root)
        self.env.require_valid()  # every phase command refuses a .env value it cannot use (exit 2)
        saved_start = saved = None
        if plan.resume:
            found = unfinished_run(ws)
            if found is None:
                raise UsageError("no unfinished paper run to resume in this ledger")
            saved_start, saved = found
            if saved_start["config_fingerprint"] != effective.fingerprint:
                raise ConfigError("the configuration (or strategy file) changed since this run started; it cannot be resumed — start a new run")
            p = saved_start["plan"]
            self.plan = plan = RunPlan(p["kind"], p["days"], p["replay"], p["since_ms"], p["symbols"], resume=True)
        if plan.kind == FORWARD:
            gate.require_open(gate.snapshot(ws), "paper")
            gate.require_recordable(ws, "paper")  # not days of trading for a result a running go-live stage refuses
        external = cfg.bot == "external"
        if external and plan.kind != FORWARD:
            raise UsageError("bot: external — your bot's paper trading is a forward run on live data (`paper-run --days N`); "
                             "a backtest has no bot to ask")
        strategy = ExternalBot() if external else load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), ws.root)
        t0 = time.perf_counter()
        with Ledger.open(ws.ledger_path, key=self.key) as ledger:
            if plan.kind == BACKTEST:
                return self._backtest(ledger, effective, strategy, saved_start, saved, t0)
            return self._forward(ledger, effective, strategy, saved_start, saved, t0)

    def _start(self, ledger, effective, strategy, data: dict, rules: dict[str, MarketRules]) -> str:
        cfg = effective.config
        payload = {
            "plan": {"kind": self.plan.kind, "days": self.plan.days, "replay": self.plan.replay, "since_ms": self.plan.since_ms, "symbols": self.plan.symbols},
            "counts_as_phase_result": self.plan.kind == FORWARD,
            "strategy": {"ref": cfg.strategy.ref, "params": dict(cfg.strategy.params), "class": type(strategy).__name__,
                         "sha256": effective.snapshot.get("strategy_sha256")},
            "capital": cfg.capital.starting,
            "quote": cfg.capital.quote,
            "timeframe": cfg.exchange.timeframe,
            "data": data,
            "rules": {s: r.__dict__ for s, r in rules.items()},
            "config_fingerprint": effective.fingerprint,
            "environment": self.env.in_force(),
        }
        return f"r{ledger.append('paper_run_started', payload).id}"

    def _stop(self, ledger, journal, reason: str, engine: Engine | None) -> None:
        journal.discard()
        ledger.append("paper_run_stopped", {"run": journal.run_id, "reason": reason, "resumable": True,
                                            "bars": engine.bars if engine else 0})

    def _progress(self, done: float, total: float, engine: Engine) -> None:
        if self.progress:
            st = engine.state
            self.progress(Progress(self.plan.kind, done, total, len(engine.gateway.trades), st.equity - self._capital, st.drawdown, st.equity))

    # -- backtest -------------------------------------------------------------------------------
    def _backtest(self, ledger, effective, strategy, saved_start, saved, t0) -> RunOutcome:
        cfg = effective.config
        plan = self.plan
        self._capital = cfg.capital.starting
        symbols = plan.symbols or list(cfg.exchange.symbols[:1])
        if plan.replay:
            series = load_replay(plan.replay, symbols, cfg.exchange.timeframe, plan.days, self.ws.root)
            markets = None
        else:
            series, markets = self._fetch_history(effective, symbols)
        data = {
            "sources": [c.source for c in series], "symbols": [c.symbol for c in series],
            "synthetic": any(c.synthetic for c in series), "bars": int(sum(len(c) for c in series)),
            "from": _iso(int(min(c.ts[0] for c in series))), "to": _iso(int(max(c.ts[-1] for c in series))),
            "timeframe_ms": series[0].timeframe_ms, "sha256": data_digest(series),
            "warnings": [w for c in series for w in c.warnings],
        }
        if series[0].timeframe_ms != TIMEFRAME_MS[cfg.exchange.timeframe]:
            raise UsageError(f"the data's timeframe ({series[0].timeframe_ms // 60000} min) differs from exchange.timeframe {cfg.exchange.timeframe} in livegate.yaml")
        rules = rules_for(symbols, {c.symbol: float(c.open[0]) for c in series}, cfg.exchange, markets)
        if saved_start is not None:
            if saved_start["data"]["sha256"] != data["sha256"]:
                raise UsageError("the market data differs from the run being resumed (file changed?); start a new run")
            run_id = _run_id_of(saved_start)
        else:
            run_id = self._start(ledger, effective, strategy, data, rules)
        journal = LedgerJournal(ledger, run_id)
        engine = assemble_engine(trading.BACKTEST, effective, strategy, rules, journal, run_id, saved=saved["state"] if saved else None)
        cursor = saved["cursor"] if saved else 0
        total, bars = merged_bars(series, cursor)
        if cursor:
            self._warm_up(engine, series, cursor, exact=_resumes_exactly(strategy, saved["state"]))
        i = cursor
        if saved and saved.get("final"):  # the run had finished; only its evaluation was lost
            return RunOutcome(run_id, plan, data, engine, journal.seconds, time.perf_counter() - t0, i, resumed_from=cursor)
        every = self.checkpoint_bars
        on_bar = engine.on_bar
        try:
            for bar in bars:
                on_bar(bar)
                i += 1
                if i % every == 0:
                    journal.commit({"cursor": i, "state": engine.state_dict()})
                    self._progress(i, total, engine)
            journal.commit({"cursor": i, "state": engine.state_dict(), "final": True},
                           extra=[("paper_run_completed", {"bars": i, "equity": engine.account.equity()})])
        except StrategyError as exc:
            self._stop(ledger, journal, str(exc), engine)
            raise
        except KeyboardInterrupt:
            self._stop(ledger, journal, "interrupted", engine)
            raise Interrupted(RESUME_HINT) from None
        self._progress(i, total, engine)
        return RunOutcome(run_id, plan, data, engine, journal.seconds, time.perf_counter() - t0, i, resumed_from=cursor or None)

    def _warm_up(self, engine: Engine, series: list[Candles], cursor: int, exact: bool) -> None:
        """Rebuild the strategy's view (recent bars; its state too when it cannot restore it)."""
        need = engine.ctx._size
        _, bars = merged_bars(series, max(0, cursor - need * len(series)))
        for _ in range(min(cursor, need * len(series))):
            engine.on_bar(next(bars), trade=False, call_strategy=not exact)

    def _fetch_history(self, effective, symbols):
        cfg = effective.config
        client = self.client or workspace_exchange(cfg.exchange)
        retry = Retry(sleep=self.sleep, venue=cfg.exchange.id)
        markets = retry(lambda: client.load_markets())
        now = int(self.clock() * 1000)
        until = now if not self.plan.days else min(now, self.plan.since_ms + int(self.plan.days * DAY_MS))

        for s in symbols:
            if s not in markets:
                raise UsageError(f"{cfg.exchange.id} has no market {s}")
        return [fetch_history(client, s, cfg.exchange.timeframe, self.plan.since_ms, until, retries=retry) for s in symbols], markets

    # -- forward -------------------------------------------------------------------------------
    def _forward(self, ledger, effective, strategy, saved_start, saved, t0) -> RunOutcome:
        halted = order_refusal(self.ws, trading.PAPER)
        if halted:
            raise TradingHalted(f"{halted}: no paper run starts while trading is halted (`livegate resume` lifts the halt)")
        cfg = effective.config
        plan = self.plan
        self._capital = cfg.capital.starting
        symbols = plan.symbols or list(cfg.exchange.symbols)
        engine_ref: list[Engine] = []
        def api_call(ok: bool, seconds: float) -> None:
            """Every venue call feeds the API error-rate and latency breakers."""
            if engine_ref:
                for trip in engine_ref[0].breakers.on_api_call(ok, seconds, int(self.clock() * 1000)):
                    engine_ref[0].gateway.on_trip(trip)

        retry = Retry(sleep=self.sleep, on_call=api_call, venue=cfg.exchange.id)
        if self.client is None:
            self.client = workspace_exchange(cfg.exchange)
        client = self.client
        markets = retry(lambda: client.load_markets())
        missing = [s for s in symbols if s not in markets]
        if missing:
            raise UsageError(f"{cfg.exchange.id} has no market {', '.join(missing)}")
        feed = LiveFeed(client, symbols, cfg.exchange.timeframe, retry, clock=self.clock, sleep=self.sleep, market_clock=self.market_clock)
        prices = {s: float(retry(lambda s=s: client.fetch_ticker(s))["last"]) for s in symbols}
        rules = rules_for(symbols, prices, cfg.exchange, markets)
        now_ms = int(self.clock() * 1000)
        if saved_start is not None:
            run_id = _run_id_of(saved_start)
            started_ms = saved_start["data"]["started_ms"]
        else:
            started_ms = now_ms
            source, synthetic = feed_source(cfg.exchange)
            data = {"sources": [source], "symbols": symbols, "synthetic": synthetic, "started_ms": started_ms,
                    "from": _iso(started_ms), "to": _iso(started_ms + int(plan.days * DAY_MS)), "testnet": cfg.exchange.testnet}
            run_id = self._start(ledger, effective, strategy, data, rules)
        journal = LedgerJournal(ledger, run_id)

        engine = assemble_engine(trading.PAPER, effective, strategy, rules, journal, run_id, ws=self.ws, book_for=feed.order_book,
                                 saved=saved["state"] if saved else None)
        engine_ref.append(engine)
        if saved:
            feed.last = dict(saved["cursor"])
            exact = _resumes_exactly(strategy, saved["state"])
            for s in symbols:
                for bar in feed.history(s, engine.ctx._size, feed.last.get(s, now_ms) + engine.tf):
                    engine.on_bar(bar, trade=False, call_strategy=not exact)
        end_ms = started_ms + int(plan.days * DAY_MS)
        total_days = plan.days
        finished = bool(saved and saved.get("final"))  # only the evaluation was lost
        lock, served = threading.RLock(), None
        if cfg.bot == "external" and not finished:
            closed = [False]
            served = serve_bot(self.ws.state_dir, engine.gateway, client, symbols, step="paper", clock=self.clock, lock=lock,
                               journal=journal, host=self.bot.host, port=self.bot.port, is_open=lambda: not closed[0],
                               desk_class=PaperDesk)
            self.bot.on_gateway(served.info)
        try:
            while not finished:
                with lock:  # the bot's requests wait for this turn of the loop
                    halted = order_refusal(self.ws, trading.PAPER)  # read fresh: a halt from any terminal stops the run here
                    if halted:
                        self._stop(ledger, journal, f"trading halted: {halted}", engine)
                        raise TradingHalted(f"{halted}; {HALT_HINT}")
                    now_ms = int(self.clock() * 1000)
                    for bar in feed.poll():
                        stale = bar.ts + engine.tf < now_ms - engine.tf  # closed more than a bar before this poll: missed while down
                        engine.on_bar(bar, trade=not stale)
                    finished = now_ms >= end_ms
                    if served is not None:
                        served.record_refusals(journal)
                    journal.commit({"cursor": dict(feed.last), "state": engine.state_dict(), "final": finished},
                                   extra=[("paper_run_completed", {"bars": engine.bars, "equity": engine.account.equity()})] if finished else ())
                    self._progress(min(total_days, (now_ms - started_ms) / DAY_MS), total_days, engine)
                    if finished and served is not None:
                        closed[0] = True  # the run is over: the bot's next order is refused
                if not finished:
                    feed.wait_next()
        except (StrategyError, VenueUnreachable) as exc:
            self._stop(ledger, journal, str(exc), engine)
            raise
        except KeyboardInterrupt:
            self._stop(ledger, journal, "interrupted", engine)
            raise Interrupted(RESUME_HINT) from None
        finally:
            if served is not None:
                served.stop()
        data = saved_start["data"] if saved_start else data
        return RunOutcome(run_id, plan, data, engine, journal.seconds, time.perf_counter() - t0, engine.bars)


def _run_id_of(start: dict) -> str:
    return f"r{start['id']}"
