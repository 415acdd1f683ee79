"""The go-live loop: one micro-live stage of the configured strategy on the real exchange.

Before anything trades: the stage's gate is open (the previous step passed and was signed
off), the mode is live (`livegate mode set LIVE_MINIMAL` — guarded), `.env` says live
(PAPER_MODE=false, LIVE_TRADING_ENABLED=true), trading is not halted, and no other live
process holds the workspace. Then each closed candle goes through the same engine as paper
trading, with the ccxt executor behind the gateway, the stage's cap and MAX_TRADE_AMOUNT
(refusing bigger orders), the approval flow, and the halt read from the ledger before every
order. Every event is written through to the ledger; a restart resumes the stage (its start
time, its trades) and asks the venue about orders whose answer was lost. The kill criteria are
checked after every bar; a breach halts trading, raises an alert and fails the stage."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from livegate.adapters.exchange.client import workspace_exchange
from livegate.adapters.exchange.retry import Retry
from livegate.adapters.exchange.venue_calls import BREAKER_SLOT, breaker_feed, observe
from livegate.adapters.execution.cex import ALREADY_SENT, CcxtExecutor, split_symbol
from livegate.config.environment import load_env
from livegate.config.strategy import load_strategy
from livegate.core.errors import LedgerError, LivegateError, TradingHalted, UsageError
from livegate.core.orders import Fill
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.phases import run_phase
from livegate.phases.microlive.plugin import PHASE as MICRO_LIVE
from livegate.phases.microlive.stage import StageSpec, StallWatch, baseline_from, kill_breaches, measure, stage_spec
from livegate.phases.paper.feeds import LiveFeed
from livegate.phases.paper.run import run_events
from livegate.phases.production import scaling
from livegate.services import approvals, controls, exchange_key, gate, modes
from livegate.services.alerts import Alerter, resend_unacknowledged
from livegate.services.alerts.journal import AlertingJournal
from livegate.services.alerts.thresholds import ThresholdWatch, Vitals, alert_limits, with_venue
from livegate.services.bot_gateway import BOT_WEIGHT_SHARE, ExternalBot, serve_bot
from livegate.services.ledger_clock import LedgerClockReader, check_now, span_since
from livegate.services.monitoring import periodic
from livegate.services.monitoring.flags import GREEN, RED, YELLOW
from livegate.services.monitoring.snapshot import snapshot
from livegate.services.trading import LIVE_STAGE, assemble_engine, order_refusal, rules_for


@dataclass
class LiveOptions:
    client: Any = None  # a ccxt client instead of building one (tests)
    ask: Callable[[Any], bool | None] | None = None  # the interactive approval prompt
    clock: Callable[[], float] = field(default=lambda: time.time())
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = 0.5
    market_clock: Callable[[], int] | None = None  # an accelerated sandbox's clock
    max_seconds: float | None = None  # stop (resumably) after this long: rehearsals and tests
    progress: Callable[[dict], None] = lambda report: None
    gateway_host: str = "127.0.0.1"  # `bot: external`: where the bot's gateway listens
    gateway_port: int = 0  # 0: a free port
    on_gateway: Callable[[dict], None] = lambda info: None  # told how the bot reaches the gateway, once it listens
    stop_requested: Callable[[], bool] = lambda: False  # the operator asked to stop (SIGTERM, Ctrl-C): pause resumably
    wall_clock: Callable[[], float] = field(default=lambda: time.time())  # a person's time: critical alerts re-sent on it


@dataclass
class LiveOutcome:
    stage: str
    run: str
    status: str  # completed | halted | killed | stalled | paused
    reason: str
    measures: dict
    result: Any = None


PRODUCTION = "production"  # `livegate trade`: production trading, run as a stage that never completes


def preconditions(ws: Any, snap: Any, stage: str, env: Any) -> None:
    """Everything that must hold before real money moves; every failure named at once."""

    if stage == PRODUCTION:
        scaling.production_signoff(ws)  # production signed off under this configuration
    else:
        gate.require_open(snap, stage)
    exchange_key.require_bound_key(ws, env, snap, "trade" if stage == PRODUCTION else f"go-live {stage}")
    halted = modes.halted_reason(ws)
    if halted:
        raise TradingHalted(halted)
    problems = []
    mode = modes.current_mode(ws)
    if mode not in modes.LIVE_MODES:
        problems.append(f"the trading mode is {mode}: switch with `livegate mode set LIVE_MINIMAL --reason ...` (guarded)")
    if env.flag("PAPER_MODE") is not False:
        problems.append("PAPER_MODE is not false in .env / the environment")
    if env.flag("LIVE_TRADING_ENABLED") is not True:
        problems.append("LIVE_TRADING_ENABLED is not true in .env / the environment")
    if env.flag("TRADING_HALTED") is True:
        raise TradingHalted("TRADING_HALTED=true in .env / the environment: set it to false to trade")
    if problems:
        raise UsageError("cannot go live: " + "; ".join(problems))


def mode_tightened(ws: Any, effective: Any, capital: float):
    """risk_limits.yaml's live_trading with total capital at risk held to the mode's exposure
    (seed 004: LIVE_MINIMAL 2 % of capital, LIVE_SCALED 5–10 %)."""

    limits = effective.risk.live_trading
    exposure = modes.mode_limits(ws)["max_exposure"] * capital
    return limits.model_copy(update={"max_total_capital": min(limits.max_total_capital, exposure)}) if exposure > 0 else limits


def current_stage_start(ws: Any, stage: str, fingerprint: str) -> dict | None:
    """The `stage_started` event of this stage still in progress (no result recorded after it,
    same configuration), or None."""

    with queries.reading(ws.ledger_path) as conn:
        started = queries.stage_in_progress(conn, stage)
    return started if started and started.get("config_fingerprint") == fingerprint else None


def paper_baseline(ws: Any):
    """The baseline the kill criteria compare with: the paper result that was signed off."""

    with queries.reading(ws.ledger_path) as conn:
        result = queries.signed_result(conn, "paper")
    if result is None:
        raise UsageError("no signed-off paper result to compare live trading with")
    run = (result.get("summary") or {}).get("run")
    trades = run_events(ws, run, ("trade",)) if run else []
    return baseline_from(result, trades)


class LiveRunner:
    def __init__(self, ws: Any, stage: str, key: Any, options: LiveOptions):
        self.ws, self.stage, self.key, self.o = ws, stage, key, options
        self.lock = threading.RLock()  # the engine's: the loop holds it, and so does every order of an external bot
        self.closed = False  # the stage stopped: an external bot's orders are refused from then on
        self.external = False  # bot: external — the trader's bot trades through the gateway
        self.halted_for: str | None = None  # external: the halt the loop is waiting out (serving reads and cancels)
        self.served: Any = None  # external: the bot's gateway
        self.ledger_clock: LedgerClockReader | None = None  # a real stage's hours: the ledger's clock
        self.journal: AlertingJournal | None = None
        self.production = stage == PRODUCTION  # `livegate trade`: the signed capital level caps, the flags act
        self.level: Any = None  # production: the capital level traded at (scaling.Level) and its tier
        self.tier: Any = None
        self.flag_levels: dict[str, str] = {}  # production: each flag rule's level as last recorded
        self.flags_due = 0.0
        self.report_day: date | None = None  # production: the first UTC day whose daily report is still to come

    def run(self) -> LiveOutcome:
        env = load_env(self.ws.root)
        env.require_valid()  # MAX_TRADE_AMOUNT, the approval mode, the flags: a value that cannot be read is exit 2
        snap = gate.snapshot(self.ws)
        preconditions(self.ws, snap, self.stage, env)
        check_now(self.ws.ledger_path, f"go-live {self.stage}")  # a clock behind the ledger: exit 3 before anything is written
        with controls.live_lock(self.ws, self.stage):
            return self._run(snap.effective, env)

    def _run(self, effective: Any, env: Any) -> LiveOutcome:
        cfg, o, ws = effective.config, self.o, self.ws
        if self.production:  # the signed capital level: its order and position cap; trading never "completes"
            self.level = scaling.current_level(ws, effective)
            self.tier = scaling.tier_for(effective, self.level.amount)
            spec = StageSpec(PRODUCTION, self.tier.position_cap, math.inf, 0)
        else:
            spec = stage_spec(effective, self.stage)
        baseline = paper_baseline(ws)
        client = o.client or workspace_exchange(cfg.exchange, env)
        exchange_key.require_no_withdrawal(client, cfg.exchange, f"go-live {self.stage}", sleep=o.sleep)  # its rights now
        self.client = client
        self.calls = observe(client)  # every venue call feeds the API breakers and the alert vitals
        symbols = list(cfg.exchange.symbols)
        max_amount = env.max_trade_amount()
        with Ledger.open(ws.ledger_path, key=self.key) as ledger:
            started = current_stage_start(ws, self.stage, effective.fingerprint)
            retry = Retry(venue=client.id, client=client, sleep=o.sleep,
                          then="the stage stopped; run `livegate go-live` again to resume it")
            if started is None:
                quote = split_symbol(symbols[0])[1]
                capital = self.level.amount if self.production else float(retry(client.fetch_balance)["total"].get(quote) or 0.0)
                level = {"level": self.tier.name, "level_capital": self.level.amount} if self.production else {}
                event = ledger.append("stage_started", {"stage": self.stage, "config_fingerprint": effective.fingerprint,
                                                        "capital": capital, "started_ms": int(o.clock() * 1000), **level,
                                                        "cap": spec.cap, "symbols": symbols, "environment": env.in_force(),
                                                        **({"clock": "sandbox"} if o.market_clock is not None else {})})
                started = {**event.payload, "event": event.id}
            if o.market_clock is None or started.get("clock") != "sandbox":  # a rehearsal's hours are the sandbox market's
                self.ledger_clock = LedgerClockReader(ws.ledger_path, started["event"], f"stage {self.stage}")
            run = f"lgl{started['event']}"
            self.events = _kinds(ws, run)  # the stage so far (a resumed stage keeps its orders and trades)
            self.alerter = Alerter(ws, key=self.key)
            journal = self.journal = AlertingJournal(WriteThroughJournal(ledger, run, kept=self.events), self.alerter,
                                                     fills_at=f"stage {self.stage}")
            self.engine = None
            executor = CcxtExecutor(client, journal, sleep=o.sleep, halt_check=self._refusal)
            checkpoints = [p for k, p in self.events if k == "live_checkpoint"]
            saved = checkpoints[-1] if checkpoints else None
            markets = retry(client.load_markets)
            missing = [s for s in symbols if s not in markets]
            if missing:
                raise UsageError(f"{client.id} has no market {', '.join(missing)}")
            rules = rules_for(symbols, {}, cfg.exchange, markets)
            external = self.external = cfg.bot == "external"
            strategy = ExternalBot() if external else load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), ws.root)
            approve = approvals.approval_gate(ws, mode=approvals.approval_mode(env), expiry_s=cfg.approvals.expiry_seconds,
                                              ask=o.ask, context=f"go-live {self.stage}", sleep=o.sleep)
            engine = assemble_engine(LIVE_STAGE, effective, strategy, rules, journal, run, ws=ws, env=env, executor=executor,
                                     capital=started["capital"], stage_cap=spec.cap, approve=approve,
                                     saved=saved["state"] if saved else None, id_prefix=run,
                                     limits=self._limits(effective, self.level.amount if self.production else started["capital"]))
            if self.production:
                engine.gateway.stage_cap = self.tier.position_cap  # the level of now (a resumed run may have been scaled since)
                engine.gateway.guardian.cap_label = f"the {self.tier.name} level's order cap"
                journal.emit("trade_limits", {"level": self.tier.name, "level_capital": self.level.amount,
                                              "position_cap": self.tier.position_cap, "mode": modes.current_mode(ws),
                                              **self._limits_dict(engine.gateway.guardian.limits)})
                self.flag_levels = {p["rule"]: p["level"] for k, p in self.events if k == "flag_changed"}
            if saved is None:
                engine.gateway.seq = 0
            self.engine = engine
            self.calls.listen(breaker_feed(engine.breakers, engine.gateway.on_trip, o.clock), replay=True, slot=BREAKER_SLOT)
            recovered = executor.recover(list(self.events))
            applied = catch_up(engine, self.events, int(o.clock() * 1000))  # the events hold what recover journaled
            self.decided_until = decided_until(self.events)
            if recovered.outcome or applied:
                journal.emit("live_recovered", {"orders": recovered.outcome, "fills_applied": applied})
            feed = LiveFeed(client, symbols, cfg.exchange.timeframe, retry, clock=o.clock, sleep=o.sleep,
                            market_clock=o.market_clock)
            if saved:
                feed.last = dict(saved["cursor"])
            journal.emit("live_started", {"stage": self.stage, "resumed": saved is not None, "mode": modes.current_mode(ws),
                                          "bot": cfg.bot, "environment": env.in_force()})
            self.served = self._serve_bot(engine, client, symbols, journal) if external else None
            try:
                return self._loop(effective, spec, started, run, journal, engine, executor, feed, baseline, max_amount)
            except LivegateError as exc:  # the venue gave up on us, the ledger failed: leave nothing working, then say why
                with self.lock:
                    left = self._stop(engine, executor)
                    with contextlib.suppress(LivegateError, OSError):
                        journal.emit("live_stopped", {"reason": f"stopped by an error: {exc}", **left})
                raise
            finally:
                if self.served is not None:
                    self.served.stop()
                    with contextlib.suppress(LivegateError, OSError):
                        self.served.record_refusals(journal)

    def _limits(self, effective: Any, capital: float):
        """The guardian's limits: the mode's exposure of `capital`; in production also the
        capital level's position cap and the mode's risk per trade of the level (the loss at
        which the guardian closes a position: LIVE_MINIMAL 0.1 %, LIVE_SCALED 0.25–1 %)."""
        limits = mode_tightened(self.ws, effective, capital)
        if self.tier is not None:
            risk = modes.mode_limits(self.ws)["risk_per_trade"] * capital
            limits = limits.model_copy(update={
                "max_position_size": min(limits.max_position_size, self.tier.position_cap),
                "max_single_trade_loss": min(limits.max_single_trade_loss, risk) if risk > 0 else limits.max_single_trade_loss})
        return limits

    @staticmethod
    def _limits_dict(limits: Any) -> dict[str, float]:
        return {k: getattr(limits, k) for k in ("max_position_size", "max_total_capital", "max_single_trade_loss")}

    def _follow_level(self, effective: Any, engine: Any, journal: Any) -> None:
        """Production: a capital level signed since the last turn (`livegate scale`, or the
        automatic downscale) applies from the next order on."""
        level = scaling.current_level(self.ws, effective)
        if level.event == self.level.event:
            return
        tier = scaling.tier_for(effective, level.amount)  # below the smallest level: UsageError, trading stops
        before, self.level, self.tier = self.level, level, tier
        engine.gateway.stage_cap = tier.position_cap
        engine.gateway.guardian.cap_label = f"the {tier.name} level's order cap"
        engine.gateway.guardian.limits = self._limits(effective, level.amount)
        journal.emit("trade_level_changed", {"from": before.amount, "to": level.amount, "level": tier.name,
                                             "position_cap": tier.position_cap, "capital_event": level.event,
                                             **self._limits_dict(engine.gateway.guardian.limits)})

    def _act_on_flags(self, run: str, effective: Any, journal: Any) -> None:
        """Production, every `flags.check_seconds`: the monitor's flags, measured on this run. A
        rule that changes level is recorded; turning yellow raises an alert; turning red (a rule
        of `flags.act_on_red`) moves trading to reduce-only, alerts, and proposes halving the
        capital level — applied at once, signed, with `scaling.auto_downscale`."""
        rules = effective.risk.flags
        now = self.o.clock()
        if now < self.flags_due:
            return
        self.flags_due = now + rules.check_seconds
        flags = snapshot(self.ws, run=run)["flags"]["rules"]
        for flag in flags:
            rule, level = flag["rule"], flag["level"]
            if rule == "alerts":  # the flag of the alerts themselves: acting on it would answer alerts with alerts
                continue
            before = self.flag_levels.get(rule, GREEN)
            if level == before or level not in (GREEN, YELLOW, RED):
                continue
            self.flag_levels[rule] = level
            journal.emit("flag_changed", {"rule": rule, "level": level, "from": before, "value": flag["value"],
                                          "detail": flag["detail"]})
            if level == RED and rule in rules.act_on_red:
                self._red_flag(rule, flag["detail"], effective, journal)
            elif level == RED or (level == YELLOW and rules.alert_on_yellow):
                journal.emit("alert", {"severity": "warning", "message": f"{level} flag: {rule} — {flag['detail']}"})

    def _red_flag(self, rule: str, detail: str, effective: Any, journal: Any) -> None:
        reason = f"red flag: {rule} — {detail}"
        controls.reduce_only(self.ws, reason, by="livegate", key=self.key, source=f"red flag: {rule}")
        to = self.level.amount / 2
        proposal = {"rule": rule, "from": self.level.amount, "to": to, "auto": effective.config.scaling.auto_downscale}
        applied = None
        if proposal["auto"]:
            try:
                applied = scaling.scale(self.ws, to=to, down=True, by="livegate (auto_downscale)", key=self.key, reason=reason)["event"]
            except LivegateError as exc:  # no operator key, or the ledger refused: the proposal stands, said why
                proposal["not_applied"] = str(exc)
        journal.emit("downscale_proposed", {**proposal, "applied_event": applied})
        then = (f"capital level scaled down to {to:,.2f} (event #{applied})" if applied is not None
                else f"proposed: `livegate scale --down --to {to:g}`")
        journal.emit("alert", {"severity": "critical",
                               "message": f"{reason}: trading is reduce-only (only orders that shrink a position pass; "
                                          f"`livegate resume` lifts it); {then}"})

    def _reports_due(self, journal: Any) -> None:
        """Production: once a UTC day has ended while trading ran, its daily summary — and after
        a Sunday, the week's reconciliation with the venue's own trades — is written into
        `reports/`, recorded and sent to the alert destinations. One already recorded (a
        restarted run) is not written again; one that cannot be made is an alert, not a stop."""
        today = datetime.fromtimestamp(self.o.clock(), UTC).date()
        if self.report_day is None:
            self.report_day = today
        while self.report_day < today:
            day, self.report_day = self.report_day, self.report_day + timedelta(days=1)
            self._report(journal, periodic.DAILY, day.isoformat(), lambda day=day: periodic.daily_report(self.ws, day))
            if day.weekday() == 6:  # the week (Monday to Sunday) ended with it
                week = periodic.week_start_of(day)
                self._report(journal, periodic.WEEKLY, periodic.week_label(week),
                             lambda week=week: periodic.weekly_report(self.ws, week, self.client))

    def _report(self, journal: Any, kind: str, period: str, make: Callable[[], dict]) -> None:
        try:
            if periodic.recorded(self.ws, kind, period):
                return
            report = make()
            periodic.write_and_record(self.ws, report, key=self.key)
            periodic.send_report(self.ws, report, alerter=Background(self.alerter))
        except (LivegateError, OSError) as exc:
            journal.emit("alert", {"severity": "warning", "message": f"the {kind.replace('_', ' ')} for {period} could not be made: {exc}"})

    def _serve_bot(self, engine: Any, client: Any, symbols: list[str], journal: Any) -> Any:
        """`bot: external`: the Binance-compatible gateway the trader's bot sends its orders to,
        for as long as the stage runs. Its orders take the engine's own gateway."""
        o = self.o
        served = serve_bot(self.ws.state_dir, engine.gateway, client, symbols, step=self.stage, clock=o.clock, lock=self.lock,
                           journal=journal, host=o.gateway_host, port=o.gateway_port, is_open=lambda: not self.closed,
                           busy_for=lambda: self.calls.busy_for(BOT_WEIGHT_SHARE))
        o.on_gateway(served.info)
        return served

    def _refusal(self) -> str | None:
        """Checked by the executor right before each order (and each resend) leaves: the halt,
        the mode, `TRADING_HALTED`, and a circuit breaker tripped since the gateway decided (the
        venue calls of that very order feed the API breakers)."""
        reason = order_refusal(self.ws, LIVE_STAGE)
        if reason is None and self.engine is not None and self.engine.breakers.tripped:
            reason = "circuit breaker tripped: " + "; ".join(t.message for t in self.engine.breakers.tripped.values())
        return reason

    def _loop(self, effective, spec, started, run, journal, engine, executor, feed, baseline, max_amount) -> LiveOutcome:
        o = self.o
        self.t0 = o.clock()
        self.watch, self.limits = ThresholdWatch(), alert_limits(self.ws)
        self.thresholds = {c.id: c.threshold for c in next(s for s in effective.specs if s.id == "micro-live").criteria}
        self.stall = StallWatch()
        while True:
            with self.lock:  # an external bot's orders wait for the step; none is taken once the stage stopped
                outcome = self._step(effective, spec, started, run, journal, engine, executor, feed, baseline, max_amount)
                if outcome is not None:
                    self.closed = True
                    return outcome
            o.sleep(o.poll_s)

    def _step(self, effective, spec, started, run, journal, engine, executor, feed, baseline, max_amount) -> LiveOutcome | None:
        """One turn of the loop: the halt, new bars, fills (each one an info alert), the checkpoint,
        critical alerts nobody acknowledged (sent again when due), the measures, the kill criteria,
        completion, a stall, the time limit. An outcome ends the stage."""
        o, ws = self.o, self.ws
        halted = order_refusal(ws, LIVE_STAGE)
        if halted and self.external:
            # the bot stays connected: its new orders are refused (the gateway reads the halt at
            # every order), its reads and cancels pass; nothing of the stage is left resting
            if self.halted_for != halted:
                journal.emit("live_halted", {"reason": halted, **self._stop(engine, executor)})
                self.halted_for = halted
        elif halted:
            left = self._stop(engine, executor)
            # best effort: the ledger may be why trading halted (the halt file holds the halt)
            with contextlib.suppress(LivegateError, OSError):
                journal.emit("live_stopped", {"reason": halted, **left})
            return LiveOutcome(self.stage, run, "halted", halted, self._measure(run, spec, started, baseline, effective, max_amount))
        if self.served is not None:
            self.served.record_refusals(journal)
        if self.production:
            self._follow_level(effective, engine, journal)
        bars = feed.poll()
        stalled = None
        for bar in bars:
            # a bar whose decisions went out before a crash is not decided again: the strategy
            # sees it (its state stays whole), its orders already are at the venue
            engine.on_bar(bar, trade=bar.ts + engine.tf > self.decided_until)
            stalled = self.stall.on_bar(engine.asked, engine.accepted, engine.refusals)
        if executor.pending:
            engine.gateway.settle(executor.poll(), int(o.clock() * 1000))
        if bars:
            journal.emit("live_checkpoint", {"cursor": dict(feed.last), "state": engine.state_dict()})
        journal.send_fill_alerts()  # the fills of this turn (and of the bot's orders since the last), in the background
        resend_unacknowledged(ws, o.wall_clock(), alerter=self.alerter)  # never raises
        m = self._measure(run, spec, started, baseline, effective, max_amount)
        o.progress(m)
        if self.production:
            self._act_on_flags(run, effective, journal)
            self._reports_due(journal)
        self.watch.check(vitals(self.events, engine, self.calls), self.limits, alerter=Background(self.alerter))
        breaches = kill_breaches(m, self.thresholds, max(spec.min_trades, 10))
        if breaches:
            reason = f"kill criteria at stage {self.stage}: " + "; ".join(breaches)
            controls.halt(ws, reason, by="livegate", key=self.key)
            self._stop(engine, executor)
            journal.emit("alert", {"severity": "critical", "message": reason})
            return LiveOutcome(self.stage, run, "killed", reason, m)
        if halted is None and self.halted_for is not None:
            journal.emit("live_resumed", {"stage": self.stage})
            self.halted_for = None
        if not halted and m["min_duration_hours"] >= spec.min_hours and m["min_successful_trades"] >= spec.min_trades:
            journal.emit("live_stopped", {"reason": "stage complete", **self._stop(engine, executor)})
            return LiveOutcome(self.stage, run, "completed", "stage duration and trades reached", self._measure(
                run, spec, started, baseline, effective, max_amount))
        if stalled is not None:
            reason = f"stage {self.stage} stalled: {stalled.message}"
            journal.emit("alert", {"severity": "critical", "message": reason})
            journal.emit("live_stopped", {"reason": reason, "stall": stalled.to_dict(), **self._stop(engine, executor)})
            return LiveOutcome(self.stage, run, "stalled", reason, self._measure(run, spec, started, baseline, effective,
                                                                               max_amount))
        asked = o.stop_requested()
        if asked or (o.max_seconds is not None and o.clock() - self.t0 >= o.max_seconds):
            why = "stopped by the operator" if asked else "time limit of this run reached"
            journal.emit("live_stopped", {"reason": f"paused ({why}); resume with {'trade' if self.production else 'go-live'}", **self._stop(engine, executor)})
            return LiveOutcome(self.stage, run, "paused", why, m)
        return None

    def _stop(self, engine: Any, executor: Any) -> dict:
        """Leave nothing resting at the venue, then record the trades those cancels ended."""
        left = leave_nothing_resting(executor)
        try:
            now_ms = int(self.o.clock() * 1000)
            engine.gateway.settle(executor.poll(), now_ms)  # what filled before the cancel took
            engine.gateway.finish_trades(now_ms)
        except (LivegateError, OSError) as exc:
            left = {**left, "finish_error": str(exc)}
        if self.journal is not None:
            self.journal.send_fill_alerts()  # what filled before the cancels took
        return left

    def _measure(self, run, spec, started, baseline, effective, max_amount) -> dict:
        start_ms, now_ms = started["started_ms"], int(self.o.clock() * 1000)
        unread = None
        if self.ledger_clock is not None:  # from the stage's start event to the ledger's latest time
            try:
                span = self.ledger_clock.span(self.o.clock)  # ClockWentBackwards: the stage stops, exit 3
                start_ms, now_ms = span.counted_from_ms, span.highest_ms
            except LedgerError as exc:  # cannot be read now (a halt may be why): no hour counts, the stage cannot complete
                start_ms = now_ms
                unread = f"the ledger's clock cannot be read: {exc}"
        m = measure(self.events, spec, start_ms, now_ms, baseline, effective.risk.live_trading, max_amount)
        return {**m, "ledger_clock_error": unread} if unread else m


def stage_status(ws: Any, stage: str, now: Callable[[], float] = lambda: time.time()) -> dict | None:
    """The measurements of the stage in progress (None when none is). A real stage's hours run
    from its start event to the ledger's latest time (ClockWentBackwards when the wall clock
    `now` reads earlier); a rehearsal's from its start to `now` on the sandbox market's clock."""

    effective = ws.effective
    started = current_stage_start(ws, stage, effective.fingerprint)
    if started is None:
        return None
    env = load_env(ws.root)
    max_amount = env.max_trade_amount()
    start_ms, now_ms = started["started_ms"], int(now() * 1000)
    if started.get("clock") != "sandbox":
        span = span_since(ws.ledger_path, started["event"], f"stage {stage}", now)
        start_ms, now_ms = span.counted_from_ms, span.highest_ms
    return measure(_kinds(ws, f"lgl{started['event']}"), stage_spec(effective, stage), start_ms, now_ms,
                   paper_baseline(ws), effective.risk.live_trading, max_amount)


class Background:
    """An alerter whose alerts leave in the background: the loop never waits on a receiver."""

    def __init__(self, alerter: Any):
        self.alerter = alerter

    def emit(self, kind: str, severity: str, title: str, body: str = "") -> None:
        self.alerter.emit(kind, severity, title, body, wait=False)


def vitals(events: list[tuple[str, dict]], engine: Any, calls: Any = None):
    """What the seed 000 §5.3 thresholds look at, from the run's events, the engine's state and
    the venue calls observed (latency, rate-limit warnings; None: not measured)."""

    orders = sum(1 for k, _ in events if k == "order_sending")
    failed = sum(1 for k, p in events if k == "order_not_placed" or (k == "order_rejected" and p.get("rule") != ALREADY_SENT))
    state = engine.state
    day_loss = 100.0 * state.day_loss / state.day_open_equity if state.day_open_equity > 0 else None
    measured = Vitals(orders=orders, orders_failed=failed,
                      daily_loss_pct=max(0.0, day_loss) if day_loss is not None else None, drawdown_pct=100.0 * state.drawdown)
    return with_venue(measured, calls.vitals() if calls is not None else None)


def leave_nothing_resting(executor: Any) -> dict:
    """Cancel the stage's orders still resting at the venue: nothing of ours works unattended
    once the loop stops. Best effort when stopping for a halt (the venue or the ledger may be
    the reason): what could not be cancelled is named, never hidden."""
    try:
        return {"canceled": [o.client_id for o in executor.cancel_all()]}
    except (LivegateError, OSError) as exc:
        return {"not_canceled": [o.client_id for o in executor.open_orders()], "cancel_error": str(exc)}


def catch_up(engine: Any, events: list[tuple[str, dict]], now_ms: int) -> int:
    """Bring a resumed engine to the state after every fill the venue made, before the strategy
    sees another bar. `events` are the run's, up to now — the fills `recover` just found at the
    venue included (it journals them as `venue_fill`). The checkpoint holds the state up to it;
    venue fills journaled after it that the engine had already settled before the crash (their
    `fill` events follow) are replayed silently, the others are settled and recorded. Returns
    how many fills were applied."""
    last = max((i for i, (kind, _) in enumerate(events) if kind == "live_checkpoint"), default=-1)
    after = events[last + 1:]
    settled: dict[str, int] = {}
    for kind, p in after:
        if kind == "fill":
            settled[p["order_id"]] = settled.get(p["order_id"], 0) + 1
    replay, fresh = [], []
    recorded = {p.get("order_id") for kind, p in after if kind == "trade"}
    for kind, p in after:
        if kind != "venue_fill":
            continue
        fill = Fill(**{name: p[name] for name in Fill.__slots__})
        if settled.get(fill.order_id, 0) > 0:
            settled[fill.order_id] -= 1
            replay.append(fill)
        else:
            fresh.append(fill)
    gateway = engine.gateway
    # already in the ledger as fills and trades: the state catches up, the record is not repeated
    gateway.replay(replay, now_ms, recorded)
    if fresh:
        gateway.settle(fresh, now_ms)
    return len(replay) + len(fresh)


def decided_until(events: list[tuple[str, dict]]) -> int:
    """The decision time of the last order sent after the last checkpoint (0 when none): bars
    up to it were being decided when the process stopped."""
    last = max((i for i, (kind, _) in enumerate(events) if kind == "live_checkpoint"), default=-1)
    return max((int(p.get("created_ms") or 0) for kind, p in events[last + 1:] if kind == "order_sending"), default=0)


def _kinds(ws: Any, run: str) -> list[tuple[str, dict]]:
    """(kind, payload) of a run's events, in ledger order (read once, when a stage starts or resumes)."""

    with queries.reading(ws.ledger_path) as conn:
        return [(e["kind"], e["payload"]) for e in queries.events_of_run(conn, run)]


def go_live(ws: Any, stage: str, key: Any, options: LiveOptions) -> tuple[LiveOutcome, Any]:
    """`livegate go-live --stage`: run the stage, then record its result when it completed, a
    kill criterion ended it or it stalled (a halted or paused stage records none). Returns
    (outcome, result)."""
    outcome = LiveRunner(ws, stage, key, options).run()
    result = None
    if outcome.status in ("completed", "killed", "stalled"):
        result = run_phase(MICRO_LIVE, ws, step=stage, extras={"measures": outcome.measures}, key=key)
    return outcome, result


def trade(ws: Any, key: Any, options: LiveOptions) -> LiveOutcome:
    """`livegate trade`: production trading at the signed capital level, until stopped (paused:
    the same command resumes it), halted, killed or stalled. It records no phase result: its
    trades are the evidence `livegate scale` reads."""
    return LiveRunner(ws, PRODUCTION, key, options).run()
