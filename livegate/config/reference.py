"""The configuration reference in Markdown, generated from the pydantic models: one table per
section of `livegate.yaml` and `risk_limits.yaml` (key, type, default, allowed values,
description). The README holds the same text between two marker lines; a test keeps it current.

    python -m livegate.config.reference               # print it (as `livegate config reference`)
    python -m livegate.config.reference --write README.md   # rewrite the README's block
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from livegate.config.models import RiskLimitsFile, WorkspaceConfig

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
FILES: tuple[tuple[str, type[BaseModel]], ...] = (("livegate.yaml", WorkspaceConfig), ("risk_limits.yaml", RiskLimitsFile))
REQUIRED = "required"


def reference_markdown() -> str:
    """Every key of every config file, one Markdown table per section."""
    parts = [
        "<!-- Generated from livegate/config/models.py by `livegate config reference`; "
        "do not edit by hand: run `python -m livegate.config.reference --write README.md`. -->",
    ]
    for filename, model in FILES:
        parts.append(f"### `{filename}`")
        parts.extend(_section(model, ()))
    return "\n\n".join(parts) + "\n"


def _section(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """The section's heading (below the file's own), its docstring, its table, then its sub-sections."""
    out = []
    if path:
        out.append(f"#### `{'.'.join(path)}`")
    doc = _doc(model)
    if doc:
        out.append(doc)
    rows = ["| Key | Type | Default | Allowed | Description |", "|-----|------|---------|---------|-------------|"]
    nested: list[tuple[type[BaseModel], tuple[str, ...]]] = []
    for name, info in model.model_fields.items():
        sub = _model_in(info.annotation)
        if sub is not None:
            nested.append((sub, path + (name + ("[]" if get_origin(info.annotation) is list else ""),)))
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"`{name}`", _type_name(info.annotation), _default(info), _allowed(info), _description(info, sub),
        )) + " |")
    out.append("\n".join(rows))
    for sub, sub_path in nested:
        out.extend(_section(sub, sub_path))
    return out


def _doc(model: type[BaseModel]) -> str:
    """A model's own docstring (not one inherited from BaseModel), on one line."""
    doc = model.__dict__.get("__doc__") or ""
    return " ".join(doc.split())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a section (or a list of sections) holds, if any."""
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _strip(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the type without `None` and `Annotated`, whether null is allowed, the constraints found inside)."""
    constraints: list[Any] = []
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            constraints.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
        annotation = base
    return annotation, nullable, constraints


def _type_name(annotation: Any) -> str:
    base, nullable, _ = _strip(annotation)
    origin = get_origin(base)
    if isinstance(base, type) and issubclass(base, BaseModel):
        name = "section"
    elif origin is list:
        inner = get_args(base)[0]
        name = "list of sections" if _model_in(base) else f"list of {_type_name(inner)}s"
    elif origin is dict:
        key, value = get_args(base)
        inner = _type_name(value)
        name = f"mapping {_type_name(key)} → " + (f"({inner})" if get_origin(value) is dict else inner)
    elif origin is Literal:
        name = "string"
    else:
        name = {str: "string", bool: "boolean", int: "integer", float: "number", Any: "any"}.get(base, str(base))
    return f"{name} or null" if nullable else name


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return REQUIRED
    if _model_in(info.annotation) and get_origin(info.annotation) is not list:
        return "see below"
    value = info.default_factory() if info.default_factory is not None else info.default
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    """A value as it would be written in YAML flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _allowed(info: FieldInfo) -> str:
    """Literal choices, bounds, lengths and patterns, from the field and from inside its type."""
    base, _, inner = _strip(info.annotation)
    if get_origin(base) is Literal:
        return ", ".join(f"`{_yaml(v)}`" for v in get_args(base))
    lower = upper = None  # (bound, strict)
    shortest = longest = None
    words = []
    for c in [*info.metadata, *inner]:
        if isinstance(c, (at.Gt, at.Ge)):
            lower = (c.gt, True) if isinstance(c, at.Gt) else (c.ge, False)
        elif isinstance(c, (at.Lt, at.Le)):
            upper = (c.lt, True) if isinstance(c, at.Lt) else (c.le, False)
        elif isinstance(c, at.MinLen):
            shortest = c.min_length
        elif isinstance(c, at.MaxLen):
            longest = c.max_length
        elif getattr(c, "pattern", None):
            words.append(f"matches `{c.pattern}`")
    if shortest is not None or longest is not None:
        unit = "items" if get_origin(base) is list else "characters"
        if longest is None:
            length = f"at least {shortest} {unit[:-1] if shortest == 1 else unit}"
        else:
            length = f"{shortest or 0} to {longest} {unit}"
        words.insert(0, length)
    if lower and upper:
        words.insert(0, f"{_yaml(lower[0])} {'<' if lower[1] else '≤'} x {'<' if upper[1] else '≤'} {_yaml(upper[0])}")
    elif lower:
        words.insert(0, f"{'>' if lower[1] else '≥'} {_yaml(lower[0])}")
    elif upper:
        words.insert(0, f"{'<' if upper[1] else '≤'} {_yaml(upper[0])}")
    return "; ".join(words)


def _description(info: FieldInfo, sub: type[BaseModel] | None) -> str:
    """The field's description; for a section without one, the first sentence of its docstring."""
    if info.description:
        return " ".join(info.description.split())
    if sub is None:
        return ""
    first = _doc(sub).split(". ")[0].rstrip(".")
    return f"{first}." if first else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _split(text: str) -> tuple[str, str, str] | None:
    """(what precedes the block, the block, what follows it), or None without both marker lines."""
    head, start, rest = text.partition(START + "\n")
    block, end, tail = rest.partition(END)
    return (head, block, tail) if start and end else None


def readme_block(text: str) -> str | None:
    """What stands between the two marker lines of `text`, or None when they are missing."""
    parts = _split(text)
    return parts[1] if parts else None


def replace_block(text: str, block: str) -> str:
    """`text` with what stands between the marker lines replaced by `block`."""
    parts = _split(text)
    if parts is None:
        raise ValueError(f"no lines {START} and {END} in the file: add them where the reference goes")
    head, _, tail = parts
    return head + START + "\n" + block + END + tail


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m livegate.config.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="FILE", type=Path, help="rewrite the reference between the marker lines of FILE (README.md)")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(reference_markdown())
        return 0
    text = args.write.read_text(encoding="utf-8")
    try:
        updated = replace_block(text, reference_markdown())
    except ValueError as exc:
        print(f"{args.write}: {exc}", file=sys.stderr)
        return 2
    if updated == text:
        print(f"{args.write}: the configuration reference is current")
    else:
        args.write.write_text(updated, encoding="utf-8")
        print(f"{args.write}: configuration reference rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
