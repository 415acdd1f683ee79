"""check-config, config schema, config reference."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import EXIT_USAGE, workspace_from
from livegate.cli import display as d
from livegate.config.models import PhaseFile, RiskLimitsFile, WorkspaceConfig
from livegate.config.reference import reference_markdown
from livegate.core.errors import UsageError
from livegate.services.checkconfig import KINDS, REPORTERS, check_paths

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

config_app = typer.Typer(help="Configuration helpers.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command("check-config")
def check_config(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, metavar="FILE", help="Files to check (default: the workspace's livegate.yaml and risk_limits.yaml).", show_default=False),
    fmt: str = typer.Option("text", "--format", "-f", metavar="text|json|github", help="text, json or github (GitHub Actions annotations)."),
    kind: str = typer.Option(None, "--kind", metavar="workspace|risk|phase", help="workspace, risk or phase, when the file name does not say.", show_default=False),
) -> None:
    """Validate config files without network or keys; exit 2 on any problem (use in CI or pre-commit)."""

    if fmt not in REPORTERS:
        raise UsageError(f"--format must be one of {', '.join(REPORTERS)} (got {fmt!r})")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if not paths:
        ws = workspace_from(ctx)
        paths = [ws.config_path, ws.risk_path]
    results = check_paths(list(paths), kind)
    output = REPORTERS[fmt](results)
    if output:
        d.plain(output)
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_USAGE)


@config_app.command("schema")
def config_schema(
    kind: str = typer.Option("all", "--kind", metavar="workspace|risk|phase|all", help="workspace (livegate.yaml), risk (risk_limits.yaml), phase (phases/*.yaml) or all."),
) -> None:
    """Print the JSON Schema of the config files, for editors and CI."""

    models = {"workspace": WorkspaceConfig, "risk": RiskLimitsFile, "phase": PhaseFile}
    if kind == "all":
        d.emit_json({name: model.model_json_schema() for name, model in models.items()})
    elif kind in models:
        d.emit_json(models[kind].model_json_schema())
    else:
        raise UsageError(f"--kind must be one of {', '.join(models)} or all (got {kind!r})")


@config_app.command("reference")
def config_reference() -> None:
    """Print the configuration reference in Markdown: every key of livegate.yaml and risk_limits.yaml with its type, default, allowed values and meaning."""

    d.plain(reference_markdown().rstrip("\n"))
