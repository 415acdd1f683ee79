"""The `alerts:` section of livegate.yaml, read on its own, and `${NAME}` references in its URLs.

Read apart from the rest of livegate.yaml on purpose: an alert about a crash must still go
out when another section of the file is broken."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from livegate.config.environment import load_env
from livegate.config.loader import validate
from livegate.config.models import ENV_REF, AlertDestination, AlertsSection
from livegate.config.workspace import CONFIG_FILE, Workspace
from livegate.config.yamlfile import load_mapping
from livegate.core.errors import ConfigError
from livegate.core.redact import register_secret


class _AlertsOnly(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    alerts: AlertsSection = Field(default_factory=AlertsSection)


@dataclass(frozen=True)
class AlertSettings:
    """The alert section plus what every alert names: the workspace, and each destination's label."""

    section: AlertsSection
    workspace: str

    @property
    def destinations(self) -> list[tuple[str, AlertDestination]]:
        """(label, destination) pairs; labels made unique (`json://host #2`) so results can be told apart."""
        out: list[tuple[str, AlertDestination]] = []
        seen: set[str] = set()
        for dest in self.section.destinations:
            label, n = dest.label, 1
            while label in seen:
                n += 1
                label = f"{dest.label} #{n}"
            seen.add(label)
            out.append((label, dest))
        return out


def load_alerts(ws: Workspace) -> AlertSettings:
    """The workspace's alert settings. Raises ConfigError (file, line, key; a URL shows as <URL not shown>)."""

    data, text = load_mapping(ws.config_path, CONFIG_FILE, "a mapping (workspace, exchange, ...)")
    section = validate(_AlertsOnly, data, text, CONFIG_FILE).alerts
    section_ws = data.get("workspace")
    name = section_ws.get("name") if isinstance(section_ws, dict) else None
    return AlertSettings(section, name if isinstance(name, str) and name.strip() else ws.root.resolve().name)


def expand(url: str, lookup) -> str:
    """`url` with every `${NAME}` replaced by `lookup(NAME)`, percent-encoded (RFC 3986: all but
    letters, digits and `-._~`), so that no `@ / : ? # %` in a password or token can change where
    the alert goes: it stays one user, password, host, path segment or query value. A reference
    that begins the URL (`${ALERT_URL}`) is URL itself and goes in as written. Each value is
    registered as a secret. Raises ConfigError naming the unset variables (never the URL)."""
    missing: list[str] = []

    def value(match: re.Match) -> str:
        found = lookup(match[1])
        if found is None:
            missing.append(match[1])
            return ""
        register_secret(found)
        return found if match.start() == 0 else quote(found, safe="")

    expanded = ENV_REF.sub(value, url)
    if missing:
        raise ConfigError(f"{', '.join(dict.fromkeys(missing))} not set; set it in .env or the environment")
    return expanded


def env_lookup(ws: Workspace):
    """NAME -> value from the workspace's `.env`, overridden by the process environment."""

    env = load_env(ws.root)
    return lambda name: os.environ.get(name) or env.get(name)
