"""The commands the demo suggests at the end work as printed: `livegate` only when that name on
PATH is the program that ran, else the program's own path (`.venv/bin/livegate` after the
README's first command), relative to the current directory when that is shorter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import livegate
from livegate.cli import demo_cmds
from livegate.cli.display import livegate_command
from livegate.config.workspace import scaffold
from livegate.demo import DemoReport

SYSTEM_PATH = os.pathsep.join(["/usr/bin", "/bin"])


def _program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_livegate_when_the_name_on_path_is_this_program(tmp_path, monkeypatch):
    program = _program(tmp_path / "venv" / "bin" / "livegate")
    monkeypatch.setenv("PATH", os.pathsep.join([str(program.parent), SYSTEM_PATH]))
    assert livegate_command(str(program)) == "livegate"


def test_the_program_path_when_livegate_is_not_on_path(tmp_path, monkeypatch):
    program = _program(tmp_path / "venv" / "bin" / "livegate")
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    assert livegate_command(str(program)) == "venv/bin/livegate"
    assert livegate_command("venv/bin/livegate") == "venv/bin/livegate"  # as the shell hands it over


def test_the_program_path_when_the_name_on_path_is_another_livegate(tmp_path, monkeypatch):
    program = _program(tmp_path / "venv" / "bin" / "livegate")
    other = _program(tmp_path / "elsewhere" / "livegate")
    monkeypatch.setenv("PATH", os.pathsep.join([str(other.parent), str(program.parent)]))
    assert livegate_command(str(program)) == "venv/bin/livegate"


def test_the_absolute_path_when_the_relative_one_is_longer(tmp_path, monkeypatch):
    program = _program(tmp_path / "venv" / "bin" / "livegate")
    deep = tmp_path.joinpath(*["d"] * 40)
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    assert livegate_command(str(program)) == str(program)


def test_a_program_in_the_current_directory_and_a_path_with_a_space(tmp_path, monkeypatch):
    program = _program(tmp_path / "my venv" / "bin" / "livegate")
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    assert livegate_command(str(program)) == "'my venv/bin/livegate'"
    monkeypatch.chdir(program.parent)
    assert livegate_command(str(program)) == "./livegate"  # a bare `livegate` would search PATH


def test_python_dash_m_livegate(monkeypatch):
    monkeypatch.chdir(Path(sys.executable).parent)
    main = Path(livegate.__file__).parent / "__main__.py"
    assert livegate_command(str(main)) == f"./{Path(sys.executable).name} -m livegate"


def test_inside_another_program_the_installed_name():
    assert livegate_command("/usr/lib/python3/dist-packages/pytest/__main__.py") == "livegate"


@pytest.mark.parametrize("on_path", [False, True], ids=["not on PATH", "on PATH"])
def test_the_demo_prints_look_around_commands_that_run(run_cli, tmp_path, monkeypatch, on_path):
    """The demo's last line, after the README's first command: each suggested command, run by a
    shell from the same directory, works. (The rehearsal itself is tests/demo/test_demo.py.)"""
    venv = tmp_path / ".venv"
    venv.symlink_to(Path(sys.executable).parent.parent)  # the README's `.venv`, here
    assert (venv / "bin" / "livegate").is_file()
    path = os.pathsep.join([str(venv / "bin"), SYSTEM_PATH]) if on_path else SYSTEM_PATH
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/livegate", "demo", "my demo", "--yes"])  # what the shell passes

    def rehearsal(root: Path, say):  # the workspace as the demo leaves it, without its minute of trading
        scaffold(root)
        report = DemoReport(str(root))
        report.add("validate", "pass")
        return report

    monkeypatch.setattr(demo_cmds, "run_demo", rehearsal)
    result = run_cli("demo", "my demo", "--yes")
    assert result.exit_code == 0, result.output
    hints = re.findall(r"`([^`]+)`", result.stdout.split("Look around:")[1])
    run = "livegate" if on_path else ".venv/bin/livegate"
    assert hints == [f"{run} -w 'my demo' status", f"{run} -w 'my demo' ledger show", f"{run} -w 'my demo' monitor --once"]
    for hint in hints:
        proc = subprocess.run(hint, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (hint, proc.stdout, proc.stderr)
    status = subprocess.run(hints[0], shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "env" in status.stdout and "production" in status.stdout
