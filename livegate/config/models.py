"""Pydantic models of the workspace files. `extra="forbid"` everywhere: an unknown key is
an error, never silently ignored. Docstrings and descriptions feed `livegate config schema`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_serializer, field_validator, model_validator
from pydantic_core import PydanticCustomError

from livegate.core.protocol import OPS, Criterion, PhaseSpec, Stage, is_looser


class _Strict(BaseModel):
    # allow_inf_nan=False: `.inf` must not pass as a limit (it would also break the fingerprint).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")
_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")


class WorkspaceSection(_Strict):
    """Who this workspace is: its name and the default signer."""

    name: str = Field("livegate", min_length=1, description="A name for this workspace (shown in reports).")
    operator: str = Field("", description="Default signer name for `livegate signoff`.")


class CapitalSection(_Strict):
    """The money the metrics are measured against."""

    quote: str = Field("USDT", pattern=r"^[A-Z0-9]{2,10}$", description="Quote currency all money amounts are in.")
    starting: Positive = Field(10000.0, description="Starting capital C in the quote currency (see How the numbers are defined).")


def _check_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class ExchangeSection(_Strict):
    """The exchange livegate trades on through ccxt; keys come from `.env`."""

    id: str = Field("binance", pattern=r"^[a-z0-9_]+$", description="ccxt exchange id.")
    testnet: bool = Field(False, description="Trade on the exchange's sandbox (ccxt set_sandbox_mode) in every phase — a rehearsal: "
                                           "go-live then moves no real money. `livegate testnet` uses the sandbox either way.")
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT"], min_length=1, description="Symbols traded, ccxt spelling BASE/QUOTE (BTC/USDT), no repeats.")
    timeframe: Literal[_TIMEFRAMES] = Field("1m", description="Candle timeframe the strategy runs on.")  # type: ignore[valid-type]
    base_url: str | None = Field(None, description="An http(s) URL: rewrite every ccxt REST URL to this base (local sandbox, proxy). Env: LIVEGATE_EXCHANGE_BASE_URL.")
    rate_limit_per_minute: Annotated[int, Field(gt=0)] | None = Field(1200, description="Requests per minute livegate allows itself against this exchange.")
    maker_fee: Annotated[float, Field(ge=0, lt=0.05)] | None = Field(None, description="Maker fee rate for paper fills (0.001 = 0.1 %); default: the exchange's market info, else 0.1 %.")
    taker_fee: Annotated[float, Field(ge=0, lt=0.05)] | None = Field(None, description="Taker fee rate for paper fills; default: the exchange's market info, else 0.1 %.")

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        for sym in value:
            if not _SYMBOL.match(sym):
                raise ValueError(f"{sym!r} is not a symbol like BTC/USDT")
        if len(set(value)) != len(value):
            raise ValueError("symbols must not repeat")
        return value

    _url = field_validator("base_url")(classmethod(lambda cls, v: _check_url(v)))


class ChainSection(_Strict):
    """The EVM chain for DEX swaps through a Uniswap-V2-style router; the signer comes from `.env`."""

    enabled: bool = Field(False, description="Trade on an EVM chain (DEX) too.")
    name: str = Field("anvil", min_length=1, description="Chain name as used in ALLOW_CHAINS.")
    chain_id: Annotated[int, Field(gt=0)] = Field(31337, description="Expected chain id; checked against the node.")
    rpc_url: str | None = Field(None, description="JSON-RPC URL of the node, http(s).")
    rate_limit_per_minute: Annotated[int, Field(gt=0)] | None = Field(600, description="Requests per minute livegate allows itself against the node.")
    router: str | None = Field(None, pattern=_ADDRESS, description="Uniswap-V2-style router address (must be in ALLOW_ROUTERS).")
    tokens: dict[str, str] = Field(default_factory=dict, description="Token symbol → 0x address of 40 hex digits (each must be in ALLOW_TOKENS); WETH included.")
    slippage_pct: Annotated[float, Field(gt=0, lt=0.2)] = Field(0.005, description="Minimum output of a swap = quote × (1 − slippage_pct); 0.005 = 0.5 %.")
    confirmations: Annotated[int, Field(ge=1, le=64)] = Field(1, description="Blocks a swap's receipt must be under before it counts.")

    _url = field_validator("rpc_url")(classmethod(lambda cls, v: _check_url(v)))

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for symbol, address in value.items():
            if not re.match(_ADDRESS, str(address)):
                raise ValueError(f"token {symbol}: {address!r} is not a 0x address of 40 hex digits")
        return value


class TestnetSection(_Strict):
    """What `livegate testnet` exercises: scripted real orders on the exchange's sandbox (CEX)
    and a swap on the test chain (DEX); turn either off when you trade only the other."""

    cex: bool = Field(True, description="Run the scripted exchange orders (market, limit, cancel, a partial fill).")
    dex: bool | None = Field(None, description="Run the test swap; null: when chain.enabled.")
    symbol: str | None = Field(None, description="Symbol of the scripted orders (default: the first of exchange.symbols).")
    order_value: Positive = Field(20.0, description="Value of each scripted order in the quote currency, at most MAX_TRADE_AMOUNT (a larger order would be refused).")
    swap_from: str = Field("TKA", min_length=1, description="Token sold by the test swap (a key of chain.tokens).")
    swap_to: str = Field("TKB", min_length=1, description="Token bought by the test swap.")
    swap_amount: Positive = Field(1.0, description="Amount of swap_from sold, in token units.")


class StrategySection(_Strict):
    """The strategy class paper-run and go-live run."""

    ref: str = Field("strategies/ema_cross.py:EmaCross", pattern=r"^\S+:[A-Za-z_][A-Za-z0-9_]*$",
                     description="`module:Class` or `path/to/file.py:Class` (relative to the workspace). "
                                 "The strategy's code is part of the signed-off config, byte for byte: every .py file in the file's folder "
                                 "and its subfolders, or every file of the module's top-level package. Editing any of it reopens the gate.")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the strategy class.")


class ApprovalsSection(_Strict):
    """Orders waiting under EXECUTION_APPROVAL_MODE=approve_each."""

    expiry_seconds: Annotated[int, Field(gt=0, le=86400)] = Field(300, description="A pending approval expires after this many seconds.")


SEVERITIES = ("info", "warning", "error", "critical")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Schemes whose host part is a server name, safe to show; in others (tgram://TOKEN/…) it is a secret.
_HOST_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "ntfy", "ntfys", "gotify", "gotifys", "apprise", "apprises"}


def alert_url_label(url: str) -> str:
    """What may be shown of an alert URL: `scheme://host` when the host is a server name, else
    the scheme alone (`${NAME}` for a URL kept whole in a variable); never a path, user,
    password or token."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", scheme):
        whole = ENV_REF.match(url)
        return whole[0] if whole else "(not a URL)"
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2].rsplit(":", 1)[0]
    if scheme.lower() in _HOST_SCHEMES and host and "$" not in host:
        return f"{scheme.lower()}://{host}"
    return f"{scheme.lower()}://…"


class _HiddenUrl(str):
    """A URL whose repr hides it: a validation error quotes its input, and this one may hold a token."""

    def __repr__(self) -> str:
        return "<URL not shown>"


class AlertDestination(_Strict):
    """One apprise URL. Tokens and passwords belong in `.env`: write them as `${NAME}`,
    expanded from the environment / `.env` when an alert is sent."""

    url: str = Field(min_length=1, description="An apprise URL: json://host/path, discord://…, tgram://${TELEGRAM_TOKEN}/CHAT, slack://…, "
                                                       "mailto://user:${SMTP_PASSWORD}@host. `${NAME}` is read from the environment / .env at send time.")
    min_severity: Literal[SEVERITIES] = Field("warning", description="Alerts below this severity are not sent here (info < warning < error < critical).")  # type: ignore[valid-type]
    name: str | None = Field(None, min_length=1, max_length=60, pattern=r"^[^\n\r]+$", description="Shown in output and the ledger instead of the URL (default: scheme://host, or the scheme alone).")

    @model_validator(mode="before")
    @classmethod
    def _hide_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            return {**data, "url": _HiddenUrl(data["url"])}
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces or line breaks")
        if "${" in ENV_REF.sub("", value):
            raise ValueError("a reference must be written ${NAME} (letters, digits, _)")
        if not value.startswith("${") and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://.", value):
            raise ValueError("must be an apprise URL like json://host/path, discord://…, mailto://… (or ${NAME})")
        return value

    @field_serializer("url")
    def _url_fingerprint(self, value: str) -> str:
        # The config snapshot goes into the ledger with every sign-off: never the URL itself.
        import hashlib

        return f"{alert_url_label(value)} sha256:{hashlib.sha256(value.encode()).hexdigest()[:16]}"

    @property
    def label(self) -> str:
        return self.name or alert_url_label(self.url)


class AlertsSection(_Strict):
    """Where alerts go (through apprise), how hard livegate tries, and how often a critical alert is sent
    again until acknowledged; `livegate alert test` checks it."""

    destinations: list[AlertDestination] = Field(default_factory=list, description="Apprise URLs, each with the least severity it receives.")
    retries: Annotated[int, Field(ge=0, le=10)] = Field(3, description="Further attempts after a failed delivery, with a short backoff.")
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(5.0, description="Longest wait for one delivery attempt, seconds.")
    resend_critical_minutes: Annotated[float, Field(ge=0, le=1440)] = Field(
        15.0, description="A critical alert nobody acknowledged (`livegate alert ack ID`) is sent again this many minutes after "
                          "it was last sent, until it is; 0 turns this off, otherwise at least 1.")

    @field_validator("resend_critical_minutes")
    @classmethod
    def _resend_floor(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or at least 1 minute: a reminder more often than that is noise")
        return value


class ScalingSection(_Strict):
    """What `livegate trade` does with the capital level on its own."""

    auto_downscale: bool = Field(False, description="When a red flag fires during `livegate trade`, apply the proposed downscale "
                                                    "(half the current capital level, signed with the operator key) at once, "
                                                    "instead of only proposing it.")


class WorkspaceConfig(_Strict):
    """livegate.yaml — the workspace configuration (no secrets: those come from .env)."""

    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    profile: Literal["default", "strict"] = Field("default", description="Protocol profile; `strict` applies the stricter paper checklist (100 paper trades).")
    capital: CapitalSection = Field(default_factory=CapitalSection)
    exchange: ExchangeSection = Field(default_factory=ExchangeSection)
    chain: ChainSection = Field(default_factory=ChainSection)
    bot: Literal["builtin", "external"] = Field("builtin", description="builtin: livegate trades `strategy:`. external: your own bot "
                                                                      "(Freqtrade, a ccxt script, any language) trades through livegate's "
                                                                      "Binance-compatible gateway; `strategy:` is not used.")
    strategy: StrategySection = Field(default_factory=StrategySection)
    approvals: ApprovalsSection = Field(default_factory=ApprovalsSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    testnet: TestnetSection = Field(default_factory=TestnetSection)
    scaling: ScalingSection = Field(default_factory=ScalingSection)
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Threshold overrides: {phase: {criterion: value}}, stages as {micro-live: {4.1a: {criterion: value}}}.")


class LiveTradingLimits(_Strict):
    """Loss limits and position caps. Money in the quote currency; `*_pct` keys are
    fractions. Also checked: max_position_size ≤ max_total_capital, max_single_trade_loss ≤
    max_daily_loss ≤ max_weekly_loss, max_trades_per_hour ≤ max_trades_per_day."""

    max_total_capital: Positive = Field(description="Capital livegate may put at risk in total.")
    max_position_size: Positive = Field(description="Largest single position, quote currency.")
    max_open_positions: Annotated[int, Field(gt=0)] = Field(description="Open positions at once.")
    max_daily_loss: Positive = Field(description="Loss in one UTC day that halts trading, quote currency.")
    max_weekly_loss: Positive = Field(description="Loss in one week that halts trading, quote currency.")
    max_single_trade_loss: Positive = Field(description="Largest acceptable loss on one trade, quote currency.")
    max_trades_per_day: Annotated[int, Field(gt=0)] = Field(description="Orders per UTC day.")
    max_trades_per_hour: Annotated[int, Field(gt=0)] = Field(description="Orders per hour.")
    min_seconds_between_trades: Annotated[float, Field(ge=0)] = Field(description="Minimum spacing between orders, seconds.")
    min_edge_threshold: Annotated[float, Field(ge=0, lt=1)] = Field(description="Minimum expected edge of an intent (0.08 = 8 %).")
    min_confidence: Annotated[float, Field(ge=0, le=1)] = Field(description="Minimum strategy confidence of an intent.")
    consecutive_losses_halt: Annotated[int, Field(gt=0)] = Field(description="Consecutive losing trades that halt trading.")
    drawdown_halt_pct: Fraction = Field(description="Drawdown from peak that halts trading (0.15 = 15 %).")
    max_position_pct: Annotated[float, Field(gt=0, le=0.20)] = Field(description="Position cap as a fraction of equity; at most 0.20.")
    max_leverage: Annotated[float, Field(ge=1, le=3)] = Field(description="Leverage cap; at most 3x.")

    def cross_checks(self) -> list[tuple[tuple[str, ...], str]]:
        """Relations between keys: (key path, message) for each one broken."""
        out = []
        if self.max_position_size > self.max_total_capital:
            out.append((("max_position_size",), f"must be <= max_total_capital ({self.max_total_capital:g}) (got {self.max_position_size:g})"))
        if self.max_single_trade_loss > self.max_daily_loss:
            out.append((("max_single_trade_loss",), f"must be <= max_daily_loss ({self.max_daily_loss:g}) (got {self.max_single_trade_loss:g})"))
        if self.max_daily_loss > self.max_weekly_loss:
            out.append((("max_daily_loss",), f"must be <= max_weekly_loss ({self.max_weekly_loss:g}) (got {self.max_daily_loss:g})"))
        if self.max_trades_per_hour > self.max_trades_per_day:
            out.append((("max_trades_per_hour",), f"must be <= max_trades_per_day ({self.max_trades_per_day}) (got {self.max_trades_per_hour})"))
        return [(("live_trading",) + loc, msg) for loc, msg in out]


class GuardianRules(_Strict):
    """The rules the risk guardian drills must show blocking."""

    max_trade_pct: Fraction = Field(0.05, description="A buy worth more than this fraction of equity is blocked (0.05 = 5 %).")
    daily_loss_halt_buys_pct: Fraction = Field(0.05, description="Loss since the UTC day began, as a fraction of that day's opening equity, that halts buys.")
    drawdown_halt_buys_pct: Fraction = Field(0.10, description="Drawdown from peak equity that halts buys (sells still allowed).")
    falling_knife_sentiment: Annotated[float, Field(ge=-1, le=0)] = Field(-0.5, description="A buy whose sentiment is below this is blocked (falling knife).")


class CircuitBreakerRules(_Strict):
    """Circuit breakers beyond the USD limits of `live_trading`. A tripped
    breaker halts every order until its cooldown ends and its condition has cleared."""

    daily_loss_pct: Fraction = Field(0.05, description="Loss since the UTC day began, fraction of that day's opening equity.")
    weekly_loss_pct: Fraction = Field(0.10, description="Loss since the ISO week began (Monday 00:00 UTC), fraction of that week's opening equity.")
    min_win_rate: Annotated[float, Field(ge=0, le=1)] = Field(0.40, description="Win rate floor over the last `win_rate_window` closed trades.")
    win_rate_window: Annotated[int, Field(gt=0)] = Field(20, description="Closed trades the win-rate floor looks at (it applies once that many have closed).")
    api_error_rate: Fraction = Field(0.20, description="Share of failed venue calls, over the last `api_window` calls, that trips.")
    api_latency_seconds: Positive = Field(2.0, description="Median venue latency over the last `api_window` calls that trips.")
    api_window: Annotated[int, Field(gt=0)] = Field(50, description="Venue calls the API error-rate and latency breakers look at.")
    cooldown_minutes: Positive = Field(60.0, description="Minutes a tripped breaker blocks trading before it may re-arm.")
    max_correlation: Fraction = Field(0.70, description=(
        "Correlation breaker: trips when the correlation of two return series it watches (see `correlation_scope`), "
        "over `correlation_window` bars, is above this in either direction; 1 turns it off."))
    correlation_window: Annotated[int, Field(ge=10)] = Field(60, description=(
        "Bars the correlation breaker measures over; it trips only once the two series share this many bars."))
    correlation_scope: Literal["positions", "strategy", "both"] = Field("positions", description=(
        "What the correlation breaker compares: `positions`, the price returns of every two symbols held at once; "
        "`strategy`, the strategy's equity returns with each traded symbol's (any position held through most of the "
        "window makes these move together, however small); `both`."))
    correlation_cooldown_minutes: Positive = Field(60.0, description=(
        "Minutes a correlation trip blocks trading; then it re-arms and measures a fresh window."))


FLAG_RULES = ("win_rate", "drawdown", "daily_loss", "losing_streak", "pnl", "failures", "slippage", "latency", "breakers", "alerts")


class FlagRules(_Strict):
    """The green / yellow / red flags of live trading (`livegate monitor`), and what they do while
    `livegate trade` runs: a yellow flag raises an alert; a red flag of a rule in `act_on_red`
    moves trading to reduce-only (only orders that shrink a position pass) and proposes halving
    the capital level. The drawdown and daily-loss flags also turn red before the guardian's and
    the breakers' own limits."""

    win_rate_yellow_pct: Annotated[float, Field(ge=0, le=100)] = Field(50.0, description="Win rate below this (from 10 closed trades on) is yellow, percent.")
    win_rate_red_pct: Annotated[float, Field(ge=0, le=100)] = Field(40.0, description="Win rate below this is red, percent.")
    drawdown_yellow_pct: Annotated[float, Field(gt=0, le=100)] = Field(3.0, description="Drawdown from peak from which the flag is yellow, percent.")
    drawdown_red_pct: Annotated[float, Field(gt=0, le=100)] = Field(5.0, description="Drawdown from peak from which the flag is red, percent.")
    daily_loss_yellow_pct: Annotated[float, Field(gt=0, le=100)] = Field(3.0, description="A UTC day's realized loss, share of its opening equity, from which the flag is yellow, percent.")
    daily_loss_red_pct: Annotated[float, Field(gt=0, le=100)] = Field(5.0, description="The same, red, percent.")
    losing_streak_red: Annotated[int, Field(gt=0)] = Field(5, description="Losing trades in a row from which the flag is red (never later than the consecutive-loss halt).")
    slippage_yellow_pct: Annotated[float, Field(gt=0, le=100)] = Field(0.5, description="Mean slippage above this is yellow, percent.")
    slippage_red_pct: Annotated[float, Field(gt=0, le=100)] = Field(1.0, description="Mean slippage above this is red, percent.")
    failure_red_pct: Annotated[float, Field(ge=0, le=100)] = Field(5.0, description="Share of failed orders above which the flag is red, percent (any failure is yellow).")
    act_on_red: list[Literal[FLAG_RULES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["win_rate", "drawdown", "daily_loss", "losing_streak", "slippage", "failures"],
        description="Rules whose red flag moves `livegate trade` to reduce-only and proposes a downscale.")
    alert_on_yellow: bool = Field(True, description="Whether a rule turning yellow while `livegate trade` runs raises an alert.")
    check_seconds: Annotated[float, Field(ge=1, le=3600)] = Field(60.0, description="How often `livegate trade` measures the flags, seconds.")

    @model_validator(mode="after")
    def _ordered(self) -> FlagRules:
        for worse, better, what in (("win_rate_red_pct", "win_rate_yellow_pct", "win rate"),):
            if getattr(self, worse) > getattr(self, better):
                raise ValueError(f"{worse} must be <= {better}: a {what} is red only below the yellow line")
        for yellow, red in (("drawdown_yellow_pct", "drawdown_red_pct"), ("daily_loss_yellow_pct", "daily_loss_red_pct"),
                            ("slippage_yellow_pct", "slippage_red_pct")):
            if getattr(self, yellow) > getattr(self, red):
                raise ValueError(f"{yellow} must be <= {red}")
        return self


class RiskLimitsFile(_Strict):
    """risk_limits.yaml — every `live_trading` key is required: an incomplete risk config never
    passes. `guardian` and `circuit_breakers` default to the protocol's standard values. Also checked:
    guardian.drawdown_halt_buys_pct ≤ live_trading.drawdown_halt_pct."""

    live_trading: LiveTradingLimits
    guardian: GuardianRules = Field(default_factory=GuardianRules)
    circuit_breakers: CircuitBreakerRules = Field(default_factory=CircuitBreakerRules)
    flags: FlagRules = Field(default_factory=FlagRules)

    def cross_checks(self) -> list[tuple[tuple[str, ...], str]]:
        out = self.live_trading.cross_checks()
        if self.guardian.drawdown_halt_buys_pct > self.live_trading.drawdown_halt_pct:
            out.append((("guardian", "drawdown_halt_buys_pct"),
                        f"must be <= live_trading.drawdown_halt_pct ({self.live_trading.drawdown_halt_pct:g}): "
                        f"buys halt before the breaker stops everything (got {self.guardian.drawdown_halt_buys_pct:g})"))
        return out


def _fits(op: str, threshold: Any) -> bool:
    """Whether a threshold's kind fits its op: == a bool, between a range, the rest a number."""
    return {
        "between": isinstance(threshold, list),
        "==": isinstance(threshold, bool),
    }.get(op, isinstance(threshold, (int, float)) and not isinstance(threshold, bool))


class CriterionModel(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    op: Literal[OPS]  # type: ignore[valid-type]
    threshold: bool | float | list[float]
    floor: float | list[float] | None = Field(None, validate_default=True, description=(
        "The loosest threshold a workspace may set: the lowest for > and >=, the highest for < and <=, the widest "
        "range for between. Required for every criterion but a true/false one (==), which cannot be loosened."))
    required: bool = True
    source: str = ""

    @field_validator("threshold")
    @classmethod
    def _pair(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
            raise ValueError("a range must be [low, high] with low <= high")
        op = info.data.get("op")
        if op is not None and not _fits(op, value):
            want = {"==": "true or false", "between": "a range [low, high]"}.get(op, "a number")
            raise ValueError(f"must be {want} for op {op!r}")
        return value

    @field_validator("floor")
    @classmethod
    def _floor(cls, value: Any, info: ValidationInfo) -> Any:
        op, threshold = info.data.get("op"), info.data.get("threshold")
        if op is None or threshold is None:
            return value  # reported on op / threshold already
        if op == "==":
            if value is not None:
                raise ValueError("a true/false check (op '==') has no floor: it cannot be loosened")
            return value
        if value is None:
            raise PydanticCustomError("missing", "Field required")
        if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
            raise ValueError("a range must be [low, high] with low <= high")
        if not _fits(op, value):
            raise ValueError(f"must be {'a range [low, high]' if op == 'between' else 'a number'} for op {op!r}")
        if is_looser(op, value, threshold):
            shown = [_whole(v, op) for v in threshold] if isinstance(threshold, list) else _whole(threshold, op)
            raise ValueError(f"the default threshold {shown!r} is looser than this floor")
        return value

    def to_core(self) -> Criterion:
        if not _fits(self.op, self.threshold):
            raise ValueError(f"criterion {self.id}: threshold {self.threshold!r} does not fit op {self.op!r}")
        return Criterion(self.id, self.description, self.op, _whole(self.threshold, self.op), self.required, self.source,
                         None if self.floor is None else _whole(self.floor, self.op))


def _whole(value: Any, op: str) -> Any:
    """20.0 read from YAML as 20 (shown so in messages and the ledger); a range keeps its floats."""
    if isinstance(value, float) and value.is_integer() and op != "==":
        return int(value)
    return value


class StageModel(_Strict):
    id: str = Field(pattern=r"^[0-9a-z.]+$")
    criteria: list[CriterionModel] = Field(min_length=1)


class PhaseFile(_Strict):
    """phases/*.yaml — one phase of the protocol with its criteria and default thresholds."""

    id: Literal["env", "paper", "testnet", "micro-live", "production"]
    number: Annotated[int, Field(ge=1, le=5)]
    title: str = Field(min_length=1)
    command: str = Field(pattern=r"^livegate ")
    source: str = ""
    profiles: dict[str, dict[str, bool | float | list[float]]] = Field(default_factory=dict)
    criteria: list[CriterionModel] = Field(min_length=1)
    limits: list[CriterionModel] = Field(default_factory=list)
    stages: list[StageModel] = Field(default_factory=list)

    def to_core(self) -> PhaseSpec:
        return PhaseSpec(
            id=self.id,
            number=self.number,
            title=self.title,
            command=self.command,
            criteria=tuple(c.to_core() for c in self.criteria),
            limits=tuple(c.to_core() for c in self.limits),
            stages=tuple(Stage(s.id, tuple(c.to_core() for c in s.criteria)) for s in self.stages),
            profiles={k: dict(v) for k, v in self.profiles.items()},
            source=self.source,
        )
