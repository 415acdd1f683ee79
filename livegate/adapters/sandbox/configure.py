"""Point a workspace at a running local sandbox (`livegate sandbox serve --write-config`):
`livegate.yaml` gets the exchange's base URL (not a testnet: the sandbox serves the live API's
shape, permissions endpoint included) and the chain's RPC URL, id, router and tokens; `.env` gets the sandbox's
trader key, the chain's trader test key and allowlists that match. Only those values change:
comments, order and every other line stay. Both files are checked before either is replaced."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from livegate.config.loader import load_phase_specs, load_workspace_config
from livegate.config.workspace import CONFIG_FILE, Workspace


def config_updates(info: dict[str, Any]) -> dict[tuple[str, str], Any]:
    updates: dict[tuple[str, str], Any] = {("exchange", "id"): info["exchange_id"], ("exchange", "testnet"): False,
                                           ("exchange", "base_url"): info["exchange_url"]}
    if info.get("rpc_url"):
        updates.update({("chain", "enabled"): True, ("chain", "name"): "anvil", ("chain", "chain_id"): info["chain_id"],
                        ("chain", "rpc_url"): info["rpc_url"], ("chain", "router"): info["router"],
                        ("chain", "tokens"): {**info["tokens"], "WETH": info["weth"]}})
    return updates


def env_updates(info: dict[str, Any]) -> dict[str, str]:
    updates = {"EXCHANGE_API_KEY": info["api_key"], "EXCHANGE_API_SECRET": info["secret"], "ALLOW_EXCHANGES": info["exchange_id"]}
    if info.get("rpc_url"):
        updates.update(SIGNER_PRIVATE_KEY=info["signer_test_key"], ALLOW_SIGNER_ADDRESSES=info["signer_address"],
                       ALLOW_CHAINS="anvil", ALLOW_TOKENS=",".join([*info["tokens"].values(), info["weth"]]),
                       ALLOW_ROUTERS=info["router"])
    return updates


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value)  # a YAML flow mapping
    return json.dumps(str(value))  # a double-quoted YAML string


def set_yaml_scalars(text: str, updates: dict[tuple[str, str], Any]) -> str:
    """`text` with `section.key` set to each value: the line replaced in place (its comment
    kept), or added under the section, or the section added at the end."""
    lines = text.splitlines()
    for (section, key), value in updates.items():
        rendered = _render(value)
        header = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(section)}:\s*(#.*)?$", line)), None)
        if header is None:
            lines += [f"{section}:", f"  {key}: {rendered}"]
            continue
        end = header + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t", "#"))):
            end += 1
        pattern = re.compile(rf"^(\s+){re.escape(key)}:(\s*)([^#]*?)(\s+#.*)?$")
        for i in range(header + 1, end):
            match = pattern.match(lines[i])
            if match:
                lines[i] = f"{match.group(1)}{key}: {rendered}{match.group(4) or ''}"
                break
        else:
            lines.insert(header + 1, f"  {key}: {rendered}")
    return "\n".join(lines) + "\n"


def set_env_values(text: str, updates: dict[str, str]) -> str:
    """`.env` text with each NAME=value line replaced, or appended when absent."""
    lines = text.splitlines()
    for name, value in updates.items():
        pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=")
        for i, line in enumerate(lines):
            if pattern.match(line):
                lines[i] = f"{name}={value}"
                break
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def write_workspace(ws: Workspace, info: dict[str, Any]) -> list[Path]:
    """Update livegate.yaml and .env for the sandbox in `info`; returns the files written.
    Raises ConfigError (nothing written) when the result would not validate."""

    ws.require()
    config_text = set_yaml_scalars(ws.config_path.read_text(encoding="utf-8"), config_updates(info))
    source = ws.env_path if ws.env_path.is_file() else ws.root / ".env.example"
    env_text = set_env_values(source.read_text(encoding="utf-8") if source.is_file() else "", env_updates(info))
    staged = []
    try:
        for target, text in ((ws.config_path, config_text), (ws.env_path, env_text)):
            fd, tmp = tempfile.mkstemp(dir=ws.root, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            staged.append((Path(tmp), target))
        load_workspace_config(staged[0][0], CONFIG_FILE, load_phase_specs())
        if ws.env_path.exists():
            os.chmod(staged[1][0], ws.env_path.stat().st_mode & 0o777)
        else:
            os.chmod(staged[1][0], 0o600)
        for tmp, target in staged:
            os.replace(tmp, target)
        staged = []
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [ws.config_path, ws.env_path]
