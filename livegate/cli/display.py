"""Every message goes through these helpers. rich is imported only when something is drawn."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from typing import Any

from livegate.core.formats import money as money  # the one set of number and time formats, for every command
from livegate.core.formats import number
from livegate.core.formats import pct as pct
from livegate.core.formats import when as when
from livegate.core.redact import redact, redact_text

_consoles: dict[bool, Any] = {}


def console(stderr: bool = False):
    from rich.console import Console

    # Not cached across CliRunner invocations: sys.stdout may be swapped between calls.
    stream = sys.stderr if stderr else sys.stdout
    cached = _consoles.get(stderr)
    if cached is None or cached.file is not stream:
        cached = Console(file=stream, highlight=False, soft_wrap=True)
        cached.on_broken_pipe = _pipe_closed  # the command line's own quiet exit, not rich's exit 1
        _consoles[stderr] = cached
    return cached


def _pipe_closed() -> None:
    raise BrokenPipeError("the reader of the output went away")


def out(text: str = "") -> None:
    console().print(redact_text(text))


def plain(text: str) -> None:
    """Unstyled line to stdout (machine-readable formats)."""
    sys.stdout.write(redact_text(text) + "\n")


def error(text: str) -> None:
    console(stderr=True).print(f"[bold red]Error:[/] {redact_text(text)}", markup=True)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(redact(obj), indent=2, default=str, allow_nan=False) + "\n")


VERDICT_STYLE = {
    "pass": "green", "passed": "green", "signed": "bold green", "fail": "red", "failed": "red",
    "error": "bold red", "warn": "yellow", "skip": "dim", "not run": "dim", "stale": "yellow",
    "paused": "yellow", "running": "cyan",
}


def livegate_command(program: str | None = None) -> str:
    """How to run this livegate from the current directory, for the commands a message suggests:
    `livegate` when that name on PATH is this very program, else the program's path (relative
    when shorter, e.g. `.venv/bin/livegate`). `program` is the running one (sys.argv[0])."""

    program = sys.argv[0] if program is None else program
    if os.path.basename(program) == "__main__.py" and os.path.basename(os.path.dirname(program)) == "livegate":
        return f"{_runnable_path(sys.executable)} -m livegate"  # python -m livegate
    if os.path.splitext(os.path.basename(program))[0] != "livegate":
        return "livegate"  # called from inside another program (a test runner): the installed name
    running = shutil.which(program) or program
    on_path = shutil.which("livegate")
    if on_path and os.path.exists(running) and os.path.samefile(on_path, running):
        return "livegate"
    return _runnable_path(running)


def _runnable_path(path: str) -> str:
    """`path` as a shell can run it from here: the shorter of absolute and relative, quoted."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        relative = absolute
    if os.sep not in relative:
        relative = os.curdir + os.sep + relative  # a bare name would be looked up on PATH
    return shlex.quote(relative if len(relative) < len(absolute) else absolute)


def escape(text: str) -> str:
    """`text` shown as it is, even where it holds [brackets] that would read as rich markup."""
    return text.replace("[", "\\[")


def panel(title: str, lines: list[str], style: str = "red") -> None:
    """A framed block of message lines (markup allowed): what must not be missed."""
    from rich.panel import Panel

    console().print(Panel("\n".join(redact_text(line) for line in lines), title=title, title_align="left", border_style=style),
                    soft_wrap=False)  # inside the frame, long lines wrap


def styled(word: str) -> str:
    style = VERDICT_STYLE.get(word, "")
    return f"[{style}]{word}[/]" if style else word


def step_status(step: dict) -> str:
    """A `status` step's status, marked when its result is a rehearsal (not the real venue)."""
    return styled(step["status"]) + (" [yellow](rehearsal)[/]" if step.get("rehearsal") else "")


def fmt_value(value) -> str:
    """A measured value or threshold for a table: — for none, yes/no, 4 significant digits."""
    return number(value)


def verdict_line(report: dict) -> str:
    """A phase report's verdict, and whether it was recorded as the step's result (`--check`: not)."""
    where = f"recorded as the {report['step']} phase result" if report["recorded"] else "check only: nothing was recorded"
    return f"Verdict: {styled(report['verdict'])} — {where}."


def criteria_table(title: str, checks: list[dict]) -> None:
    """A phase's criteria: measured value, threshold, verdict and note, one row each."""
    table(title, ["Criterion", "Measured", "Threshold", "Verdict", "Note"],
          [[c["criterion"], fmt_value(c["measured"]), f"{c['op']} {fmt_value(c['threshold'])}", styled(c["verdict"]), c["message"]]
           for c in checks])


def table(title: str | None, columns: list[str], rows: list[list[Any]], show_header: bool = True, no_wrap: tuple[str, ...] = ()):
    """A table; the columns named in `no_wrap` (timestamps) are never broken across lines."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_lines=False, show_header=show_header)
    for col in columns:
        t.add_column(col, overflow="fold", no_wrap=col in no_wrap)
    for row in rows:
        t.add_row(*[redact_text("" if v is None else str(v)) for v in row])
    console().print(t)


class ProgressBar:
    """A rich progress bar on stderr (nothing at all when disabled, e.g. with --json)."""

    def __init__(self, description: str, total: float, enabled: bool = True):
        self.enabled = enabled
        self._bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                                 TimeElapsedColumn(), console=console(stderr=True), transient=True)
            self._task = self._bar.add_task(description, total=total, detail="")

    def __enter__(self) -> ProgressBar:
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()

    def update(self, completed: float, detail: str = "", total: float | None = None) -> None:
        if self._bar:
            self._bar.update(self._task, completed=completed, detail=redact_text(detail), **({"total": total} if total else {}))
