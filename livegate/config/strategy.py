"""Finding, fingerprinting and loading the workspace's strategy: `load_strategy` builds it from
`strategy.ref` (`module:Class` or `path/to/file.py:Class`) and `strategy.params`. What a
strategy author imports is the public `livegate.strategy`.

The fingerprint (`strategy_code`) covers the code that can run, found without importing it:
for a file ref every `.py` file of the file's folder and its subfolders, for a module ref every
file of its top-level package. Only `load_strategy` imports the trader's code."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livegate.core.errors import ConfigError

__all__ = ["StrategyCode", "load_strategy", "strategy_code", "strategy_source", "strategy_stat_key"]

WHERE = "livegate.yaml strategy.ref"
# Bounds of the walk, so that a hostile or mistaken tree (a strategy file next to a virtualenv,
# a symlink to /) cannot hang `status`: beyond them the fingerprint is refused (exit 2).
MAX_FILES = 2000  # files fingerprinted
MAX_ENTRIES = 20_000  # directory entries looked at, files and folders, counted or not
MAX_BYTES = 32 * 1024 * 1024  # bytes read
# what Python imports from a folder on its own: source, bytecode without source, extension modules
PYTHON_CODE = (".py", ".pyc", ".pyw", ".so", ".pyd")
SKIPPED_DIRS = ("__pycache__", "node_modules")  # bytecode caches, JavaScript packages; also hidden folders and virtualenvs


@dataclass(frozen=True)
class StrategyCode:
    """The fingerprint of a strategy's code: `sha256` over every file (path and bytes), `files`
    (shown path -> first 12 hex digits of its SHA-256, to say which file changed) and
    `stat_key`, a digest of the files' stat data for the `status` cache (no file read)."""

    sha256: str
    files: dict[str, str]
    stat_key: str


@dataclass(frozen=True)
class _Tree:
    """Where a strategy's code lives: folders walked (with the prefix their files are shown
    under) or single files, and whether only `.py` files count."""

    roots: tuple[tuple[Path, str], ...]
    python_only: bool
    single_file: bool = False


def strategy_source(ref: str, root: Path) -> Path | None:
    """The file a file ref (`path/to/file.py:Class`) points at, or None if not found or not a file ref."""
    target = ref.rsplit(":", 1)[0]
    if not target.endswith(".py"):
        return None
    path = Path(target).expanduser()
    path = path if path.is_absolute() else root / path
    return path if path.is_file() else None


def _tree(ref: str, root: Path, where: str) -> _Tree | None:
    """The code a ref can run, located without importing anything; None if not found."""
    target = ref.rsplit(":", 1)[0]
    if target.endswith(".py"):
        path = strategy_source(ref, root)
        if path is None:
            return None
        return _Tree(((path.parent, Path(target).parent.as_posix()),), python_only=True)
    top = target.split(".", 1)[0]
    if not top.isidentifier():
        return None
    try:  # the top-level name only: find_spec of a dotted name imports its parent packages
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:  # a package (a namespace package may have several folders)
        folders = [Path(p) for p in spec.submodule_search_locations]
        if not folders or not all(f.is_dir() for f in folders):
            raise ConfigError(f"{where}: cannot fingerprint package {top}: its code is not in a folder livegate can read ({', '.join(map(str, folders)) or spec.origin})")
        labels = [top] if len(folders) == 1 else [f"{top}[{f}]" for f in folders]
        return _Tree(tuple(zip(folders, labels, strict=True)), python_only=False)
    if spec.origin in ("built-in", "frozen"):
        return None  # part of Python itself, not the trader's code
    if spec.origin and Path(spec.origin).is_file():
        return _Tree(((Path(spec.origin), Path(spec.origin).name),), python_only=False, single_file=True)
    raise ConfigError(f"{where}: cannot fingerprint module {top}: its code is not in a file livegate can read ({spec.origin})")


def _shown(text: str) -> str:
    """A path as text that always encodes (an undecodable file name is shown escaped)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _too_big(where: str, folder: Path, what: str) -> ConfigError:
    return ConfigError(f"{where}: the strategy's folder {folder} {what}; livegate fingerprints all the code next to the "
                       f"strategy (limits: {MAX_FILES} files, {MAX_ENTRIES} entries, {MAX_BYTES // (1024 * 1024)} MB) — "
                       "put the strategy and its helpers in a folder of their own")


def _walk(tree: _Tree, where: str) -> list[tuple[str, Path, os.stat_result]]:
    """(shown path, path, stat) of every file the fingerprint covers, sorted by shown path.
    Skips the folders `__pycache__`, `node_modules`, hidden ones and virtualenvs (with a
    `pyvenv.cfg`), and hidden files other than `.py`; follows symlinks, each folder once;
    refuses a tree beyond the bounds."""
    if tree.single_file:  # a top-level module: it and the modules beside it (what `import helper` finds there)
        (path, label), = tree.roots
        try:
            beside = [(_shown(item.name), Path(item.path), item.stat()) for item in os.scandir(path.parent)
                      if item.name.endswith(PYTHON_CODE) and not item.name.startswith(".") and item.is_file()]
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {path.parent}: {exc.strerror}") from None
        if len(beside) > MAX_FILES:
            raise _too_big(where, path.parent, f"holds more than {MAX_FILES} modules")
        return sorted(beside, key=lambda item: item[0])
    found: list[tuple[str, Path, os.stat_result]] = []
    entries = 0
    seen: set[tuple[int, int]] = set()
    for top, label in tree.roots:
        stack = [(top, "" if label in ("", ".") else label + "/")]
        while stack:
            folder, prefix = stack.pop()
            try:
                info = folder.stat()
                if (info.st_dev, info.st_ino) in seen:
                    continue  # a symlink loop, or a folder reached twice
                seen.add((info.st_dev, info.st_ino))
                with os.scandir(folder) as items:
                    for item in items:
                        entries += 1
                        if entries > MAX_ENTRIES:
                            raise _too_big(where, top, f"holds more than {MAX_ENTRIES} entries")
                        name = item.name
                        if item.is_dir():
                            if not (name.startswith(".") or name in SKIPPED_DIRS or os.path.exists(os.path.join(item.path, "pyvenv.cfg"))):
                                stack.append((Path(item.path), prefix + name + "/"))
                        elif item.is_file() and (name.endswith(PYTHON_CODE) or not (tree.python_only or name.startswith("."))):
                            found.append((_shown(prefix + name), Path(item.path), item.stat()))
                            if len(found) > MAX_FILES:
                                raise _too_big(where, top, f"holds more than {MAX_FILES} files")
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read the strategy's folder {folder}: {exc.strerror}") from None
    return sorted(found, key=lambda item: item[0])


def _stat_line(shown: str, st: os.stat_result) -> bytes:
    return f"{shown}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}\n".encode()


def _hash_file(path: Path, budget: int, where: str) -> tuple[str, os.stat_result, int]:
    """(SHA-256, stat of the file as opened, bytes read); at most `budget` bytes."""
    digest = hashlib.sha256()
    read = 0
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{where}: {path} is not a regular file")
            while chunk := handle.read(min(1 << 20, budget - read + 1)):
                read += len(chunk)
                if read > budget:
                    break
                digest.update(chunk)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest(), st, read


def strategy_code(ref: str, root: Path, where: str = WHERE) -> StrategyCode | None:
    """Fingerprint the code `ref` can run (None if it is not found), without importing it:
    relative path and bytes of every file, in path order; mtimes play no part."""
    tree = _tree(ref, root, where)
    if tree is None:
        return None
    digest = hashlib.sha256(b"livegate strategy code 1\0")
    keys = hashlib.sha256(repr([(str(p), label) for p, label in tree.roots]).encode("utf-8", "surrogateescape"))
    files: dict[str, str] = {}
    total = 0
    for shown, path, _ in _walk(tree, where):
        file_sha, st, read = _hash_file(path, MAX_BYTES - total, where)
        total += read
        if total > MAX_BYTES:
            raise _too_big(where, tree.roots[0][0], f"holds more than {MAX_BYTES // (1024 * 1024)} MB of code")
        digest.update(shown.encode("utf-8") + b"\0" + bytes.fromhex(file_sha))
        keys.update(_stat_line(shown, st))
        files[shown] = file_sha[:12]
    return StrategyCode(digest.hexdigest(), files, keys.hexdigest())


def strategy_stat_key(ref: str, root: Path, where: str = WHERE) -> str | None:
    """`StrategyCode.stat_key` of the tree as it is now, from stat data alone (no file is
    read, nothing imported): what the `status` cache compares."""
    tree = _tree(ref, root, where)
    if tree is None:
        return None
    keys = hashlib.sha256(repr([(str(p), label) for p, label in tree.roots]).encode("utf-8", "surrogateescape"))
    for shown, _, st in _walk(tree, where):
        keys.update(_stat_line(shown, st))
    return keys.hexdigest()


def _compile_from_source() -> None:
    """From here on, this process compiles Python from the source files (the bytes the strategy
    fingerprint covers) and never reads or writes a `__pycache__` next to them: a .pyc dropped
    there — one marked to be trusted unchecked — would run code the fingerprint never saw."""
    import tempfile  # here: `status` reads the strategy's stat data only

    private = os.path.join(tempfile.gettempdir(), _PRIVATE_PREFIX)
    if getattr(sys, "pycache_prefix", None) is None or not str(sys.pycache_prefix).startswith(private):
        sys.pycache_prefix = tempfile.mkdtemp(prefix=_PRIVATE_PREFIX)
    sys.dont_write_bytecode = True


_PRIVATE_PREFIX = "livegate-pycache-"  # the private byte-code folder's name, in the temporary folder


def load_strategy(ref: str, params: dict[str, Any], root: Path, where: str = "livegate.yaml strategy.ref") -> Any:
    """Import and instantiate the strategy. Every failure is a ConfigError naming the ref."""
    target, _, cls_name = ref.rpartition(":")
    if not target or not cls_name:
        raise ConfigError(f"{where}: {ref!r} must be `module:Class` or `path/to/file.py:Class`")
    _compile_from_source()
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
