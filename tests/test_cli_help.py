"""What `livegate --help` and every command's --help look like to the person reading them: the
commands grouped in the order a go-live takes them, placeholders a user can type, sentences that
break only where the terminal runs out of width; `--version` and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.main import get_command

from livegate.cli import app

ROOT = Path(__file__).resolve().parent.parent
LIVEGATE = Path(sys.executable).with_name("livegate")

# Written out here, not read from livegate.cli: the panels a reader should see, in this order.
PANELS = {
    "Setup": ["init", "keys", "config", "check-config", "gateway"],
    "Protocol": ["validate", "paper-run", "paper-import", "testnet", "mode", "go-live", "approvals", "production", "signoff", "scale", "trade"],
    "Emergency": ["halt", "cancel-all", "reduce-only", "flatten", "rollback", "resume"],
    "Watching": ["status", "monitor", "report", "alert"],
    "Ledger": ["ledger"],
    "Sandbox": ["demo", "sandbox"],
}

# Python and click type names typer prints when an option has no placeholder of its own.
PYTHON_TYPES = re.compile(
    r"(?i:<(?:bool|int|float|str|text|bytes|path|file|filename|dir|datetime|uuid|enum|int range|float range|list\[[^\]]*\]|tuple\[[^\]]*\])>)"
    r"|\b(?:TEXT|INTEGER|FLOAT|BOOLEAN|FILENAME|UUID|DATETIME)\b",  # click's names, upper case
)
# "seed" where it means random numbers is fine; anything else would cite the project's own papers.
SEED_ALLOWED = ("--seed", "seeded synthetic data", "Seed of the synthetic price paths")


def _paths(command, prefix=()):
    yield prefix
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _paths(sub, (*prefix, name))


COMMAND_PATHS = list(_paths(get_command(app)))


def _help(run_cli, monkeypatch, path, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run_cli(*path, "--help")
    assert result.exit_code == 0, result.output
    return result.output


def _panels(output: str) -> list[tuple[str, list[str]]]:
    """(title, the panel's inner lines) of every boxed panel, in order."""
    panels, current = [], None
    for line in output.splitlines():
        if line.startswith("╭─"):
            current = (line.strip("╭─╮ ").strip(), [])
        elif line.startswith("╰─"):
            panels.append(current)
            current = None
        elif current is not None:
            current[1].append(line[2:-2].rstrip())  # inside "│ " and " │"
    return panels


def test_there_are_commands_and_groups():
    assert len(COMMAND_PATHS) > 40 and ("mode", "set") in COMMAND_PATHS and ("ledger", "verify") in COMMAND_PATHS


def test_top_level_help_groups_the_commands_into_panels_in_protocol_order(run_cli, monkeypatch):
    output = _help(run_cli, monkeypatch, (), 100)
    listed = [(title, [line.split()[0] for line in lines if line and not line.startswith(" ")])
              for title, lines in _panels(output) if title != "Options"]
    assert listed == list(PANELS.items())


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "livegate")
def test_help_shows_no_python_type_and_cites_no_seed(path, run_cli, monkeypatch):
    output = _help(run_cli, monkeypatch, path, 100)
    assert not PYTHON_TYPES.findall(output), output
    text = output
    for allowed in SEED_ALLOWED:
        text = text.replace(allowed, "")
    assert "seed" not in text.lower() and "§" not in text and not re.search(r"\bSPEC\b", text), output


@pytest.mark.parametrize(("path", "row"), [
    (("paper-run",), r"--days\s+N\s{2,}Length of the run"),
    (("paper-run",), r"--resume\s{2,}Continue the last"),  # a flag: nothing to type after it
    (("paper-run",), r"--trials\s+N\s{2,}Strategy variants"),
    (("go-live",), r"--stage\s+4\.1a\s{2,}The micro-live stage"),
    (("testnet",), r"--hours\s+H\s{2,}bot: external"),
    (("signoff",), r"\*\s+STEP\s{2,}Phase or stage"),
    (("mode", "set"), r"--level\s+1\|2\|3\s{2,}LIVE_SCALED only"),
    (("sandbox", "serve"), r"--port\s+PORT\s{2,}Exchange port"),
    ((), r"--help\s+-h\s{2,}Show this message"),
])
def test_placeholders_are_what_a_user_types(path, row, run_cli, monkeypatch):
    assert re.search(row, _help(run_cli, monkeypatch, path, 100)), row


def test_a_flag_takes_no_value(run_cli, workspace):
    result = run_cli("-w", workspace, "paper-run", "--resume", "true")
    assert result.exit_code == 2 and "true" in result.output


def _too_early(line: str, following: str, width: int) -> bool:
    """A line ended although the next word would have fitted."""
    return len(line.strip()) + 1 + len(following.split()[0]) <= width


def _early_breaks_in_description(output: str, columns: int) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Usage:")) + 2
    end = next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines))
    body = lines[start:end]
    return [line for line, following in zip(body, body[1:], strict=False)
            if line.strip() and following.strip() and _too_early(line, following, columns - 2)]


def _early_breaks_in_panels(output: str) -> list[str]:
    found = []
    for _, lines in _panels(output):
        # A row starts within its first 3 characters ("*  --stage", "   DIR", "set"); a wrapped line
        # is indented to where the help column starts.
        continued = [len(line) - len(line.lstrip()) for line in lines if line.strip() and line[:4].isspace()]
        if not continued:
            continue
        col = min(continued)
        cells = [line[col:] for line in lines]
        width = max(len(cell) for cell in cells)  # at most the column's width: a conservative check
        for i in range(len(lines) - 1):
            nxt = cells[i + 1]
            if lines[i + 1][:col].strip() or not nxt.strip() or nxt.lstrip().startswith("["):
                continue  # the next line is a new row or a [default: …] note, not the same sentence
            if cells[i].strip() and _too_early(cells[i], nxt, width):
                found.append(lines[i])
    return found


@pytest.mark.parametrize("columns", [80, 120])
def test_help_breaks_lines_only_where_the_width_runs_out(columns, run_cli, monkeypatch):
    early = {}
    for path in COMMAND_PATHS:
        output = _help(run_cli, monkeypatch, path, columns)
        broken = _early_breaks_in_description(output, columns) + _early_breaks_in_panels(output)
        if broken:
            early[" ".join(path) or "livegate"] = broken
        assert "…" not in output, output  # nothing cut off, not even an option's name
    assert early == {}


def test_the_early_break_check_sees_a_hard_line_break():
    rendered = "\n Usage: livegate x\n\n A sentence that the docstring\n broke in the middle.\n"
    assert _early_breaks_in_description(rendered, 80) == [" A sentence that the docstring"]


def test_version_prints_the_installed_version(run_cli):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    result = run_cli("--version")
    assert result.exit_code == 0 and result.output == f"livegate {version}\n"


def test_help_offers_version_and_completion(run_cli, monkeypatch):
    output = _help(run_cli, monkeypatch, (), 100)
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in output


def test_bash_completion_script_completes_commands(tmp_path):
    env = {**os.environ, "PATH": f"{LIVEGATE.parent}{os.pathsep}{os.environ['PATH']}",
           # typer's switch to take the shell from the command line instead of detecting the parent shell
           "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = subprocess.run([LIVEGATE, "--show-completion", "bash"], capture_output=True, text=True, env=env, check=True).stdout
    assert "complete -o default -F _livegate_completion livegate" in script
    (tmp_path / "completion.bash").write_text(script, encoding="utf-8")
    probe = (
        f"source {tmp_path / 'completion.bash'}\n"
        "complete_words() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _livegate_completion livegate; echo \"${COMPREPLY[*]}\"; }\n"
        "complete_words livegate ha\n"
        "complete_words livegate ledger ''\n"
        "complete_words livegate go-live --st\n"
    )
    env.pop("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert out == ["halt", "verify anchor export show", "--stage"]


COMPLETION_PROBE = """
import os, sys
os.environ.update({"_LIVEGATE_COMPLETE": "complete_bash", "COMP_WORDS": "livegate s", "COMP_CWORD": "1"})
sys.argv = ["livegate"]
import contextlib
import livegate.cli
with contextlib.suppress(SystemExit):
    livegate.cli.app()
print("MODULES=" + ",".join(sorted(m for m in sys.modules if m.startswith("livegate.cli.") and m.endswith("_cmds"))))
"""


def test_completing_a_command_name_loads_no_command_module():
    out = subprocess.run([sys.executable, "-c", COMPLETION_PROBE], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[-1] == "MODULES="
    assert set(out[:-1]) == {"signoff", "scale", "status", "sandbox"}
