"""Prompts behind a small protocol so tests can script them and `--yes` can skip them."""

from __future__ import annotations

import sys
import time
from typing import Protocol

from livegate.core.errors import UsageError


class Prompter(Protocol):
    def confirm(self, message: str) -> bool: ...

    def text(self, message: str) -> str: ...


class QuestionaryPrompter:
    def confirm(self, message: str) -> bool:
        if not sys.stdin.isatty():
            raise UsageError("this needs a confirmation but there is no terminal to ask; pass --yes")
        import questionary

        answer = questionary.confirm(message, default=False).ask()
        return bool(answer)

    def text(self, message: str) -> str:
        if not sys.stdin.isatty():
            raise UsageError("this needs the operator to type a confirmation but there is no terminal to ask")
        import questionary

        return questionary.text(message).ask() or ""


class ScriptedPrompter:
    """Answers from a list, in order (a bool for a confirmation, a str for typed text);
    records the questions asked."""

    def __init__(self, answers: list[bool | str]):
        self.answers = list(answers)
        self.asked: list[str] = []

    def _next(self, message: str, kind: type):
        self.asked.append(message)
        if not self.answers or not isinstance(self.answers[0], kind):
            raise AssertionError(f"unexpected prompt: {message}")
        return self.answers.pop(0)

    def confirm(self, message: str) -> bool:
        return self._next(message, bool)

    def text(self, message: str) -> str:
        return self._next(message, str)


PROMPTER: Prompter = QuestionaryPrompter()


def confirm(message: str, yes: bool) -> bool:
    """True when `--yes` was given or the operator agrees."""
    return True if yes else PROMPTER.confirm(message)


def typed(message: str, phrase: str) -> bool:
    """True when the operator types `phrase` exactly (surrounding spaces ignored)."""
    return PROMPTER.text(f"{message} Type {phrase} to confirm:").strip() == phrase


def duration(seconds: float) -> str:
    """`4m 05s`, `38s`, `1h 02m`."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def describe(approval, now: float) -> str:
    where = f" on {approval.context}" if approval.context else ""
    return f"{approval.id}: {approval.summary}{where}, expires in {duration(approval.seconds_left(now))}"


def ask_in_terminal(approval) -> bool | None:
    """The interactive prompt for `approval_gate(ask=...)`: True/False from the operator, None
    (wait for `livegate approvals approve|reject` from another terminal) without a terminal."""
    try:
        return PROMPTER.confirm(f"Approve {describe(approval, time.time())}?")
    except UsageError:
        return None


REAL_MONEY_PHRASE = "REAL MONEY"


def confirm_real_money(what: str, doing: str, warning: str, yes: bool, real_money: bool) -> bool:
    """The guard of every step that trades real money: the operator types REAL MONEY, or passes
    `--yes` together with `--i-understand-real-money`. `what` trades real money; `doing` it needs
    the phrase; `warning` is shown before the phrase is asked."""

    if yes and not real_money:
        raise UsageError(f"{what} trades real money: --yes skips the confirmation only together with --i-understand-real-money")
    if yes:
        return True
    try:
        return typed(warning, REAL_MONEY_PHRASE)
    except UsageError:
        raise UsageError(f"{doing} needs the operator to type {REAL_MONEY_PHRASE!r} at a terminal, "
                         "or --yes together with --i-understand-real-money") from None
