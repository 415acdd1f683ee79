"""Prompts behind a small protocol so tests can script them and `--yes` can skip them."""

from __future__ import annotations

import sys
from typing import Protocol

from livegate.errors import UsageError


class Prompter(Protocol):
    def confirm(self, message: str) -> bool: ...


class QuestionaryPrompter:
    def confirm(self, message: str) -> bool:
        if not sys.stdin.isatty():
            raise UsageError("this needs a confirmation but there is no terminal to ask; pass --yes")
        import questionary

        answer = questionary.confirm(message, default=False).ask()
        return bool(answer)


class ScriptedPrompter:
    """Answers from a list, in order; records the questions asked."""

    def __init__(self, answers: list[bool]):
        self.answers = list(answers)
        self.asked: list[str] = []

    def confirm(self, message: str) -> bool:
        self.asked.append(message)
        if not self.answers:
            raise AssertionError(f"unexpected prompt: {message}")
        return self.answers.pop(0)


PROMPTER: Prompter = QuestionaryPrompter()


def confirm(message: str, yes: bool) -> bool:
    """True when `--yes` was given or the operator agrees."""
    return True if yes else PROMPTER.confirm(message)
