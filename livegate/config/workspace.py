"""A workspace on disk: where its files are, its effective configuration, and `init`."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livegate import __version__
from livegate.config.resources import configs_dir, default_risk_limits, phases_dir
from livegate.config.strategy import strategy_code, strategy_stat_key
from livegate.core.canonical import fingerprint
from livegate.core.errors import ConfigError, UsageError
from livegate.core.steps import Step, ladder
from livegate.ledger.store import Ledger

CONFIG_FILE = "livegate.yaml"
RISK_FILE = "risk_limits.yaml"
ENV_FILE = ".env"
STATE_DIR = ".livegate"
LEDGER_FILE = "ledger.db"
HALT_FILE = "HALTED"  # the kill switch's halt file: while it exists, no new order (see services/modes.py)
STRATEGIES_DIR = "strategies"
RUNBOOKS_DIR = "runbooks"
RUNBOOKS = ("emergency-shutdown.md", "cancel-all.md", "rollback-to-paper.md", "credential-rotation.md", "incident-response.md")
GITIGNORE_LINES = (".env", ".livegate/")


@dataclass(frozen=True)
class Effective:
    """The configuration a phase runs and a sign-off is made under (no secrets)."""

    config: Any  # WorkspaceConfig
    risk: Any  # RiskLimitsFile
    specs: tuple  # effective PhaseSpecs (profile and overrides applied)
    looser: tuple  # Looser thresholds
    snapshot: dict[str, Any]
    fingerprint: str
    strategy_key: str | None = None  # stat data of the strategy's files when they were read (for the status cache)

    @property
    def steps(self) -> tuple:
        return ladder(self.specs)

    @property
    def profile(self) -> str:
        return self.config.profile

    @property
    def looser_lines(self) -> list[str]:
        return [item.describe() for item in self.looser]


@dataclass(frozen=True)
class CachedEffective:
    """What `status` needs of the effective config, read from a cache keyed by the exact
    bytes of every input file — so `status` starts without YAML or pydantic. Phase
    commands and sign-offs never use it: they always load and validate afresh."""

    snapshot: dict[str, Any]
    fingerprint: str
    steps: tuple
    profile: str
    looser_lines: list[str]


CACHE_FILE = "effective-cache.json"
STRATEGY_CODE = "strategy code"  # snapshot section: shown path of each strategy file -> its SHA-256 (12 hex digits)


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def risk_path(self) -> Path:
        return self.root / RISK_FILE

    @property
    def env_path(self) -> Path:
        return self.root / ENV_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def strategies_dir(self) -> Path:
        return self.root / STRATEGIES_DIR

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / LEDGER_FILE

    @property
    def halt_file_path(self) -> Path:
        """`.livegate/HALTED`: `livegate halt` creates it, `livegate resume` removes it; while
        it exists no new order is placed, whatever the ledger says."""
        return self.state_dir / HALT_FILE

    def require(self) -> Workspace:
        """Fail with a usage error unless this is an initialised workspace."""
        if not self.config_path.is_file():
            raise UsageError(f"{self.root} is not a livegate workspace (no {CONFIG_FILE}); run `livegate init {self.root}`")
        if not self.ledger_path.is_file():
            raise UsageError(f"{self.root} has no ledger ({STATE_DIR}/{LEDGER_FILE}); run `livegate init --force {self.root}`")
        return self

    @property
    def effective(self) -> Effective:
        """Load, validate and fingerprint the workspace config afresh (never cached: a phase
        must see the files as they are now). Raises ConfigError with every problem."""
        # YAML and pydantic load here, not at import: `status` reads the cache without them
        from livegate.config.loader import load_phase_specs, load_risk_limits, load_workspace_config
        from livegate.core.protocol import apply_thresholds, thresholds_snapshot

        specs = load_phase_specs()
        problems: list[str] = []
        config = risk = None
        try:
            config = load_workspace_config(self.config_path, CONFIG_FILE, specs)
        except ConfigError as exc:
            problems += exc.problems
        try:
            risk = load_risk_limits(self.risk_path, RISK_FILE)
        except ConfigError as exc:
            problems += exc.problems
        if problems:
            raise ConfigError(problems)
        effective_specs, looser = [], []
        for spec in specs:
            eff, loose = apply_thresholds(spec, config.profile, config.thresholds.get(spec.id, {}))
            effective_specs.append(eff)
            looser += loose

        config_dump = config.model_dump(mode="json", exclude={"thresholds"})
        # The strategy's code: every file that can run (see config/strategy.py), by path and bytes.
        code = strategy_code(config.strategy.ref, self.root)
        snapshot = {
            CONFIG_FILE: config_dump,
            "strategy_sha256": code.sha256 if code else None,
            STRATEGY_CODE: code.files if code else None,
            RISK_FILE: risk.model_dump(mode="json"),
            "thresholds": thresholds_snapshot(tuple(effective_specs)),
        }
        return Effective(config, risk, tuple(effective_specs), tuple(looser), snapshot, fingerprint(snapshot),
                         code.stat_key if code else None)


    def _inputs_digest(self) -> str | None:
        import hashlib

        digest = hashlib.sha256(__version__.encode() + b"\0cache 2\0")
        try:  # the strategy's files are compared separately, by stat data (see effective_for_display)
            for path in [self.config_path, self.risk_path, *sorted(phases_dir().glob("*.yaml"))]:
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            return None
        return digest.hexdigest()

    def effective_for_display(self):
        """The effective config through the cache (for `status`); falls back to a full load.
        The cache holds while the config files have the same bytes and every file of the
        strategy's code the same stat data (path, inode, size, mtime, ctime): no file of the
        strategy is read and nothing of it imported on a hit."""
        import json

        inputs = self._inputs_digest()
        cache_path = self.state_dir / CACHE_FILE
        if inputs is not None:
            try:
                cached = json.loads(cache_path.read_text(encoding="utf-8"))
                if cached.get("inputs") == inputs and cached["strategy_key"] == strategy_stat_key(cached["strategy_ref"], self.root):
                    return CachedEffective(cached["snapshot"], cached["fingerprint"],
                                           tuple(Step(*s) for s in cached["steps"]), cached["profile"], cached["looser"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError, ConfigError):
                pass  # no cache, an old one or a strategy tree that changed: load afresh (which reports any problem)
        eff = self.effective
        if inputs is not None:
            data = {"inputs": inputs, "strategy_ref": eff.config.strategy.ref, "strategy_key": eff.strategy_key,
                    "snapshot": eff.snapshot, "fingerprint": eff.fingerprint, "profile": eff.profile,
                    "looser": eff.looser_lines, "steps": [[s.id, s.phase, s.title, s.command] for s in eff.steps]}
            try:
                tmp = cache_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data), encoding="utf-8")
                tmp.replace(cache_path)
            except OSError:
                pass  # a read-only workspace just loses the cache
        return eff


def resolve_workspace(path: str | os.PathLike | None) -> Workspace:
    return Workspace(Path(path or os.environ.get("LIVEGATE_WORKSPACE") or ".").expanduser())


def scaffold(root: Path, force: bool = False, bot: str = "builtin") -> list[Path]:
    """Create a workspace at `root`. Refuses to overwrite any existing file unless `force`.
    `bot`: builtin (livegate's strategy trades) or external (the trader's bot, through the gateway).

    Writes the config files first into memory-checked targets, then the ledger; on any
    failure nothing that this call created is left behind."""

    ws = Workspace(root)
    sources = {
        ws.config_path: configs_dir() / "livegate.yaml",
        ws.risk_path: default_risk_limits(),
        root / ".env.example": configs_dir() / ".env.example",
    }
    examples = {ws.strategies_dir / src.name: src for src in sorted((configs_dir() / STRATEGIES_DIR).glob("*.py"))}
    examples.update({root / RUNBOOKS_DIR / name: configs_dir() / RUNBOOKS_DIR / name for name in RUNBOOKS})
    targets = list(sources) + [root / ".gitignore", ws.ledger_path]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        names = ", ".join(str(p.relative_to(root)) for p in existing)
        raise UsageError(f"{root} already has {names}; use --force to overwrite the config files (the ledger is never overwritten)")
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a directory")
    created_root = not root.exists()
    written: list[Path] = []
    try:
        ws.state_dir.mkdir(parents=True, exist_ok=True)
        ws.strategies_dir.mkdir(exist_ok=True)
        (root / RUNBOOKS_DIR).mkdir(exist_ok=True)
        for target, source in examples.items():  # never overwrites the operator's strategies and runbooks
            if not target.exists():
                shutil.copyfile(source, target)
                written.append(target)
        for target, source in sources.items():
            shutil.copyfile(source, target)
            written.append(target)
        if bot != "builtin":
            text = ws.config_path.read_text(encoding="utf-8")
            ws.config_path.write_text(text.replace("\nbot: builtin\n", f"\nbot: {bot}\n", 1), encoding="utf-8")
        written.append(_write_gitignore(root / ".gitignore"))
        if not ws.ledger_path.exists():
            Ledger.create(ws.ledger_path)
            written.append(ws.ledger_path)
    except BaseException:
        if created_root:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return written


def _write_gitignore(path: Path) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    missing = [entry for entry in GITIGNORE_LINES if entry not in {line.strip() for line in lines}]
    if missing or not path.exists():
        header = ["# livegate: secrets and local state never go to git"] if missing else []
        path.write_text("\n".join(lines + header + missing) + "\n", encoding="utf-8")
    return path
