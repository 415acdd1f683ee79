"""The top-level command group loads command modules lazily: `livegate --help` is printed from
livegate.cli.COMMANDS alone, and running a command imports only the module that defines it."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest
import typer

import livegate.cli
from livegate.cli import COMMANDS, app, load_command

CMD_MODULES = sorted(m.name for m in pkgutil.iter_modules(livegate.cli.__path__) if m.name.endswith("_cmds"))

PROBE = """
import json, sys
sys.argv = ["livegate"] + sys.argv[1:]
import livegate.cli
after_import = sorted(sys.modules)
try:
    livegate.cli.app()
except SystemExit:
    pass
print(json.dumps({"after_import": after_import, "after_run": sorted(sys.modules)}))
"""

HEAVY = ("numpy", "ccxt", "web3", "aiohttp", "pydantic", "eth_account", "apprise", "sqlite_utils", "prometheus_client")


def probe(*argv: str) -> dict[str, list[str]]:
    import json

    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_party_heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY
            or m.startswith(("livegate.phases", "livegate.adapters", "livegate.services", "livegate.ledger"))]


def cmd_modules(modules: list[str]) -> set[str]:
    return {m.rsplit(".", 1)[1] for m in modules if m.startswith("livegate.cli.") and m.endswith("_cmds")}


def test_help_lists_the_table_in_order(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    listed = [line.strip("│ ").split(" ", 1)[0] for line in lines]
    listed = [name for name in listed if name in COMMANDS]
    assert listed == list(COMMANDS)
    text = " ".join(result.output.split())
    for name, (_, help_line) in COMMANDS.items():
        assert help_line.split(";")[0][:50] in text, name


def test_help_imports_no_command_module_nor_heavy_library():
    seen = probe("--help")
    for key in ("after_import", "after_run"):
        assert first_party_heavy(seen[key]) == [], (key, first_party_heavy(seen[key]))
        assert cmd_modules(seen[key]) == set(), key


def test_no_args_help_is_light_too():
    seen = probe()
    assert first_party_heavy(seen["after_run"]) == [] and cmd_modules(seen["after_run"]) == set()


@pytest.mark.parametrize("module", CMD_MODULES)
def test_a_command_imports_only_its_module(module):
    name = next(n for n, (m, _) in COMMANDS.items() if m == module)
    seen = probe(name, "--help")
    assert cmd_modules(seen["after_run"]) == {module}


def test_every_command_of_the_table_resolves():
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name, (module, help_line) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name and command.help, name
        assert root.get_command(ctx, name).name == name
        assert help_line.strip() and "\n" not in help_line, name
        assert f"livegate.cli.{module}" in sys.modules


def test_no_command_module_registers_a_command_missing_from_the_table():
    assert app.registered_commands == [] and app.registered_groups == [], "add commands to a *_cmds module and to COMMANDS"
    assert {module for module, _ in COMMANDS.values()} == set(CMD_MODULES)
    for module in CMD_MODULES:
        defined = typer.main.get_group(importlib.import_module(f"livegate.cli.{module}").app).commands
        for name in defined:
            assert name in COMMANDS, f"livegate.cli.{module} defines {name!r}, missing from livegate.cli.COMMANDS"
            assert COMMANDS[name][0] == module, f"{name!r} is defined in {module}, COMMANDS says {COMMANDS[name][0]}"


def test_unknown_command_suggests_from_the_table(run_cli):
    result = run_cli("statu")
    assert result.exit_code == 2 and "Did you mean 'status'" in result.output


def test_errors_keep_their_exit_codes(run_cli, tmp_path):
    result = run_cli("-w", tmp_path / "nowhere", "status")
    assert result.exit_code == 2 and "not a livegate workspace" in result.output


def test_status_reads_the_cached_config_without_yaml_or_the_config_models(workspace, operator_key, run_cli):
    first = run_cli("-w", workspace, "status", "--json")  # a cache miss: validates afresh and writes the cache
    assert first.exit_code == 0, first.output
    seen = probe("-w", str(workspace), "status", "--json")
    loaded = [m for m in seen["after_run"] if m == "yaml" or m.startswith(("livegate.config.models", "livegate.config.loader", "ccxt"))]
    assert loaded == []
    (workspace / "livegate.yaml").write_text((workspace / "livegate.yaml").read_text() + "\n# edited\n")
    seen = probe("-w", str(workspace), "status", "--json")  # the files changed: loaded and validated afresh
    assert "livegate.config.models" in seen["after_run"] and "yaml" in seen["after_run"]
