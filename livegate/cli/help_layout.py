"""How every command's --help reads, applied once to each command when it is loaded.

Typer's rich help prints a Python type beside every parameter (`--yes <bool>` for a flag that
takes no value, `FILE <str>` beside an argument already named, `<int range> [0<=x<=65535]`) and
keeps a docstring's own line breaks after its first paragraph, so sentences broke in the middle
at any other width. The command modules give each option that takes a value a placeholder a user
can type (`--days N`, `--stage 4.1a`); this module makes the rest read right:

- a flag shows no placeholder: `--yes`, `--help`;
- an argument shows its name only: `FILE`, `STEP`;
- no `[x>=1]` beside a placeholder: it said nothing the help text does not, and at 80 columns
  it squeezed option names into `--i-understand-real-mo…` (a value out of range is still refused,
  naming the range);
- each paragraph of a help text is one line, wrapped by the terminal at its width (a paragraph
  that starts with `\\b` keeps its lines, as in click).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from typer._click import Command, Context, Parameter  # typer's vendored click
from typer.core import TyperArgument, TyperOption

NO_REFLOW = "\b"


class NamedArgument(TyperArgument):
    """An argument whose help row shows its name (metavar) and no Python type beside it."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _get_number_range_help_str(self) -> str | None:
        return None


class PlainOption(TyperOption):
    """An option whose help row shows its placeholder (metavar) only, and a flag nothing."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return "" if self.is_flag or self.count else super().display_type_rich(ctx)

    def _get_number_range_help_str(self) -> str | None:
        return None


def reflow(text: str | None) -> str | None:
    """Each paragraph on one line, so the help wraps at the terminal's width and nowhere else."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith(NO_REFLOW) else " ".join(p.split()) for p in paragraphs)


def tidy_parameters(command: Command, help_option_names: Sequence[str]) -> None:
    """Flags without a placeholder and arguments without a type: on `command`'s own parameters,
    its help option included."""
    help_option = command.get_help_option(Context(command, help_option_names=list(help_option_names)))
    for param in [*command.params, help_option]:
        tidy_parameter(param)


def tidy(command: Command, help_option_names: Sequence[str]) -> Command:
    """`command` and every sub-command under it, reflowed and with typeable placeholders."""
    command.help = reflow(command.help)
    command.short_help = reflow(command.short_help)
    tidy_parameters(command, help_option_names)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub, help_option_names)
    return command


def tidy_parameter(param: Parameter | None) -> None:
    """The parameter as typer built it, shown as above: its class narrowed to the one that
    displays it so (typer builds the parameters itself and takes no class for them)."""
    if isinstance(param, TyperArgument):
        param.__class__ = NamedArgument
    elif isinstance(param, TyperOption):
        param.__class__ = PlainOption
