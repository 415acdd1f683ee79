"""Finding, fingerprinting and loading the workspace's strategy: `load_strategy` builds it from
`strategy.ref` (`module:Class` or `path/to/file.py:Class`) and `strategy.params`. What a
strategy author imports is the public `livegate.strategy`."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from livegate.core.errors import ConfigError

__all__ = ["load_strategy", "strategy_digest", "strategy_source"]


def strategy_source(ref: str, root: Path) -> Path | None:
    """The file a strategy ref points at (without importing it), or None if not found."""
    target = ref.rsplit(":", 1)[0]
    if target.endswith(".py"):
        path = Path(target).expanduser()
        path = path if path.is_absolute() else root / path
        return path if path.is_file() else None
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def strategy_digest(ref: str, root: Path) -> str | None:
    path = strategy_source(ref, root)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else None


def load_strategy(ref: str, params: dict[str, Any], root: Path, where: str = "livegate.yaml strategy.ref") -> Any:
    """Import and instantiate the strategy. Every failure is a ConfigError naming the ref."""
    target, _, cls_name = ref.rpartition(":")
    if not target or not cls_name:
        raise ConfigError(f"{where}: {ref!r} must be `module:Class` or `path/to/file.py:Class`")
    try:
        if target.endswith(".py"):
            path = strategy_source(ref, root)
            if path is None:
                raise ConfigError(f"{where}: strategy file {target} not found (relative paths are from the workspace {root})")
            name = "livegate_strategy_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        raise ConfigError(f"{where}: cannot import {target}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise ConfigError(f"{where}: {target} has no class {cls_name}")
    try:
        strategy = cls(**params)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"livegate.yaml strategy.params: {cls_name}({', '.join(f'{k}={v!r}' for k, v in params.items())}) failed: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(strategy, "on_bar", None)):
        raise ConfigError(f"{where}: {cls_name} has no on_bar(bar, ctx) method")
    return strategy
