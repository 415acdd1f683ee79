"""The synthetic stress test (seed 000 §2.5): 200+ seeded scenarios — flash crash, gap,
volatility spike, liquidity drought, trending and ranging markets — each run through the
workspace's strategy, risk guardian and breakers on the paper engine. Pass requires no
scenario's drawdown from peak equity (marked to market every bar) above the threshold.

Each scenario is seeded and builds its own strategy, engine and market: its result does not
depend on which scenarios ran before it, or in which process. `StressTest` uses that to
share the scenarios with a forked helper process (on Linux, with two or more CPUs): started
early, the helper works through them from the first while this process does other work
(reading an imported trade log), then takes them from the last until the two meet. The
result is the same dict, number for number, as `run_stress`, which runs them in order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from livegate.adapters.marketdata.synthetic import STRESS_KINDS, stress_scenario
from livegate.core.gateway import NullJournal
from livegate.phases.paper.feeds import merged_bars
from livegate.services.trading import SIMULATION, assemble_engine, rules_for

SCENARIOS_PER_KIND = 29  # 7 kinds x 29 = 203 scenarios
SCENARIO_BARS = 1440


def run_stress(effective, strategy_factory: Callable[[], Any], per_kind: int = SCENARIOS_PER_KIND, bars: int = SCENARIO_BARS,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Every scenario in order, in this process."""
    with StressTest(effective, strategy_factory, per_kind, bars, helper=False) as test:
        return test.result(progress)


def scenarios(per_kind: int = SCENARIOS_PER_KIND) -> list[tuple[str, int]]:
    return [(kind, seed) for kind in STRESS_KINDS for seed in range(per_kind)]


def run_scenario(effective, strategy_factory: Callable[[], Any], kind: str, seed: int, bars: int = SCENARIO_BARS) -> dict[str, Any]:
    """One scenario through a fresh strategy and engine."""

    symbol = effective.config.exchange.symbols[0]
    candles = stress_scenario(kind, seed, bars=bars, symbol=symbol)
    rules = rules_for([symbol], {symbol: float(candles.open[0])}, effective.config.exchange)
    engine = assemble_engine(SIMULATION, effective, strategy_factory(), rules, NullJournal(), f"stress-{kind}-{seed}")
    _, feed = merged_bars([candles])
    on_bar = engine.on_bar
    for bar in feed:
        on_bar(bar)
    st = engine.state
    return {"kind": kind, "seed": seed, "max_drawdown_pct": 100 * st.max_drawdown,
            "return_pct": 100 * (st.equity / effective.config.capital.starting - 1),
            "trades": len(engine.gateway.trades), "breaker_trips": sorted(engine.breakers.tripped)}


def summarize(results: list[dict[str, Any]], bars: int) -> dict[str, Any]:
    worst = max(results, key=lambda r: r["max_drawdown_pct"])
    by_kind = {}
    for kind in STRESS_KINDS:
        rows = [r for r in results if r["kind"] == kind]
        by_kind[kind] = {"scenarios": len(rows), "max_drawdown_pct": max(r["max_drawdown_pct"] for r in rows),
                         "mean_return_pct": sum(r["return_pct"] for r in rows) / len(rows), "trades": sum(r["trades"] for r in rows)}
    return {"scenarios": len(results), "bars_each": bars, "max_drawdown_pct": worst["max_drawdown_pct"],
            "worst": {k: worst[k] for k in ("kind", "seed", "max_drawdown_pct", "return_pct")}, "by_kind": by_kind, "results": results}


class StressTest:
    """The stress test, begun at construction in a helper process when one can be forked
    (`helper=True`); `result()` finishes it here and returns `run_stress`'s dict. Use it as a
    context manager: leaving the block stops a helper that is still running (say the import
    failed before the result was wanted).

    The helper takes scenarios from the front, this process from the back, each claiming the
    next one in a shared page before running it; they stop where they meet. Whatever the
    helper did not deliver (it failed, or was killed) runs here afterwards, in order, so a
    scenario that raises raises here, at the first such scenario, as in `run_stress`."""

    def __init__(self, effective, strategy_factory: Callable[[], Any], per_kind: int = SCENARIOS_PER_KIND,
                 bars: int = SCENARIO_BARS, helper: bool = True):
        self.effective, self.strategy_factory, self.bars = effective, strategy_factory, bars
        self.todo = scenarios(per_kind)
        self.results: dict[int, dict[str, Any]] = {}
        self._pid: int | None = None
        self._pipe: int | None = None
        if helper and _can_fork():
            self._fork()

    def __enter__(self) -> StressTest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, i: int) -> dict[str, Any]:
        kind, seed = self.todo[i]
        return run_scenario(self.effective, self.strategy_factory, kind, seed, self.bars)

    # -- the helper process ------------------------------------------------------------------

    def _fork(self) -> None:
        import mmap

        import numpy.ma  # noqa: F401 - numpy, and what numpy 2 imports on first use: both processes
        import numpy.random  # noqa: F401 - need them, so they are imported once, before the fork

        self._shared = mmap.mmap(-1, mmap.PAGESIZE)  # int32 next-from-front, next-from-back + 1, helper's count
        self._put(0, 0)
        self._put(1, len(self.todo))
        self._put(2, 0)
        read, write = os.pipe()
        _flush_std_streams()  # else the helper's copy of what is buffered could be written out twice
        try:
            pid = os.fork()
        except OSError:  # no process to spare: everything runs here
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # pragma: no cover - runs in the helper, which leaves through os._exit
            os.close(read)
            self._helper(write)
        os.close(write)
        self._pid, self._pipe = pid, read

    def _helper(self, write: int) -> None:  # pragma: no cover - runs in the helper process
        import pickle

        done: dict[int, dict[str, Any]] = {}
        code = 1
        try:
            try:
                while (i := self._claim(front=True)) is not None:
                    done[i] = self._run(i)
                    self._put(2, len(done))
            finally:
                with os.fdopen(write, "wb") as out:
                    pickle.dump(done, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent runs what is missing and raises there
            pass
        finally:
            _flush_std_streams()  # what the strategy printed
            os._exit(code)

    def _get(self, slot: int) -> int:
        return int.from_bytes(self._shared[4 * slot:4 * slot + 4], "little", signed=True)

    def _put(self, slot: int, value: int) -> None:
        self._shared[4 * slot:4 * slot + 4] = value.to_bytes(4, "little", signed=True)

    def _claim(self, front: bool) -> int | None:
        """The next unclaimed scenario from the front (helper) or the back (parent), or None
        when the two ends have met. Both may claim the middle one at the same instant: it then
        runs twice, to the same result; none is ever skipped."""
        first, end = self._get(0), self._get(1)
        if first >= end:
            return None
        if front:
            self._put(0, first + 1)
            return first
        self._put(1, end - 1)
        return end - 1

    def _collect(self, report: Callable[[int], None]) -> None:
        """Wait for the helper's results (reporting its progress meanwhile) and reap it."""
        import pickle
        import select

        chunks = []
        while True:
            ready, _, _ = select.select([self._pipe], [], [], 0.1)
            if not ready:
                report(self._get(2))
                continue
            chunk = os.read(self._pipe, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        self._stop(kill=False)
        try:
            delivered = pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - a helper that died mid-write delivered nothing usable
            delivered = {}
        for i, row in delivered.items():
            self.results.setdefault(i, row)

    def close(self) -> None:
        """Stop the helper if it is still running."""
        self._stop(kill=True)

    def _stop(self, kill: bool) -> None:
        import signal

        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._pid is not None:
            pid, self._pid = self._pid, None
            try:
                if kill:
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass

    # -- the result --------------------------------------------------------------------------

    def result(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        total = len(self.todo)

        def report(helper_done: int = 0) -> None:
            if progress:
                progress(min(total, len(self.results) + helper_done), total)

        if self._pid is not None:
            while (i := self._claim(front=False)) is not None:
                try:
                    self.results[i] = self._run(i)
                except Exception:  # noqa: BLE001 - run again below, in order, where it raises
                    break
                report(self._get(2))
            self._collect(report)
            report()
        for i in range(total):
            if i not in self.results:
                self.results[i] = self._run(i)
                report()
        return summarize([self.results[i] for i in range(total)], self.bars)


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _can_fork() -> bool:
    """A helper process is forked on Linux with at least two CPUs to use, and only from a
    process without other threads (a fork copies only the calling thread)."""
    import threading

    if sys.platform != "linux" or not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return False
