"""The protocol as data: comparisons, looser thresholds, profiles/overrides, phase verdicts,
and the check runner's fail-closed behaviour."""

from __future__ import annotations

import pytest

from livegate.config.loader import load_phase_specs
from livegate.core.protocol import (
    OPS,
    Criterion,
    Looser,
    PhaseSpec,
    Stage,
    apply_thresholds,
    beyond_floor,
    compare,
    is_looser,
    thresholds_snapshot,
)
from livegate.core.results import CheckResult, PhaseResult, Verdict, phase_verdict
from livegate.phases import Measurement, evaluate, run_checks


def specs_by_id() -> dict[str, PhaseSpec]:
    return {s.id: s for s in load_phase_specs()}


def crit_of(spec: PhaseSpec, cid: str) -> Criterion:
    return next(c for c in spec.criteria + spec.limits if c.id == cid)


# --------------------------------------------------------------------------- compare

COMPARE_CASES = [
    (">", 2, 1, True),
    (">", 1, 1, False),
    (">", 1.5000001, 1.5, True),
    (">", -5, -5, False),
    (">=", 1, 1, True),
    (">=", 20, 20, True),
    (">=", 0.99, 1, False),
    ("<", 1, 2, True),
    ("<", 2, 2, False),
    ("<", 499.9, 500, True),
    ("<=", 2, 2, True),
    ("<=", 0, 0, True),
    ("<=", 2.01, 2, False),
    ("==", True, True, True),
    ("==", False, True, False),
    ("==", False, False, True),
    ("==", 3, 3, True),
    ("==", None, True, False),  # nothing measured never meets a true/false criterion
    ("between", 45, [45, 60], True),  # low bound inclusive
    ("between", 60, [45, 60], True),  # high bound inclusive
    ("between", 52.5, [45, 60], True),
    ("between", 44.999, [45, 60], False),
    ("between", 60.001, [45, 60], False),
    ("between", 52, (45, 60), True),
]


@pytest.mark.parametrize("op, measured, threshold, expected", COMPARE_CASES)
def test_compare(op, measured, threshold, expected):
    assert compare(op, measured, threshold) is expected


@pytest.mark.parametrize(
    "op, measured, threshold",
    [
        (">", True, 1),
        (">=", 1, True),
        ("<", False, 500),
        ("<=", 0, False),
        ("between", True, [0, 1]),
        ("==", 1, True),  # 1 == True in Python must not pass a true/false criterion
        ("==", 0, False),
        ("==", 1.0, True),
        ("==", True, 1),
        (">", None, 0),
        ("<", None, 500),
        ("between", None, [45, 60]),
    ],
)
def test_compare_bool_vs_number_and_none_raise_type_error(op, measured, threshold):
    with pytest.raises(TypeError, match="cannot compare"):
        compare(op, measured, threshold)


def test_compare_unknown_op_raises_value_error():
    with pytest.raises(ValueError, match="unknown comparison"):
        compare("!=", 1, 2)


def test_every_op_is_covered_by_the_table():
    ops = [case[0] for case in COMPARE_CASES]
    assert set(ops) == set(OPS)
    for op in OPS:  # each op has at least one meeting and one missing case
        assert {case[3] for case in COMPARE_CASES if case[0] == op} == {True, False}


# --------------------------------------------------------------------------- is_looser

@pytest.mark.parametrize(
    "op, default, value, expected",
    [
        (">", 1.5, 1.0, True),
        (">", 1.5, 2.0, False),
        (">", 1.5, 1.5, False),
        (">=", 20, 5, True),
        (">=", 20, 100, False),
        (">=", 20, 20, False),
        ("<", 500, 800, True),
        ("<", 500, 400, False),
        ("<", 500, 500, False),
        ("<=", 0, 1, True),
        ("<=", 20, 10, False),
        ("==", True, False, True),
        ("==", True, True, False),
        ("between", [45, 60], [40, 60], True),  # lower low bound
        ("between", [45, 60], [45, 70], True),  # higher high bound
        ("between", [45, 60], [40, 70], True),
        ("between", [45, 60], [50, 55], False),  # narrower is stricter
        ("between", [45, 60], [45, 60], False),
    ],
)
def test_is_looser(op, default, value, expected):
    assert is_looser(op, default, value) is expected


@pytest.mark.parametrize(
    "crit, value, expected",
    [
        (Criterion("sharpe", "", ">", 1.5, floor=0), 0, False),  # at the floor: allowed
        (Criterion("sharpe", "", ">", 1.5, floor=0), -0.01, True),
        (Criterion("sharpe", "", ">", 1.5, floor=0), -1e308, True),
        (Criterion("dd", "", "<", 10, floor=20), 20, False),
        (Criterion("dd", "", "<", 10, floor=20), 20.5, True),
        (Criterion("wr", "", "between", [45, 60], floor=[30, 80]), [30, 80], False),
        (Criterion("wr", "", "between", [45, 60], floor=[30, 80]), [29, 60], True),
        (Criterion("wr", "", "between", [45, 60], floor=[30, 80]), [45, 81], True),
        (Criterion("ok", "", "==", True), True, False),
        (Criterion("ok", "", "==", True), False, True),  # a true/false check cannot be loosened
        (Criterion("cap", "", "<=", 10), 10, False),  # no floor: only the default or stricter
        (Criterion("cap", "", "<=", 10), 11, True),
    ],
)
def test_beyond_floor(crit, value, expected):
    assert beyond_floor(crit, value) is expected


def test_every_shipped_threshold_but_true_false_has_a_floor_the_default_meets():
    for spec in load_phase_specs():
        for crit in spec.criteria + spec.limits + tuple(c for st in spec.stages for c in st.criteria):
            assert (crit.floor is None) == (crit.op == "=="), (spec.id, crit.id)
            assert not beyond_floor(crit, crit.threshold), (spec.id, crit.id)
            assert crit.with_threshold(crit.threshold).floor == crit.floor


# --------------------------------------------------------------------------- apply_thresholds

def test_default_profile_keeps_defaults_and_flags_nothing():
    paper = specs_by_id()["paper"]
    eff, looser = apply_thresholds(paper, "default", {})
    assert crit_of(eff, "min_trades").threshold == 20
    assert looser == []
    assert eff.criteria == paper.criteria


def test_strict_profile_sets_paper_min_trades_100_without_flagging():
    paper = specs_by_id()["paper"]
    eff, looser = apply_thresholds(paper, "strict", {})
    assert crit_of(eff, "min_trades").threshold == 100
    assert looser == []  # a profile is part of the protocol, not a loosening
    # only min_trades moved
    others = {c.id: c.threshold for c in eff.criteria if c.id != "min_trades"}
    assert others == {c.id: c.threshold for c in paper.criteria if c.id != "min_trades"}


@pytest.mark.parametrize(
    "overrides, expected_value, flagged",
    [
        ({"min_trades": 5}, 5, True),  # looser than >= 20
        ({"min_trades": 50}, 50, False),  # stricter
        ({"min_trades": 20}, 20, False),  # equal
    ],
)
def test_paper_override_looser_flagged_stricter_not(overrides, expected_value, flagged):
    paper = specs_by_id()["paper"]
    eff, looser = apply_thresholds(paper, "default", overrides)
    assert crit_of(eff, "min_trades").threshold == expected_value
    if flagged:
        assert looser == [Looser("paper", "min_trades", ">=", 20, 5)]
        assert looser[0].describe() == "paper.min_trades: 5 is looser than the default >= 20"
    else:
        assert looser == []


def test_override_beats_profile_and_is_judged_against_the_protocol_default():
    paper = specs_by_id()["paper"]
    eff, looser = apply_thresholds(paper, "strict", {"min_trades": 30})
    assert crit_of(eff, "min_trades").threshold == 30
    assert looser == []  # 30 is looser than strict's 100 but not than the default 20


@pytest.mark.parametrize(
    "overrides, expected_flags",
    [
        ({"win_rate_pct": [40, 60]}, ["win_rate_pct"]),
        ({"win_rate_pct": [50, 55]}, []),
        ({"max_drawdown_pct": 25, "sharpe": 2.0}, ["max_drawdown_pct"]),
        ({"max_drawdown_pct": 5, "sharpe": 1.0}, ["sharpe"]),
    ],
)
def test_paper_overrides_per_op(overrides, expected_flags):
    paper = specs_by_id()["paper"]
    eff, looser = apply_thresholds(paper, "default", overrides)
    for cid, value in overrides.items():
        assert crit_of(eff, cid).threshold == value
    assert [item.criterion for item in looser] == expected_flags


def test_stage_overrides_apply_to_that_stage_only():
    micro = specs_by_id()["micro-live"]
    eff, looser = apply_thresholds(micro, "default", {"4.1a": {"min_duration_hours": 12, "max_trade_value": 5}})
    stages = {st.id: {c.id: c.threshold for c in st.criteria} for st in eff.stages}
    assert stages["4.1a"]["min_duration_hours"] == 12
    assert stages["4.1a"]["max_trade_value"] == 5
    assert stages["4.1b"]["min_duration_hours"] == 24  # untouched
    # 12 h is looser than >= 24; a 5 cap is stricter than <= 10
    assert looser == [Looser("micro-live.4.1a", "min_duration_hours", ">=", 24, 12)]
    snap = thresholds_snapshot((eff,))
    assert snap["4.1a"]["min_duration_hours"] == 12
    assert snap["micro-live"]["limits_enforced"] is True


def test_phase_level_override_on_a_staged_phase_does_not_touch_stages():
    micro = specs_by_id()["micro-live"]
    eff, looser = apply_thresholds(micro, "default", {"unexpected_loss_usd": 100})
    assert crit_of(eff, "unexpected_loss_usd").threshold == 100
    assert [item.scope for item in looser] == ["micro-live"]
    assert [st.criteria for st in eff.stages] == [st.criteria for st in micro.stages]


def test_synthetic_stage_and_limits():
    spec = PhaseSpec(
        "x", 1, "X", "livegate x",
        criteria=(Criterion("a", "a", ">", 1),),
        limits=(Criterion("cap", "cap", "<=", 10),),
        stages=(Stage("s1", (Criterion("b", "b", "<", 5),)),),
    )
    eff, looser = apply_thresholds(spec, "default", {"cap": 20, "s1": {"b": 3}})
    assert eff.limits[0].threshold == 20
    assert eff.stages[0].criteria[0].threshold == 3
    assert [(item.scope, item.criterion) for item in looser] == [("x", "cap")]


# --------------------------------------------------------------------------- phase_verdict

def cr(verdict: Verdict, required: bool = True, message: str = "", cid: str = "c") -> CheckResult:
    return CheckResult(criterion=cid, verdict=verdict, required=required, message=message)


@pytest.mark.parametrize(
    "checks, expected",
    [
        pytest.param([cr(Verdict.PASS), cr(Verdict.PASS)], Verdict.PASS, id="all-pass"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.FAIL)], Verdict.FAIL, id="required-fail"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.ERROR)], Verdict.FAIL, id="required-error"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.FAIL, required=False)], Verdict.PASS, id="optional-fail"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.ERROR, required=False)], Verdict.PASS, id="optional-error"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.WARN, required=False)], Verdict.PASS, id="optional-warn"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.SKIP)], Verdict.FAIL, id="skip-without-message"),
        pytest.param([cr(Verdict.PASS), cr(Verdict.SKIP, message="no chain configured")], Verdict.PASS, id="skip-with-message"),
        pytest.param([cr(Verdict.SKIP, message="n/a")], Verdict.FAIL, id="only-skips"),
        pytest.param([cr(Verdict.PASS, required=False)], Verdict.FAIL, id="no-required-pass"),
        pytest.param([], Verdict.FAIL, id="empty"),
    ],
)
def test_phase_verdict(checks, expected):
    assert phase_verdict(checks) == expected
    assert PhaseResult("env", checks).passed is (expected == Verdict.PASS)


# --------------------------------------------------------------------------- evaluate / run_checks

LATENCY = Criterion("exchange_latency_ms", "latency", "<", 500)
FLAG = Criterion("key_withdrawal_disabled", "no withdraw", "==", True)
OPTIONAL = Criterion("key_ip_whitelist", "ip", "==", True, required=False)


@pytest.mark.parametrize(
    "criterion, measurement, verdict",
    [
        (LATENCY, Measurement(120), Verdict.PASS),
        (LATENCY, Measurement(500), Verdict.FAIL),
        (FLAG, Measurement(True), Verdict.PASS),
        (FLAG, Measurement(False), Verdict.FAIL),
        (FLAG, Measurement(1), Verdict.ERROR),  # a number is not a yes/no answer
        (OPTIONAL, Measurement(False), Verdict.WARN),  # optional criterion: warns, does not fail
        (LATENCY, Measurement("fast"), Verdict.ERROR),
        (LATENCY, Measurement(None), Verdict.ERROR),
        (LATENCY, Measurement(120, verdict=Verdict.FAIL), Verdict.FAIL),  # explicit fail wins over the value
        (LATENCY, Measurement(None, message="no exchange configured", verdict=Verdict.SKIP), Verdict.SKIP),
    ],
)
def test_evaluate(criterion, measurement, verdict):
    result = evaluate(criterion, measurement)
    assert result.verdict == verdict
    assert result.criterion == criterion.id
    assert result.threshold == criterion.threshold
    assert result.op == criterion.op
    if verdict == Verdict.ERROR and not measurement.message:
        assert result.message.startswith("cannot compare")


def _boom(ctx):
    raise RuntimeError("exchange said no")


@pytest.mark.parametrize(
    "check, message_part",
    [
        pytest.param(_boom, "RuntimeError: exchange said no", id="exception"),
        pytest.param(None, "no check implements this criterion", id="missing"),
        pytest.param(lambda ctx: True, "check returned bool, not a Measurement", id="returns-bool"),
        pytest.param(lambda ctx: 120, "check returned int, not a Measurement", id="returns-int"),
        pytest.param(lambda ctx: {"value": 1}, "check returned dict, not a Measurement", id="returns-dict"),
        pytest.param(lambda ctx: None, "check returned NoneType, not a Measurement", id="returns-none"),
    ],
)
def test_run_checks_fails_closed(check, message_part):
    checks = {} if check is None else {LATENCY.id: check}
    [result] = run_checks((LATENCY,), checks, ctx=object())
    assert result.verdict == Verdict.ERROR
    assert result.verdict != Verdict.PASS
    assert message_part in result.message
    assert phase_verdict([result]) == Verdict.FAIL


def test_run_checks_keeps_order_and_passes_ctx_and_isolates_errors():
    seen = []

    def ok(ctx):
        seen.append(ctx)
        return Measurement(120, evidence={"samples": [110, 120, 130]})

    ctx = object()
    results = run_checks((LATENCY, FLAG, OPTIONAL), {LATENCY.id: ok, FLAG.id: _boom}, ctx)
    assert [r.criterion for r in results] == [LATENCY.id, FLAG.id, OPTIONAL.id]
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.ERROR, Verdict.ERROR]
    assert results[0].evidence == {"samples": [110, 120, 130]}
    assert seen == [ctx]
    assert phase_verdict(results) == Verdict.FAIL


def test_run_checks_redacts_secrets_in_exception_messages(monkeypatch):
    monkeypatch.setenv("EXCHANGE_API_KEY", "sk-live-abcdef123456")

    def leaky(ctx):
        raise ValueError("auth failed for key sk-live-abcdef123456")

    [result] = run_checks((LATENCY,), {LATENCY.id: leaky}, None)
    assert result.verdict == Verdict.ERROR
    assert "sk-live-abcdef123456" not in result.message
    assert "***" in result.message


def test_numpy_bool_still_meets_a_true_false_criterion():
    np = pytest.importorskip("numpy")
    assert compare("==", np.bool_(True), True)  # numpy bools are not TypeErrors
    assert not compare("==", np.bool_(False), True)
    assert evaluate(FLAG, Measurement(np.bool_(True))).verdict == Verdict.PASS
