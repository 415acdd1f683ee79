"""Load a YAML file strictly and find the line of a key path when something is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from livegate.core.errors import ConfigError
from livegate.core.files import read_input

try:  # the C parser when present; construction stays in Python either way
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _BaseLoader = yaml.SafeLoader


class _StrictLoader(_BaseLoader):
    """safe_load that refuses duplicate keys (a second `max_daily_loss:` silently winning
    is exactly the kind of mistake a risk file must not hide)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(path: Path, name: str) -> str:
    raw = read_input(path, name, ConfigError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 text (byte {exc.start}); expected a YAML file") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ConfigError(f"{name}:{line}: contains a NUL byte; expected a YAML text file")
    return text


def _refuse_aliases(text: str, name: str) -> None:
    """Anchors and aliases (`&name`, `*name`) are refused: a few lines of them expand to gigabytes
    (the "billion laughs"), and livegate's files never need them. One pass over the parser's
    events, before anything is built."""
    if "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ConfigError(f"{name}:{event.start_mark.line + 1}: YAML anchors and aliases (&name, *name) are not allowed "
                              "in livegate's files; write the values out")


def parse_yaml(text: str, name: str) -> Any:
    """Parse one YAML document; syntax errors become `name:line: ...`. Anchors and aliases are refused."""
    try:
        _refuse_aliases(text, name)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # at the end of the file the parser's mark can sit on a line past the last one
        line = min(mark.line + 1, len(text.splitlines()) or 1) if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{name}:{line}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        # The C reader's position counts UTF-8 bytes, not characters: find the character ourselves.
        found = yaml.reader.Reader.NON_PRINTABLE.search(text)
        line = text[: found.start() if found else exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character  # the C reader gives a code point
        raise ConfigError(f"{name}:{line}: YAML cannot contain character {char!r} (U+{ord(char):04X})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}:1: YAML error: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}:1: YAML nesting too deep") from None


def load_mapping(path: Path, name: str, what: str) -> tuple[dict[str, Any], str]:
    """Read `path` as a YAML mapping. Returns (data, text) — text to find lines later."""
    text = read_text(path, name)
    data = parse_yaml(text, name)
    if data is None:
        raise ConfigError(f"{name}:1: the file is empty; expected {what}")
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: expected {what} at the top level, got a {_kind(data)}")
    return data, text


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), type(value).__name__)


def line_of(text: str, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that exists in the document (1 if none)."""
    try:
        node = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return 1
    line = 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
