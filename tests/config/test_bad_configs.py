"""`livegate check-config` on malformed files: exit 2, `file:LINE key.path: message`, no traceback.

Each case starts from a shipped example file (or is written by hand), breaks one thing, and
states the exact line the problem must be reported on — as a literal, or as "the line that
contains this text" of the broken file, so the cases keep working if comments move.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_WS = (REPO / "configs" / "livegate.yaml").read_text(encoding="utf-8")
EXAMPLE_RISK = (REPO / "risk_limits.yaml").read_text(encoding="utf-8")
EXAMPLE_PAPER = (REPO / "phases" / "paper.yaml").read_text(encoding="utf-8")

WS, RISK, PHASE = "livegate.yaml", "risk_limits.yaml", "phases/paper.yaml"
KIND = {WS: "workspace", RISK: "risk", PHASE: "phase"}
WS_TOP_KEYS = "alerts, approvals, bot, capital, chain, exchange, profile, scaling, strategy, testnet, thresholds, workspace"


def sub(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced (a case that matches nothing is a broken case)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the example"
    return text.replace(old, new)


def line_in(text: str, marker: str) -> int:
    """1-based number of the first line of `text` containing `marker`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


def criterion_index(phase_text: str, cid: str) -> int:
    return [c["id"] for c in yaml.safe_load(phase_text)["criteria"]].index(cid)


@dataclass
class Case:
    id: str
    file: str  # where it is written, relative to the checked directory (decides its kind)
    content: str | bytes
    at: int | str  # the expected line, or a text whose (first) line is the expected line
    key: str | None  # expected key path; None for problems without one (syntax, empty file, ...)
    message: str  # must appear in the problem's message

    def line(self) -> int:
        if isinstance(self.at, int):
            return self.at
        text = self.content.decode("utf-8") if isinstance(self.content, bytes) else self.content
        assert self.at in text, f"case {self.id}: marker {self.at!r} not in the content"
        return line_in(text, self.at)


GARBAGE = (
    b"live_trading:\n  max_total_capital: 1000\n"
    b"\x00\x01\x02 \xff\xfe\x80\x81 "  # line 3: a NUL, then bytes that are never UTF-8
    + random.Random(20240601).randbytes(256)
)
PAPER_WIN_RATE = criterion_index(EXAMPLE_PAPER, "win_rate_pct")
PAPER_DRILLS = criterion_index(EXAMPLE_PAPER, "guardian_drills_blocked")
MIN_TRADES = '  - id: min_trades\n    description: completed round-trip trades\n    op: ">="\n    threshold: 20\n'  # criteria[0]
MIN_TRADES_FLOOR = "    floor: 10  #"
assert criterion_index(EXAMPLE_PAPER, "min_trades") == 0

CASES = [
    # ------------------------------------------------------------------ livegate.yaml
    Case("ws-string-for-number", WS, sub(EXAMPLE_WS, "starting: 10000", "starting: lots"),
         "starting: lots", "capital.starting", "must be a number (got 'lots')"),
    Case("ws-bool-for-number", WS, sub(EXAMPLE_WS, "starting: 10000", "starting: true"),
         "starting: true", "capital.starting", "must be a number (got True)"),
    Case("ws-infinite-number", WS, sub(EXAMPLE_WS, "starting: 10000", "starting: .inf"),
         "starting: .inf", "capital.starting", "must be a finite number (got inf)"),
    Case("ws-list-for-mapping", WS, sub(EXAMPLE_WS, "capital:\n  quote: USDT\n  starting: 10000\n", "capital: [1, 2]\n"),
         "capital: [1, 2]", "capital", "must be a mapping (got [1, 2])"),
    Case("ws-unknown-top-level-key", WS, sub(EXAMPLE_WS, "profile: default\n", "profile: default\ncolour: blue\n"),
         "colour: blue", "colour", f"unknown key; allowed here: {WS_TOP_KEYS}"),
    Case("ws-unknown-nested-key", WS, sub(EXAMPLE_WS, "  testnet: false\n", "  testnet: false\n  sandbox: yes\n"),
         "sandbox: yes", "exchange.sandbox", "unknown key; allowed here: base_url, id, maker_fee, rate_limit_per_minute, symbols, taker_fee, testnet, timeframe"),
    Case("ws-bad-symbol", WS, sub(EXAMPLE_WS, "symbols: [BTC/USDT]", "symbols: [BTCUSDT]"),
         "symbols: [BTCUSDT]", "exchange.symbols", "'BTCUSDT' is not a symbol like BTC/USDT"),
    Case("ws-bad-timeframe", WS, sub(EXAMPLE_WS, "timeframe: 1m", "timeframe: 7m"),
         "timeframe: 7m", "exchange.timeframe", "must be one of '1m', '3m', '5m'"),
    Case("ws-bad-base-url", WS, sub(EXAMPLE_WS, "base_url: null", "base_url: ftp://sandbox.local"),
         "base_url: ftp://", "exchange.base_url", "must be an http:// or https:// URL (got 'ftp://sandbox.local')"),
    Case("ws-negative-rate-limit", WS, sub(EXAMPLE_WS, "rate_limit_per_minute: 1200", "rate_limit_per_minute: -1"),
         "rate_limit_per_minute: -1", "exchange.rate_limit_per_minute", "must be > 0 (got -1)"),
    Case("ws-zero-expiry", WS, sub(EXAMPLE_WS, "expiry_seconds: 300", "expiry_seconds: 0"),
         "expiry_seconds: 0", "approvals.expiry_seconds", "must be > 0 (got 0)"),
    Case("ws-fraction-for-whole-number", WS, sub(EXAMPLE_WS, "expiry_seconds: 300", "expiry_seconds: 2.5"),
         "expiry_seconds: 2.5", "approvals.expiry_seconds", "must be a whole number (got 2.5)"),
    Case("ws-bad-profile", WS, sub(EXAMPLE_WS, "profile: default", "profile: lax"),
         "profile: lax", "profile", "must be one of 'default' or 'strict' (got 'lax')"),
    Case("ws-threshold-unknown-phase", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  papr:\n    min_trades: 30"),
         "papr:", "thresholds.papr", "unknown phase; allowed: env, paper, testnet, micro-live, production"),
    Case("ws-threshold-unknown-criterion", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    min_trade: 30"),
         "min_trade: 30", "thresholds.paper.min_trade", "unknown criterion of paper; allowed: min_trades, "),
    Case("ws-threshold-unknown-stage-criterion", WS,
         sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  micro-live:\n    4.1a:\n      min_duration_hour: 24"),
         "min_duration_hour: 24", "thresholds.micro-live.4.1a.min_duration_hour",
         "unknown criterion of stage 4.1a; allowed: max_trade_value, min_duration_hours, min_successful_trades"),
    Case("ws-threshold-string-for-number", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    min_trades: many"),
         "min_trades: many", "thresholds.paper.min_trades", "must be a number (got 'many')"),
    Case("ws-threshold-infinite", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    max_drawdown_pct: .inf"),
         "max_drawdown_pct: .inf", "thresholds.paper.max_drawdown_pct", "must be a finite number (got inf)"),
    Case("ws-threshold-reversed-range", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    win_rate_pct: [60, 45]"),
         "win_rate_pct: [60, 45]", "thresholds.paper.win_rate_pct", "must be a range [low, high] with low <= high (got [60, 45])"),
    Case("ws-threshold-non-bool-for-eq", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    guardian_drills_blocked: 1"),
         "guardian_drills_blocked: 1", "thresholds.paper.guardian_drills_blocked", "must be true or false like the default True (got 1)"),
    Case("ws-threshold-phase-not-a-mapping", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper: 30"),
         "paper: 30", "thresholds.paper", "must be a mapping (got 30)"),
    # Thresholds loosened past their floor (phases/*.yaml), or not finite at all
    Case("ws-threshold-below-floor-huge-negative", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    min_trades: -1.0e+308"),
         "min_trades: -1.0e+308", "thresholds.paper.min_trades",
         "must be at least 10, the loosest allowed (the default is >= 20) (got -1e+308)"),
    Case("ws-threshold-exponent-without-point", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    min_trades: -1e308"),
         "min_trades: -1e308", "thresholds.paper.min_trades", "must be a number (got '-1e308')"),  # YAML 1.1 reads it as text
    Case("ws-threshold-overflow", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    min_trades: -1.0e+309"),
         "min_trades: -1.0e+309", "thresholds.paper.min_trades", "must be a finite number (got -inf)"),
    Case("ws-threshold-sharpe-minus-100", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    sharpe: -100"),
         "sharpe: -100", "thresholds.paper.sharpe", "must be at least 0, the loosest allowed (the default is > 1.5) (got -100)"),
    Case("ws-threshold-nan", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    sharpe: .nan"),
         "sharpe: .nan", "thresholds.paper.sharpe", "must be a finite number (got nan)"),
    Case("ws-threshold-nan-in-range", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    win_rate_pct: [.nan, 60]"),
         "win_rate_pct: [.nan", "thresholds.paper.win_rate_pct", "must be a range [low, high] with low <= high (got [nan, 60])"),
    Case("ws-threshold-above-cap", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    max_drawdown_pct: 50"),
         "max_drawdown_pct: 50", "thresholds.paper.max_drawdown_pct", "must be at most 20, the loosest allowed (the default is < 10) (got 50)"),
    Case("ws-threshold-range-wider-than-floor", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  paper:\n    win_rate_pct: [0, 100]"),
         "win_rate_pct: [0, 100]", "thresholds.paper.win_rate_pct",
         "must lie within [30, 80], the widest range allowed (the default is [45, 60]) (got [0, 100])"),
    Case("ws-threshold-stage-cap-raised", WS,
         sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  micro-live:\n    4.1a:\n      max_trade_value: 20"),
         "max_trade_value: 20", "thresholds.micro-live.4.1a.max_trade_value",
         "must be at most 10, the loosest allowed (the default is <= 10) (got 20)"),
    Case("ws-threshold-kill-criterion-past-cap", WS,
         sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  micro-live:\n    live_vs_paper_worse_pct: 100000"),
         "live_vs_paper_worse_pct: 100000", "thresholds.micro-live.live_vs_paper_worse_pct",
         "must be at most 100, the loosest allowed (the default is <= 50) (got 100000)"),
    Case("ws-threshold-true-false-inverted", WS, sub(EXAMPLE_WS, "thresholds: {}", "thresholds:\n  env:\n    key_withdrawal_disabled: false"),
         "key_withdrawal_disabled: false", "thresholds.env.key_withdrawal_disabled",
         "a true/false check cannot be loosened: must stay true (got false)"),
    Case("ws-duplicate-key", WS, sub(EXAMPLE_WS, "profile: default\n", "profile: default\nprofile: strict\n"),
         "profile: strict", None, f"YAML syntax error: duplicate key 'profile' (first at line {line_in(EXAMPLE_WS, 'profile: default')})"),
    Case("ws-tab-indentation", WS, sub(EXAMPLE_WS, "  testnet: false\n", "\ttestnet: false\n"),
         "\ttestnet", None, "YAML syntax error"),
    Case("ws-top-level-list", WS, "- workspace\n- exchange\n", 1, None, "expected a mapping (workspace, exchange, ...) at the top level, got a list"),
    Case("ws-top-level-scalar", WS, "just a sentence\n", 1, None, "at the top level, got a string"),
    # ------------------------------------------------------------------ risk_limits.yaml
    Case("risk-negative-limit", RISK, sub(EXAMPLE_RISK, "max_daily_loss: 100.00", "max_daily_loss: -5"),
         "max_daily_loss: -5", "live_trading.max_daily_loss", "must be > 0 (got -5)"),
    Case("risk-zero-where-positive", RISK, sub(EXAMPLE_RISK, "max_open_positions: 5", "max_open_positions: 0"),
         "max_open_positions: 0", "live_trading.max_open_positions", "must be > 0 (got 0)"),
    Case("risk-string-for-number", RISK, sub(EXAMPLE_RISK, "max_trades_per_day: 20", 'max_trades_per_day: "20"'),
         "max_trades_per_day:", "live_trading.max_trades_per_day", "must be a whole number (got '20')"),
    Case("risk-bool-for-number", RISK, sub(EXAMPLE_RISK, "max_total_capital: 1000.00", "max_total_capital: yes"),
         "max_total_capital: yes", "live_trading.max_total_capital", "must be a number (got True)"),
    Case("risk-fraction-for-whole-number", RISK, sub(EXAMPLE_RISK, "max_trades_per_day: 20", "max_trades_per_day: 20.5"),
         "max_trades_per_day: 20.5", "live_trading.max_trades_per_day", "must be a whole number (got 20.5)"),
    Case("risk-list-for-number", RISK, sub(EXAMPLE_RISK, "max_leverage: 3.0", "max_leverage: [1, 2]"),
         "max_leverage: [1, 2]", "live_trading.max_leverage", "must be a number (got [1, 2])"),
    Case("risk-nan", RISK, sub(EXAMPLE_RISK, "max_total_capital: 1000.00", "max_total_capital: .nan"),
         "max_total_capital: .nan", "live_trading.max_total_capital", "must be a finite number (got nan)"),
    Case("risk-infinite-limit", RISK, sub(EXAMPLE_RISK, "max_daily_loss: 100.00", "max_daily_loss: .inf"),
         "max_daily_loss: .inf", "live_trading.max_daily_loss", "must be a finite number (got inf)"),
    Case("risk-fraction-above-one", RISK, sub(EXAMPLE_RISK, "drawdown_halt_pct: 0.15", "drawdown_halt_pct: 1.5"),
         "drawdown_halt_pct: 1.5", "live_trading.drawdown_halt_pct", "must be <= 1 (got 1.5)"),
    Case("risk-confidence-above-one", RISK, sub(EXAMPLE_RISK, "min_confidence: 0.7", "min_confidence: 1.2"),
         "min_confidence: 1.2", "live_trading.min_confidence", "must be <= 1 (got 1.2)"),
    Case("risk-edge-is-one", RISK, sub(EXAMPLE_RISK, "min_edge_threshold: 0.08", "min_edge_threshold: 1"),
         "min_edge_threshold: 1", "live_trading.min_edge_threshold", "must be < 1 (got 1)"),
    Case("risk-leverage-above-3", RISK, sub(EXAMPLE_RISK, "max_leverage: 3.0", "max_leverage: 5"),
         "max_leverage: 5", "live_trading.max_leverage", "must be <= 3 (got 5)"),
    Case("risk-leverage-below-1", RISK, sub(EXAMPLE_RISK, "max_leverage: 3.0", "max_leverage: 0.5"),
         "max_leverage: 0.5", "live_trading.max_leverage", "must be >= 1 (got 0.5)"),
    Case("risk-position-pct-above-0.20", RISK, sub(EXAMPLE_RISK, "max_position_pct: 0.20", "max_position_pct: 0.25"),
         "max_position_pct: 0.25", "live_trading.max_position_pct", "must be <= 0.2 (got 0.25)"),
    Case("risk-position-above-total-capital", RISK, sub(EXAMPLE_RISK, "max_position_size: 50.00", "max_position_size: 5000"),
         "max_position_size: 5000", "live_trading.max_position_size", "must be <= max_total_capital (1000) (got 5000)"),
    Case("risk-trades-per-hour-above-per-day", RISK, sub(EXAMPLE_RISK, "max_trades_per_hour: 5", "max_trades_per_hour: 50"),
         "max_trades_per_hour: 50", "live_trading.max_trades_per_hour", "must be <= max_trades_per_day (20) (got 50)"),
    Case("risk-daily-loss-above-weekly", RISK, sub(EXAMPLE_RISK, "max_daily_loss: 100.00", "max_daily_loss: 250"),
         "max_daily_loss: 250", "live_trading.max_daily_loss", "must be <= max_weekly_loss (200) (got 250)"),
    Case("risk-correlation-above-1", RISK, sub(EXAMPLE_RISK, "max_correlation: 0.70", "max_correlation: 1.5"),
         "max_correlation: 1.5", "circuit_breakers.max_correlation", "must be <= 1 (got 1.5)"),
    Case("risk-correlation-zero", RISK, sub(EXAMPLE_RISK, "max_correlation: 0.70", "max_correlation: 0"),
         "max_correlation: 0", "circuit_breakers.max_correlation", "must be > 0 (got 0)"),
    Case("risk-correlation-window-too-short", RISK, sub(EXAMPLE_RISK, "correlation_window: 60", "correlation_window: 9"),
         "correlation_window: 9", "circuit_breakers.correlation_window", "must be >= 10 (got 9)"),
    Case("risk-correlation-scope-unknown", RISK, sub(EXAMPLE_RISK, "correlation_scope: positions", "correlation_scope: pairs"),
         "correlation_scope: pairs", "circuit_breakers.correlation_scope", "must be one of 'positions', 'strategy' or 'both' (got 'pairs')"),
    Case("risk-missing-required-key", RISK, sub(EXAMPLE_RISK, "  max_weekly_loss: 200.00\n", ""),
         "live_trading:", "live_trading.max_weekly_loss", "required key is missing"),
    Case("risk-missing-section", RISK, "# only a comment and an unrelated key\nlimits: {}\n",
         2, "limits", "unknown key; allowed here: circuit_breakers, flags, guardian, live_trading"),
    Case("risk-unknown-nested-key", RISK, sub(EXAMPLE_RISK, "  max_leverage: 3.0\n", "  max_leverage: 3.0\n  max_fun: 3\n"),
         "max_fun: 3", "live_trading.max_fun", "unknown key; allowed here: consecutive_losses_halt, drawdown_halt_pct"),
    Case("risk-unknown-top-level-key", RISK, EXAMPLE_RISK + "paper_trading:\n  max_total_capital: 1\n",
         "paper_trading:", "paper_trading", "unknown key; allowed here: circuit_breakers, flags, guardian, live_trading"),
    Case("risk-list-for-mapping", RISK, "# risk limits\nlive_trading: [1, 2]\n",
         2, "live_trading", "must be a mapping (got [1, 2])"),
    Case("risk-unclosed-bracket", RISK, "live_trading:\n  max_total_capital: [1000\n  max_position_size: 50\n",
         3, None, "YAML syntax error: did not find expected ',' or ']'"),  # where the parser runs into it
    Case("risk-unclosed-brace", RISK, "# limits\nlive_trading: {max_total_capital: 1000\n",
         2, None, "YAML syntax error: did not find expected ',' or '}'"),  # at the end: its last line, not one past it
    Case("risk-bad-indentation", RISK, "live_trading:\n  max_total_capital: 1000\n    max_position_size: 50\n",
         3, None, "YAML syntax error: mapping values are not allowed in this context"),
    Case("risk-dedent", RISK, "live_trading:\n    max_total_capital: 1000\n  max_position_size: 50\n",
         3, None, "YAML syntax error: did not find expected key"),
    Case("risk-tab", RISK, "live_trading:\n  max_total_capital: 1000\n\tmax_position_size: 50\n",
         3, None, "YAML syntax error: found a tab character that violates indentation"),
    Case("risk-duplicate-key", RISK, sub(EXAMPLE_RISK, "  max_weekly_loss: 200.00\n", "  max_weekly_loss: 200.00\n  max_daily_loss: 5\n"),
         "max_daily_loss: 5", None,
         f"YAML syntax error: duplicate key 'max_daily_loss' (first at line {line_in(EXAMPLE_RISK, 'max_daily_loss: 100.00')})"),
    Case("risk-unclosed-bracket-no-newline", RISK, "live_trading:\n  max_total_capital: [1000", 2, None,
         "YAML syntax error: did not find expected ',' or ']'"),
    Case("risk-empty-file", RISK, "", 1, None, "the file is empty; expected a mapping with `live_trading:`"),
    Case("risk-only-comments", RISK, "# risk limits\n# (to do)\n\n", 1, None, "the file is empty; expected a mapping with `live_trading:`"),
    Case("risk-top-level-list", RISK, "- max_total_capital: 1000\n- max_daily_loss: 100\n",
         1, None, "expected a mapping with `live_trading:` at the top level, got a list"),
    Case("risk-binary-garbage", RISK, GARBAGE, 3, None, "not UTF-8 text (byte "),
    Case("risk-nul-byte", RISK, b"live_trading:\n  max_total_capital: 1000\x00\n", 2, None, "contains a NUL byte"),
    Case("risk-control-character", RISK, 'note: "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"\nlive_trading:\n  a: 1\n  b: \x07\n'.encode(),
         4, None, "YAML cannot contain character '\\x07'"),
    # ------------------------------------------------------------------ phases/paper.yaml
    Case("phase-number-out-of-range", PHASE, sub(EXAMPLE_PAPER, "number: 2", "number: 9"),
         "number: 9", "number", "must be <= 5 (got 9)"),
    Case("phase-unknown-id", PHASE, sub(EXAMPLE_PAPER, "id: paper\n", "id: papers\n"),
         "id: papers", "id", "must be one of 'env', 'paper', 'testnet', 'micro-live' or 'production' (got 'papers')"),
    Case("phase-id-not-file-name", PHASE, sub(EXAMPLE_PAPER, "id: paper\n", "id: testnet\n"),
         "id: testnet", "id", "must match the file name ('paper') (got 'testnet')"),
    Case("phase-reversed-range", PHASE, sub(EXAMPLE_PAPER, "threshold: [45, 60]", "threshold: [60, 45]"),
         "threshold: [60, 45]", f"criteria[{PAPER_WIN_RATE}].threshold", "a range must be [low, high] with low <= high (got [60, 45])"),
    Case("phase-non-bool-for-eq", PHASE, sub(EXAMPLE_PAPER, "    threshold: true\n", "    threshold: 1\n"),
         line_in(EXAMPLE_PAPER, "    threshold: true"), f"criteria[{PAPER_DRILLS}].threshold", "must be true or false for op '==' (got 1)"),
    Case("phase-string-threshold", PHASE, sub(EXAMPLE_PAPER, MIN_TRADES, MIN_TRADES.replace("threshold: 20", 'threshold: "20"')),
         'threshold: "20"', "criteria[0].threshold", "must be true or false, a number or a list (got '20')"),
    Case("phase-unknown-op", PHASE, sub(EXAMPLE_PAPER, "op: between", "op: within"),
         "op: within", f"criteria[{PAPER_WIN_RATE}].op", "must be one of '>', '>=', '<', '<=', '==' or 'between' (got 'within')"),
    Case("phase-unknown-criterion-key", PHASE, sub(EXAMPLE_PAPER, MIN_TRADES, MIN_TRADES + "    weight: 2\n"),
         "weight: 2", "criteria[0].weight", "unknown key; allowed here"),
    Case("phase-profile-string-for-number", PHASE, sub(EXAMPLE_PAPER, "    min_trades: 100", "    min_trades: lots"),
         "min_trades: lots", "profiles.strict.min_trades", "must be true or false, a number or a list (got 'lots')"),
    Case("phase-missing-floor", PHASE, sub(EXAMPLE_PAPER, MIN_TRADES + MIN_TRADES_FLOOR, MIN_TRADES + "    # floor: removed  #"),
         "- id: min_trades", "criteria[0].floor", "required key is missing"),
    Case("phase-floor-stricter-than-default", PHASE, sub(EXAMPLE_PAPER, MIN_TRADES_FLOOR, "    floor: 30  #"),
         "floor: 30", "criteria[0].floor", "the default threshold 20 is looser than this floor (got 30)"),
    Case("phase-floor-on-true-false-check", PHASE, sub(EXAMPLE_PAPER, "    threshold: true\n", "    threshold: true\n    floor: 1\n"),
         line_in(EXAMPLE_PAPER, "    threshold: true") + 1, f"criteria[{PAPER_DRILLS}].floor", "a true/false check (op '==') has no floor: it cannot be loosened (got 1)"),
    Case("phase-profile-below-floor", PHASE, sub(EXAMPLE_PAPER, "    min_trades: 100", "    min_trades: 5"),
         "    min_trades: 5", "profiles.strict.min_trades", "must be at least 10, the loosest allowed (the default is >= 20) (got 5"),
    Case("phase-criteria-not-a-list", PHASE, EXAMPLE_PAPER.split("criteria:")[0] + "criteria: {min_trades: 20}\n",
         "criteria: {", "criteria", "must be a list"),
]


def test_there_are_enough_cases_for_every_kind():
    by_file = {f: sum(c.file == f for c in CASES) for f in (WS, RISK, PHASE)}
    assert len(CASES) >= 25 and min(by_file.values()) >= 5, by_file
    assert len({c.id for c in CASES}) == len(CASES)


def problem_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("  ")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_config_is_reported_with_file_line_and_key(case, tmp_path, run_cli):
    target = tmp_path / "cfg" / case.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(case.content, bytes):
        target.write_bytes(case.content)
    else:
        target.write_text(case.content, encoding="utf-8")
    shown = f"cfg/{case.file}"  # run_cli runs in tmp_path: the name is shown as given

    result = run_cli("check-config", shown)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{shown} ({KIND[case.file]})....Failed" in result.output
    head = f"{shown}:{case.line()} {case.key}: " if case.key else f"{shown}:{case.line()} "
    problems = problem_lines(result.output)
    matching = [p for p in problems if p.startswith(head) and case.message in p]
    assert matching, f"expected a problem starting {head!r} containing {case.message!r}; got:\n" + "\n".join(problems)
    if case.key is None:  # a problem with the file as a whole is the only one
        assert len(problems) == 1, problems


def test_every_case_is_also_a_config_error_in_the_loader(tmp_path):
    """The same cases through the library: a ConfigError (never another exception) whose
    lines all start with the file's name."""
    from livegate.config import loader
    from livegate.core.errors import ConfigError

    load = {WS: loader.load_workspace_config, RISK: loader.load_risk_limits, PHASE: loader.load_phase_file}
    for case in CASES:
        target = tmp_path / case.id / case.file
        target.parent.mkdir(parents=True)
        target.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode("utf-8"))
        with pytest.raises(ConfigError) as info:
            load[case.file](target, case.file)
        problems = info.value.problems
        assert problems and all(re.match(rf"{re.escape(case.file)}:\d+[: ]", p) for p in problems), (case.id, problems)
        assert any(re.match(rf"{re.escape(case.file)}:{case.line()}[: ]", p) for p in problems), (case.id, problems)


# ---------------------------------------------------------------------- the shipped examples


SHIPPED = [REPO / "configs" / "livegate.yaml", REPO / "risk_limits.yaml", *sorted((REPO / "phases").glob("*.yaml"))]


def test_shipped_examples_pass(run_cli):
    assert len(SHIPPED) >= 7  # livegate.yaml, risk_limits.yaml and the five phases
    result = run_cli("check-config", *SHIPPED)
    assert result.exit_code == 0, result.output
    assert result.output.count("....Passed") == len(SHIPPED)
    assert "Failed" not in result.output
    assert f"{len(SHIPPED)} file(s) checked, 0 with problems" in result.output


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_each_shipped_example_passes_as_json(path, run_cli):
    import json

    result = run_cli("check-config", "--format", "json", path)
    assert result.exit_code == 0, result.output
    kind = {"livegate.yaml": "workspace", "risk_limits.yaml": "risk"}.get(path.name, "phase")
    assert json.loads(result.stdout) == {
        "ok": True, "files": [{"path": str(path), "kind": kind, "ok": True, "problems": []}],
    }


def test_example_message_format_inside_the_workspace(workspace, run_cli, monkeypatch):
    """The issue's example, checked from inside the workspace: the bare file name is shown."""
    risk = workspace / "risk_limits.yaml"
    text = sub(risk.read_text(encoding="utf-8"), "max_daily_loss: 100.00", "max_daily_loss: -5")
    risk.write_text(text, encoding="utf-8")
    line = line_in(text, "max_daily_loss: -5")
    monkeypatch.chdir(workspace)

    for args in (["check-config", "risk_limits.yaml"], ["check-config"]):  # the file, and the workspace default
        result = run_cli(*args)
        assert result.exit_code == 2, result.output
        assert f"  risk_limits.yaml:{line} live_trading.max_daily_loss: must be > 0 (got -5)\n" in result.output
        assert "Traceback" not in result.output
    assert "livegate.yaml (workspace)....Passed" in result.output  # no paths: both workspace files
