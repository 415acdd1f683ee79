"""Load and validate config files; every problem becomes `file:line key.path: message`."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from livegate.config.models import PhaseFile, RiskLimitsFile, WorkspaceConfig
from livegate.config.resources import phases_dir
from livegate.config.yamlfile import line_of, load_mapping
from livegate.core.errors import ConfigError
from livegate.core.protocol import PHASE_ORDER, Criterion, PhaseSpec, beyond_floor, threshold_targets

M = TypeVar("M", bound=BaseModel)

_TYPE_WORDS = {
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "missing": "required key is missing",
    "finite_number": "must be a finite number",
}


def _describe(err: dict[str, Any], allowed: list[str]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = err.get("input")
    suffix = "" if kind in ("missing", "extra_forbidden") else f" (got {_show(got)})"
    if kind == "greater_than":
        return f"must be > {_num(ctx['gt'])}{suffix}"
    if kind == "greater_than_equal":
        return f"must be >= {_num(ctx['ge'])}{suffix}"
    if kind == "less_than":
        return f"must be < {_num(ctx['lt'])}{suffix}"
    if kind == "less_than_equal":
        return f"must be <= {_num(ctx['le'])}{suffix}"
    if kind == "extra_forbidden":
        return "unknown key; allowed here: " + (", ".join(allowed) if allowed else "nothing")
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{suffix}"
    if kind == "string_pattern_mismatch":
        return f"does not match the expected form {ctx.get('pattern')}{suffix}"
    if kind in ("too_short", "too_long"):
        return f"{err['msg'].lower()}{suffix}"
    if kind in ("value_error", "assertion_error"):
        return f"{str(err['msg']).removeprefix('Value error, ')}{suffix}"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind] + suffix
    return f"{err['msg']}{suffix}"


def _num(bound: Any) -> str:
    """A bound as written in the model: `> 0`, not `> 0.0` (a float field's bounds are floats)."""
    return f"{bound:g}" if isinstance(bound, float) and bound.is_integer() else str(bound)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at `loc`'s parent, for 'allowed here' hints."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part) if isinstance(part, str) else None
        if field is None:
            return []
        annotation = field.annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _data_loc(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """`loc` without the parts that are not keys of the document: pydantic puts the member
    of a union in the path (`threshold.bool`, `threshold.float`). A missing key stays."""
    node, out = data, []
    for i, part in enumerate(loc):
        if isinstance(node, dict):  # pydantic spells a non-string key as its str() or repr()
            keys = [k for k in node if k == part or str(k) == str(part) or repr(k) == part]
            if keys:
                node = node[keys[0]]
                out.append(part)
                continue
        elif isinstance(node, list) and type(part) is int and 0 <= part < len(node):
            node = node[part]
            out.append(part)
            continue
        if kind == "missing" and i == len(loc) - 1 and isinstance(node, dict):
            out.append(part)
    return tuple(out)


def _either(messages: list[str]) -> str:
    """["must be a number", "must be a list"] -> "must be a number or a list"."""
    if len(messages) > 1 and all(m.startswith("must be ") for m in messages):
        rest = [m.removeprefix("must be ") for m in messages]
        return "must be " + ", ".join(rest[:-1]) + " or " + rest[-1]
    return " or ".join(messages)


def problem(name: str, text: str, loc: tuple[Any, ...], message: str) -> str:
    return f"{name}:{line_of(text, loc)} {_loc_text(loc)}: {message}"


def validate(model: type[M], data: dict[str, Any], text: str, name: str) -> M:
    """Validate `data` against `model`; raise ConfigError with one line per problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found: dict[tuple[Any, ...], tuple[list[str], str]] = {}  # key path -> (messages, "(got ...)")
        for err in exc.errors(include_url=False):
            loc = _data_loc(data, tuple(err["loc"]), err["type"])
            message = _describe(err, _allowed_keys(model, loc))
            suffix = f" (got {_show(err.get('input'))})"
            message, got = (message.removesuffix(suffix), suffix) if message.endswith(suffix) else (message, "")
            messages, _ = found.setdefault(loc, ([], got))
            if message not in messages:  # each member of a failed union adds its alternative
                messages.append(message)
        lines = [problem(name, text, loc, _either(msgs) + got) for loc, (msgs, got) in found.items()]
        raise ConfigError(lines) from None


def load_risk_limits(path: Path, name: str) -> RiskLimitsFile:
    data, text = load_mapping(path, name, "a mapping with `live_trading:`")
    limits = validate(RiskLimitsFile, data, text, name)
    broken = limits.cross_checks()
    if broken:
        raise ConfigError([problem(name, text, loc, msg) for loc, msg in broken])
    return limits


def load_phase_file(path: Path, name: str) -> PhaseSpec:
    data, text = load_mapping(path, name, "a phase definition (id, criteria, ...)")
    phase = validate(PhaseFile, data, text, name)
    try:
        spec = phase.to_core()
    except ValueError as exc:
        raise ConfigError(f"{name}:1 criteria: {exc}") from None
    if path.stem != spec.id:
        raise ConfigError(f"{name}:{line_of(text, ('id',))} id: must match the file name ({path.stem!r}) (got {spec.id!r})")
    phase_criteria = threshold_targets(spec)[spec.id]
    beyond = [problem(name, text, ("profiles", profile, cid), why)
              for profile, values in spec.profiles.items() for cid, value in values.items()
              if cid in phase_criteria and (why := _threshold_problem(phase_criteria[cid], value)) is not None]
    if beyond:
        raise ConfigError(beyond)
    return spec


@cache
def _phase_specs_cached(directory: str) -> tuple[PhaseSpec, ...]:
    """One `<id>.yaml` per phase of the registry (`PHASE_ORDER`), in its order; a file the
    registry does not know, a missing one, or a `number:` out of step is an error."""
    root = Path(directory)
    found = {path.stem for path in root.glob("*.yaml")}
    unknown = sorted(found - set(PHASE_ORDER))
    missing = [pid for pid in PHASE_ORDER if pid not in found]
    if unknown or missing:
        raise ConfigError(f"{directory}: the phase files must be exactly {', '.join(f'{p}.yaml' for p in PHASE_ORDER)}"
                          + (f"; unknown: {', '.join(f'{p}.yaml' for p in unknown)}" if unknown else "")
                          + (f"; missing: {', '.join(f'{p}.yaml' for p in missing)}" if missing else ""))
    specs = []
    for number, pid in enumerate(PHASE_ORDER, start=1):
        name = f"phases/{pid}.yaml"
        spec = load_phase_file(root / f"{pid}.yaml", name)
        if spec.number != number:
            raise ConfigError(f"{name}: number: must be {number}, its place in the protocol (got {spec.number})")
        specs.append(spec)
    return tuple(specs)


def load_phase_specs(directory: Path | None = None) -> tuple[PhaseSpec, ...]:
    """The protocol's phases, in order, from `phases/*.yaml` (shipped with livegate)."""

    return _phase_specs_cached(str(directory or phases_dir()))


def _finite(value: float) -> bool:
    """A number a threshold can be: finite as a float (an integer too large for one is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _threshold_problem(crit: Criterion, value: Any) -> str | None:
    """Why `value` cannot replace the default threshold of `crit`: the wrong kind, not finite,
    or looser than the criterion's floor (phases/*.yaml); None when it can."""
    default = crit.threshold
    if crit.op == "==":
        if type(value) is not type(default):
            return f"must be {'true or false' if isinstance(default, bool) else type(default).__name__} like the default {default!r} (got {_show(value)})"
        if value != default:
            return f"a true/false check cannot be loosened: must stay {_yaml_word(default)} (got {_yaml_word(value)})"
        return None
    if crit.op == "between":
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) for v in value)
            and value[0] <= value[1]
        )
        if not ok:
            return f"must be a range [low, high] with low <= high (got {_show(value)})"
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number (got {_show(value)})"
    elif not _finite(value):
        return f"must be a finite number (got {_show(value)})"
    if beyond_floor(crit, value):
        return _floor_message(crit, value)
    return None


def _floor_message(crit: Criterion, value: Any) -> str:
    floor = crit.threshold if crit.floor is None else crit.floor
    default = _bound(crit.threshold) if crit.op == "between" else f"{crit.op} {_bound(crit.threshold)}"
    if crit.op == "between":
        allowed = f"must lie within {_bound(floor)}, the widest range allowed"
    elif crit.op in (">", ">="):
        allowed = f"must be at least {_bound(floor)}, the loosest allowed"
    else:
        allowed = f"must be at most {_bound(floor)}, the loosest allowed"
    return f"{allowed} (the default is {default}) (got {_show(value)})"


def _bound(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_bound(v) for v in value) + "]"
    return _num(value) if isinstance(value, float) else str(value)


def _yaml_word(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else _show(value)


def check_threshold_overrides(
    config: WorkspaceConfig, specs: tuple[PhaseSpec, ...], text: str, name: str
) -> None:
    """Every override names a known phase, stage and criterion, with a value of the right type."""
    by_id = {s.id: s for s in specs}
    lines: list[str] = []
    for phase_id, values in config.thresholds.items():
        base = ("thresholds", phase_id)
        spec = by_id.get(phase_id)
        if spec is None:
            lines.append(problem(name, text, base, f"unknown phase; allowed: {', '.join(by_id)}"))
            continue
        targets = threshold_targets(spec)
        for key, value in values.items():
            if key in targets and key != phase_id and isinstance(value, dict):
                for cid, cval in value.items():
                    crit = targets[key].get(cid)
                    loc = base + (key, cid)
                    if crit is None:
                        lines.append(problem(name, text, loc, f"unknown criterion of stage {key}; allowed: {', '.join(targets[key])}"))
                    elif (why := _threshold_problem(crit, cval)) is not None:
                        lines.append(problem(name, text, loc, why))
                continue
            crit = targets[phase_id].get(key)
            if crit is None:
                allowed = list(targets[phase_id]) + [s for s in targets if s != phase_id]
                lines.append(problem(name, text, base + (key,), f"unknown criterion of {phase_id}; allowed: {', '.join(allowed)}"))
            elif (why := _threshold_problem(crit, value)) is not None:
                lines.append(problem(name, text, base + (key,), why))
    if lines:
        raise ConfigError(lines)


def load_workspace_config(path: Path, name: str, specs: tuple[PhaseSpec, ...] | None = None) -> WorkspaceConfig:
    data, text = load_mapping(path, name, "a mapping (workspace, exchange, ...)")
    config = validate(WorkspaceConfig, data, text, name)
    check_threshold_overrides(config, specs if specs is not None else load_phase_specs(), text, name)
    return config
