"""What `paper-run` and `paper-import` both show: the stress test's progress bar and the
paper criteria table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from livegate.cli import display as d

NEXT_LINE = "Next: `livegate signoff paper --by NAME`."


@contextmanager
def stress_bar(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """The stress test's progress bar on stderr (unless disabled), as a `(done, total)` callback."""
    bar = d.ProgressBar("stress test", 203, enabled=enabled)
    with bar:
        yield lambda done, total: bar.update(done, f"{done} / {total} scenarios", total=total)


def show_criteria(report: dict) -> None:
    """The paper criteria table and the verdict line."""
    d.criteria_table("Paper criteria (phases/paper.yaml)", report["criteria"])
    stress = report.get("stress") or {}
    if stress.get("cached"):
        d.out("Stress test: the result recorded under this exact configuration and strategy was reused (it depends on nothing else).")
    d.out(f"Verdict: {d.styled(report['verdict'])}")
