"""Every command has help text and is documented in the README; start-up stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from livegate.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(command, prefix=()):
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _commands(sub, prefix + (name,))
    else:
        yield " ".join(prefix), command


COMMANDS = dict(_commands(get_command(app)))


def test_there_are_commands():
    assert {"init", "status", "signoff", "check-config", "ledger verify", "keys init", "mode set"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_and_is_in_readme(name, run_cli):
    command = COMMANDS[name]
    assert command.help and len(command.help.strip()) > 15, f"{name} has no help text"
    assert f"livegate {name}" in README, f"`livegate {name}` is not documented in README.md"
    result = run_cli(*name.split(), "--help")
    assert result.exit_code == 0, result.output
    assert command.help.strip().split("\n")[0][:40] in " ".join(result.output.split())


def test_every_option_has_help():
    for name, command in COMMANDS.items():
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option" and param.name not in ("help",):
                assert getattr(param, "help", None), f"{name} {param.name} has no help"


def test_exit_codes_documented():
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 5 |"):
        assert code in README


HEAVY_PROBE = """
import sys
sys.argv = ["livegate"] + sys.argv[1:]
from livegate.cli import app
try:
    app()
except SystemExit:
    pass
print("HEAVY=" + ",".join(m for m in ("ccxt", "web3", "numpy", "sqlite_utils", "questionary") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["status"], ["ledger", "verify"]])
def test_light_commands_import_no_heavy_library(argv, workspace):
    args = argv if argv == ["--help"] else ["-w", str(workspace), *argv]
    out = subprocess.run([sys.executable, "-c", HEAVY_PROBE, *args], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", out.stdout


def test_core_imports_nothing_heavy():
    code = (
        "import sys, livegate.core.gate, livegate.core.protocol, livegate.core.results, livegate.core.canonical\n"
        "bad = [m for m in ('typer', 'rich', 'sqlite3', 'sqlite_utils', 'ccxt', 'web3', 'numpy', 'yaml') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
