"""Property tests: whatever is in livegate.yaml / risk_limits.yaml, the loader either accepts it
or raises ConfigError whose every line names the file — never another exception — and
`check-config` exits 0 or 2 without a traceback.

Hypothesis and function-scoped fixtures don't mix, so each example writes into a temporary
directory made inside the test.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from livegate.cli import app
from livegate.config.loader import load_phase_specs, load_risk_limits, load_workspace_config
from livegate.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "livegate.yaml": yaml.safe_load((REPO / "configs" / "livegate.yaml").read_text(encoding="utf-8")),
    "risk_limits.yaml": yaml.safe_load((REPO / "risk_limits.yaml").read_text(encoding="utf-8")),
}
SPECS = load_phase_specs()
LOADERS = {
    "livegate.yaml": lambda path, name: load_workspace_config(path, name, SPECS),
    "risk_limits.yaml": load_risk_limits,
}
RUNNER = CliRunner()
PROPERTY = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Keys livegate knows, so that generated documents reach the models and not only `unknown key`.
KNOWN_KEYS = sorted(
    {k for doc in EXAMPLES.values() for k in doc}
    | set(EXAMPLES["livegate.yaml"]["exchange"]) | set(EXAMPLES["livegate.yaml"]["capital"])
    | set(EXAMPLES["risk_limits.yaml"]["live_trading"])
    | {"paper", "micro-live", "4.1a", "min_trades", "win_rate_pct", "guardian_drills_blocked"}
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8) | st.integers(-5, 5) | st.none() | st.booleans() | st.floats(width=16)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


# Raw bytes: anything, a YAML-looking start followed by anything, and YAML punctuation soup
# (with every kind of line break and a few characters YAML forbids).
YAMLISH = ":-?[]{},#&*!|>'\"%@` \t\n\r\x85\u2028\x00\x07\ufeffaz09._~"
arbitrary_bytes = (
    st.binary(max_size=400)
    | st.builds(lambda head, tail: head + tail,
                st.sampled_from([b"live_trading:\n  ", b"exchange:\n  symbols: [", b"a: \"", b"- ", b"\xef\xbb\xbf"]),
                st.binary(max_size=200))
    | st.text(alphabet=YAMLISH, max_size=120).map(lambda t: t.encode("utf-8"))
)


@st.composite
def mutated_example(draw, name: str):
    """The shipped example with one value somewhere replaced by an arbitrary document."""
    doc = yaml.safe_load(yaml.safe_dump(EXAMPLES[name]))
    node = doc
    while True:
        key = draw(st.sampled_from(sorted(node, key=str)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = draw(documents)
        return doc


def check_loader(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            result = LOADERS[name](path, name)
        except ConfigError as exc:
            assert exc.problems, "a ConfigError without problems"
            for line in exc.problems:
                assert re.match(rf"{re.escape(name)}:\d+[: ]", line), line
            return
        # accepted: every number in it is finite (strategy.params is free-form, for the strategy)
        dumped = result.model_dump(exclude={"strategy": {"params"}} if name == "livegate.yaml" else None)
        assert all(math.isfinite(v) for v in _leaves(dumped) if isinstance(v, float)), dumped


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def yaml_line_count(data: bytes) -> int:
    """Lines as YAML counts them: \r, \x85, U+2028 and U+2029 break lines too (YAML 1.1)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.count(b"\n") + 1
    return len(re.split(r"\r\n|[\n\r\x85\u2028\u2029]", text))


def check_cli(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        result = RUNNER.invoke(app, ["check-config", "--format", "json", str(path)], catch_exceptions=False)
        assert result.exit_code in (0, 2), (result.exit_code, result.output)
        assert "Traceback" not in result.output
        assert "internal error" not in result.output
        report = json.loads(result.stdout)
        assert report["ok"] is (result.exit_code == 0)
        for problem in report["files"][0]["problems"]:
            assert isinstance(problem["line"], int) and problem["line"] >= 1
            assert problem["line"] <= yaml_line_count(data), (problem, data)


@pytest.mark.parametrize("name", ["livegate.yaml", "risk_limits.yaml"])
@PROPERTY
@given(data=st.data())
def test_arbitrary_yaml_documents(name, data):
    doc = data.draw(documents | mutated_example(name), label="document")
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")
    check_loader(name, text)
    check_cli(name, text)


@pytest.mark.parametrize("name", ["livegate.yaml", "risk_limits.yaml"])
@PROPERTY
@given(raw=arbitrary_bytes)
def test_arbitrary_bytes(name, raw):
    check_loader(name, raw)
    check_cli(name, raw)


def test_the_examples_themselves_load():
    """The baseline the mutations start from is valid (so a failure above is the mutation's)."""
    for name in EXAMPLES:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(yaml.safe_dump(EXAMPLES[name]), encoding="utf-8")
            assert LOADERS[name](path, name) is not None
