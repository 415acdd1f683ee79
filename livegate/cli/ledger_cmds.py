"""ledger verify | export | show, keys init | show."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import EXIT_CRITERIA, workspace_from
from livegate.cli import display as d
from livegate.core.errors import KeyMissing, UsageError
from livegate.core.redact import redact
from livegate.ledger import queries
from livegate.ledger.export import export_events, summarize
from livegate.ledger.keys import PRIVATE_FILE, PUBLIC_FILE, init_key, key_dir, load_public
from livegate.ledger.verify import verify_ledger

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

ledger_app = typer.Typer(help="The tamper-evident ledger: verify, export, show.", no_args_is_help=True)
keys_app = typer.Typer(help="The operator's Ed25519 signing key.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")


@ledger_app.command("verify")
def ledger_verify(
    ctx: typer.Context,
    pubkey: Path = typer.Option(None, "--pubkey", help="Trusted operator public key (operator.pub); default from the key directory.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Recompute the hash chain, check the head and every signature; exit 1 naming the first bad event."""

    ws = workspace_from(ctx)
    public = load_public(pubkey) if pubkey else load_public()
    if pubkey and public is None:
        raise KeyMissing(f"no public key at {pubkey}")
    with queries.reading(ws.ledger_path) as conn:
        report = verify_ledger(conn, public)
    if as_json:
        d.emit_json(report.to_dict())
    elif report.ok:
        d.out(f"[green]Ledger verified[/]: {report.events} events, hash chain intact, {report.signatures_checked} signature(s) valid.")
        for note in report.notes:
            d.out(f"  note: {note}")
    else:
        first = f"first bad event: #{report.first_bad}" if report.first_bad else "see below"
        d.out(f"[bold red]Ledger does NOT verify[/] ({first}).")
        for problem in report.problems:
            d.out(f"  - {problem}")
    if not report.ok:
        raise typer.Exit(EXIT_CRITERIA)


@ledger_app.command("export")
def ledger_export(
    ctx: typer.Context,
    fmt: str = typer.Option("json", "--format", "-f", help="csv or json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout.", show_default=False),
    kind: list[str] = typer.Option(None, "--kind", help="Only events of this kind (repeatable).", show_default=False),
) -> None:
    """Export every event (id, time, kind, actor, payload, hashes) as CSV or JSON."""

    if fmt not in ("csv", "json"):
        raise UsageError(f"--format must be csv or json (got {fmt!r})")
    ws = workspace_from(ctx)
    text = export_events(ws.ledger_path, fmt, tuple(kind or ()))
    if output is None:
        typer.echo(text, nl=False)
    else:
        tmp = output.with_name(output.name + ".partial")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
        d.out(f"Wrote {output}")


@ledger_app.command("show")
def ledger_show(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the latest events."),
    kind: list[str] = typer.Option(None, "--kind", help="Only events of this kind (repeatable).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the latest events, newest first."""

    ws = workspace_from(ctx)
    with queries.reading(ws.ledger_path) as conn:
        events = list(queries.events(conn, kinds=tuple(kind or ()), limit=limit, descending=True))
    if as_json:
        d.emit_json(events)
        return

    d.table(f"Ledger {ws.ledger_path} — latest {len(events)}", ["#", "At (UTC)", "Kind", "Actor", "Summary"],
            [[e["id"], e["ts"][:19], e["kind"], e["actor"], summarize(e["kind"], redact(e["payload"]))] for e in events])


@keys_app.command("init")
def keys_init(
    ctx: typer.Context,
    directory: Path = typer.Option(None, "--dir", help="Key directory (default LIVEGATE_KEY_DIR or ~/.config/livegate).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
) -> None:
    """Create the operator's Ed25519 signing key outside the workspace (private key mode 0600)."""

    target = directory or key_dir()
    key = init_key(target, workspace_root=workspace_from(ctx).root, force=force)
    d.out(f"Created operator key {key.key_id} at {target / PRIVATE_FILE} (mode 0600). Back it up; never copy it into a workspace.")


@keys_app.command("show")
def keys_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the operator key's id and where it is (never the key itself)."""

    public = load_public()
    if public is None:
        raise KeyMissing(f"no operator key in {key_dir()}; create one with `livegate keys init`")
    info = {"key_id": public.key_id, "public_key": public.raw.hex(), "path": str(key_dir() / PUBLIC_FILE)}
    if as_json:
        d.emit_json(info)
    else:
        d.out(f"Operator key {info['key_id']} ({info['path']})")
