"""check-config's reporters (text, json, github), --kind, and `livegate config schema`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_WS = (REPO / "configs" / "livegate.yaml").read_text(encoding="utf-8")
EXAMPLE_RISK = (REPO / "risk_limits.yaml").read_text(encoding="utf-8")
GITHUB_LINE = re.compile(r"^::error file=[^,]+,line=\d+::")


def line_in(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


@pytest.fixture
def files(tmp_path):
    """cfg/livegate.yaml (fine) and cfg/risk_limits.yaml with two problems; relative names."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "livegate.yaml").write_text(EXAMPLE_WS, encoding="utf-8")
    risk = EXAMPLE_RISK.replace("max_daily_loss: 100.00", "max_daily_loss: -5").replace("max_leverage: 3.0", "max_leverage: 4")
    (cfg / "risk_limits.yaml").write_text(risk, encoding="utf-8")
    return {
        "ws": "cfg/livegate.yaml",
        "risk": "cfg/risk_limits.yaml",
        "daily_line": line_in(risk, "max_daily_loss: -5"),
        "leverage_line": line_in(risk, "max_leverage: 4"),
    }


def test_json_format_structure(files, run_cli):
    result = run_cli("check-config", "--format", "json", files["ws"], files["risk"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [(f["path"], f["kind"], f["ok"]) for f in data["files"]] == [
        (files["ws"], "workspace", True),
        (files["risk"], "risk", False),
    ]
    assert data["files"][0]["problems"] == []
    problems = data["files"][1]["problems"]
    assert all(set(p) == {"line", "key", "message"} and isinstance(p["line"], int) for p in problems)
    assert problems == [
        {"line": files["daily_line"], "key": "live_trading.max_daily_loss", "message": "must be > 0 (got -5)"},
        {"line": files["leverage_line"], "key": "live_trading.max_leverage", "message": "must be <= 3 (got 4)"},
    ]


def test_json_format_when_all_pass(files, run_cli):
    result = run_cli("check-config", "-f", "json", files["ws"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "ok": True, "files": [{"path": files["ws"], "kind": "workspace", "ok": True, "problems": []}],
    }


@pytest.mark.parametrize("content, line, message", [
    ("live_trading:\n  a: 1\n\tb: 2\n", 3, "YAML syntax error: found a tab character that violates indentation"),
    ("live_trading:\n  a: 1\n  a: 2\n", 3, "YAML syntax error: duplicate key 'a' (first at line 2)"),
    ("# nothing here\n", 1, "the file is empty; expected a mapping with `live_trading:`"),
    (b"live_trading:\n  \xff\xfe: 1\n", 2, "not UTF-8 text (byte 16); expected a YAML file"),
])
def test_json_problem_without_a_key_has_an_empty_key(content, line, message, tmp_path, run_cli):
    """A file-level problem (syntax, empty, not text) has no key path: `key` is "" and the
    whole text is the message — not `"key": "YAML syntax error"`."""
    path = tmp_path / "risk_limits.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run_cli("check-config", "--format", "json", "risk_limits.yaml")
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["files"][0]["problems"] == [{"line": line, "key": "", "message": message}]


def test_github_format(files, run_cli):
    result = run_cli("check-config", "--format", "github", files["ws"], files["risk"])
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    assert all(GITHUB_LINE.match(line) for line in lines), lines
    assert lines[0] == f"::error file={files['risk']},line={files['daily_line']}::live_trading.max_daily_loss: must be > 0 (got -5)"
    assert lines[1] == f"::error file={files['risk']},line={files['leverage_line']}::live_trading.max_leverage: must be <= 3 (got 4)"
    assert "Traceback" not in result.output


def test_github_format_escapes_the_file_name_and_prints_nothing_when_all_pass(tmp_path, run_cli):
    odd = tmp_path / "a,b"
    odd.mkdir()
    (odd / "risk_limits.yaml").write_text("live_trading: [1]\n", encoding="utf-8")
    result = run_cli("check-config", "-f", "github", "a,b/risk_limits.yaml")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == ["::error file=a%2Cb/risk_limits.yaml,line=1::live_trading: must be a mapping (got [1])"]
    assert GITHUB_LINE.match(result.stdout)

    (odd / "risk_limits.yaml").write_text(EXAMPLE_RISK, encoding="utf-8")
    result = run_cli("check-config", "-f", "github", "a,b/risk_limits.yaml")
    assert result.exit_code == 0, result.output
    assert "::error" not in result.output


def test_text_format(files, run_cli):
    result = run_cli("check-config", files["ws"], files["risk"])
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [
        f"{files['ws']} (workspace)....Passed",
        f"{files['risk']} (risk)....Failed",
        f"  {files['risk']}:{files['daily_line']} live_trading.max_daily_loss: must be > 0 (got -5)",
        f"  {files['risk']}:{files['leverage_line']} live_trading.max_leverage: must be <= 3 (got 4)",
        "2 file(s) checked, 1 with problems",
    ]


def test_kind_override_for_an_oddly_named_file(tmp_path, run_cli):
    odd = tmp_path / "prod-limits.yml"
    odd.write_text(EXAMPLE_RISK, encoding="utf-8")
    result = run_cli("check-config", "--kind", "risk", "prod-limits.yml")
    assert result.exit_code == 0, result.output
    assert "prod-limits.yml (risk)....Passed" in result.output

    broken = EXAMPLE_RISK.replace("max_daily_loss: 100.00", "max_daily_loss: -5")
    odd.write_text(broken, encoding="utf-8")
    result = run_cli("check-config", "--kind", "risk", "prod-limits.yml")
    assert result.exit_code == 2
    assert f"  prod-limits.yml:{line_in(broken, 'max_daily_loss')} live_trading.max_daily_loss: must be > 0 (got -5)" in result.output

    # the same file read as another kind fails on that kind's rules
    result = run_cli("check-config", "--kind", "workspace", "prod-limits.yml")
    assert result.exit_code == 2
    assert "prod-limits.yml:3 live_trading: unknown key; allowed here: alerts, approvals, bot, capital" in result.output


def test_kind_override_for_a_phase_outside_phases_dir(tmp_path, run_cli):
    (tmp_path / "paper.yaml").write_text((REPO / "phases" / "paper.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("check-config", "--kind", "phase", "paper.yaml")
    assert result.exit_code == 0, result.output
    assert "paper.yaml (phase)....Passed" in result.output


def test_unknown_file_name_without_kind_is_a_usage_error_with_a_hint(tmp_path, run_cli):
    (tmp_path / "limits.yaml").write_text(EXAMPLE_RISK, encoding="utf-8")
    result = run_cli("check-config", "limits.yaml")
    assert result.exit_code == 2
    assert "limits.yaml: cannot tell what kind of config this is from its name" in result.output
    assert "--kind workspace|risk|phase" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, expected", [
    (["--format", "xml", "livegate.yaml"], "--format must be one of text, json, github (got 'xml')"),
    (["--kind", "strategy", "livegate.yaml"], "--kind must be one of workspace, risk, phase (got 'strategy')"),
])
def test_bad_option_values(args, expected, tmp_path, run_cli):
    (tmp_path / "livegate.yaml").write_text(EXAMPLE_WS, encoding="utf-8")
    result = run_cli("check-config", *args)
    assert result.exit_code == 2
    assert expected in result.output


def test_missing_file_and_directory(tmp_path, run_cli):
    (tmp_path / "phases" / "risk_limits.yaml").mkdir(parents=True)
    result = run_cli("check-config", "-f", "json", "livegate.yaml", "phases/risk_limits.yaml")
    assert result.exit_code == 2
    files = json.loads(result.stdout)["files"]
    assert files[0]["problems"] == [{"line": 1, "key": "", "message": "no such file"}]
    assert files[1]["problems"] == [{"line": 1, "key": "", "message": "is a directory, expected a file"}]


def test_no_paths_checks_the_workspace_files(workspace, run_cli):
    result = run_cli("-w", workspace, "check-config")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{workspace / 'livegate.yaml'} (workspace)....Passed",
        f"{workspace / 'risk_limits.yaml'} (risk)....Passed",
        "2 file(s) checked, 0 with problems",
    ]

    (workspace / "risk_limits.yaml").write_text("live_trading:\n  max_total_capital: 1\n", encoding="utf-8")
    result = run_cli("-w", workspace, "check-config", "-f", "github")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 14  # the 14 other live_trading keys are missing, each on line 1
    assert all(GITHUB_LINE.match(l) and l.startswith(f"::error file={workspace / 'risk_limits.yaml'},line=1::live_trading.") for l in lines)
    assert any(l.endswith("::live_trading.max_daily_loss: required key is missing") for l in lines)


# ---------------------------------------------------------------------- config schema


def test_schema_all_kinds(run_cli):
    result = run_cli("config", "schema")
    assert result.exit_code == 0, result.output
    schemas = json.loads(result.stdout)
    assert set(schemas) == {"workspace", "risk", "phase"}
    assert set(schemas["workspace"]["properties"]) == {
        "workspace", "profile", "capital", "exchange", "chain", "bot", "strategy", "approvals", "alerts", "testnet", "scaling", "thresholds",
    }
    assert schemas["workspace"]["additionalProperties"] is False  # extra="forbid"
    assert {"id", "number", "criteria"} <= set(schemas["phase"]["required"])


def test_schema_risk_kind(run_cli):
    result = run_cli("config", "schema", "--kind", "risk")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "live_trading" in schema["properties"]
    assert schema["required"] == ["live_trading"]
    limits = schema["$defs"]["LiveTradingLimits"]
    assert limits["additionalProperties"] is False
    assert limits["properties"]["max_leverage"]["maximum"] == 3
    assert limits["properties"]["max_position_pct"]["maximum"] == 0.2
    assert limits["properties"]["max_daily_loss"]["exclusiveMinimum"] == 0
    assert len(limits["required"]) == 15  # every risk key is required


def test_schema_unknown_kind(run_cli):
    result = run_cli("config", "schema", "--kind", "strategy")
    assert result.exit_code == 2
    assert "--kind must be one of workspace, risk, phase or all (got 'strategy')" in result.output
