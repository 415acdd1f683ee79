"""ledger verify | export | show | anchor, keys init | show | rotate."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import EXIT_CRITERIA, prompts, workspace_from
from livegate.cli import display as d
from livegate.core.errors import KeyMissing, UsageError
from livegate.core.redact import redact
from livegate.ledger import queries
from livegate.ledger.anchor import Anchor, AnchorUnreadable, add_witness, anchor_file, anchors_of, check
from livegate.ledger.anchor import reset as reset_anchor
from livegate.ledger.export import export_events, summarize
from livegate.ledger.keys import (
    PRIVATE_FILE,
    PUBLIC_FILE,
    discard_rotation,
    finish_rotation,
    init_key,
    key_dir,
    load_private,
    load_public,
    pending_rotation,
    prepare_rotation,
    retired_key,
    try_load_private,
)
from livegate.ledger.store import Ledger, pin_rotation
from livegate.ledger.trust import ROTATED, read_pins
from livegate.ledger.verify import verify_at

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

ledger_app = typer.Typer(help="The tamper-evident ledger: verify, export, show, anchor.", no_args_is_help=True)
keys_app = typer.Typer(help="The operator's Ed25519 signing key: init, show, rotate.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")


@ledger_app.command("verify")
def ledger_verify(
    ctx: typer.Context,
    pubkey: Path = typer.Option(None, "--pubkey", metavar="FILE", help="Trusted operator public key (operator.pub); default from the key directory.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Recompute the whole hash chain, check the head and every signature; exit 1 naming the
    first bad event. Always in full: `status` and the phase commands check only what is new
    since their signed checkpoint."""

    ws = workspace_from(ctx)
    public = load_public(pubkey) if pubkey else load_public()
    if pubkey and public is None:
        raise KeyMissing(f"no public key at {pubkey}")
    report = verify_at(ws.ledger_path, public)
    if as_json:
        d.emit_json(report.to_dict())
    elif report.ok:
        d.out(f"[green]Ledger verified[/]: {report.events} events, hash chain intact, {report.signatures_checked} signature(s) valid.")
        for note in report.notes:
            d.out(f"  note: {note}")
        for warning in report.warnings:
            d.out(f"  [yellow]warning[/]: {warning}")
    else:
        first = f"first bad event: #{report.first_bad}" if report.first_bad else "see below"
        d.out(f"[bold red]Ledger does NOT verify[/] ({first}).")
        for problem in report.problems:
            d.out(f"  - {problem}")
        for warning in report.warnings:
            d.out(f"  [yellow]warning[/]: {warning}")
    if not report.ok:
        raise typer.Exit(EXIT_CRITERIA)


@ledger_app.command("anchor")
def ledger_anchor(
    ctx: typer.Context,
    witness: Path = typer.Option(None, "--witness", metavar="DIR", show_default=False,
                                 help="Also keep every signed head in this directory (a git repository gets one commit per head; push it wherever you like)."),
    reset: bool = typer.Option(False, "--reset", help="Bind the anchor to the ledger as it is now (needs the operator key): after a power "
                               "cut lost the last events, or for a workspace you moved or started over. Find out why it disagrees first."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation (--reset)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show and check the anchors: the ledger's head as recorded outside the workspace (next to
    the operator key, and in any witness). Exit 1 when the ledger is behind or differs from one."""

    ws = workspace_from(ctx)
    keys = key_dir()
    if reset:
        key = load_private()  # only the operator decides that this ledger is the one
        with queries.reading(ws.ledger_path) as conn:
            head = queries.head_event(conn)
        if head is None:
            raise UsageError(f"{ws.ledger_path} holds no event to anchor")
        if not prompts.confirm(f"Anchor {ws.root} at event #{head['id']} ({head['hash'][:12]}…) as the operator {key.key_id}?", yes):
            d.out("Nothing changed.")
            return
        reset_anchor(keys, ws.ledger_path, {"ledger_id": head["ledger_id"], "last_id": head["id"], "last_hash": head["hash"],
                                            "signed_id": head["signed_id"], "at": head["ts"]})
        d.out(f"Anchored at event #{head['id']}.")
    if witness is not None:
        if not witness.is_dir():
            raise UsageError(f"--witness {witness}: not a directory")
        try:
            add_witness(keys, ws.ledger_path, witness)
        except AnchorUnreadable as exc:
            raise UsageError(str(exc)) from None
        with Ledger.open(ws.ledger_path, key=try_load_private()) as ledger:  # copy the current head there now
            ledger.append("witness_added", {"witness": str(witness.resolve())})
            ledger.copy_to_witnesses()
            problems = list(ledger.anchor_problems)
        for problem in problems:
            d.out(f"[red]{problem}[/]")
    found = anchors_of(keys, ws.ledger_path)  # read before the ledger: an append lands there first
    rows = []
    with queries.reading(ws.ledger_path) as conn:
        for anchor in found:
            if isinstance(anchor, Anchor):
                problem = check(conn, anchor)
                rows.append({"where": anchor.where, "event": anchor.last_id, "hash": anchor.last_hash,
                             "recorded_at": anchor.at, "ok": problem is None, "problem": problem})
            else:
                rows.append({"where": None, "event": None, "hash": None, "recorded_at": None, "ok": False, "problem": str(anchor)})
        last = queries.head(conn)["last_event_id"]
    ok = all(row["ok"] for row in rows)
    if as_json:
        d.emit_json({"ok": ok, "ledger_ends_at": last, "anchors": rows, "anchor_file": str(anchor_file(keys, ws.ledger_path))})
    elif not rows:
        d.out(f"No anchor for this workspace in {keys} yet: one is written at the next append on this machine.")
    else:
        d.table(f"Anchors of {ws.ledger_path} (ledger ends at #{last})", ["Where", "Event", "Recorded (UTC)", "Check"],
                [[row["where"] or "-", f"#{row['event']}" if row["event"] else "-", (row["recorded_at"] or "-")[:19],
                  "[green]ok[/]" if row["ok"] else f"[red]{row['problem']}[/]"] for row in rows])
    if not ok:
        raise typer.Exit(EXIT_CRITERIA)


@ledger_app.command("export")
def ledger_export(
    ctx: typer.Context,
    fmt: str = typer.Option("json", "--format", "-f", metavar="csv|json", help="csv or json."),
    output: Path = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to this file instead of stdout.", show_default=False),
    kind: list[str] = typer.Option(None, "--kind", metavar="KIND", help="Only events of this kind (repeatable).", show_default=False),
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
    limit: int = typer.Option(20, "--limit", "-n", metavar="N", min=1, help="How many of the latest events."),
    kind: list[str] = typer.Option(None, "--kind", metavar="KIND", help="Only events of this kind (repeatable).", show_default=False),
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
    directory: Path = typer.Option(None, "--dir", metavar="DIR", help="Key directory (default LIVEGATE_KEY_DIR or ~/.config/livegate).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
) -> None:
    """Create the operator's Ed25519 signing key outside the workspace (private key mode 0600)."""

    target = directory or key_dir()
    ws = workspace_from(ctx)
    in_workspace = ws.config_path.is_file() or ws.state_dir.is_dir()
    key = init_key(target, workspace_root=ws.root if in_workspace else None, force=force)
    d.out(f"Created operator key {key.key_id} at {target / PRIVATE_FILE} (mode 0600). Back it up; never copy it into a workspace.")
    if directory is None and ws.ledger_path.is_file():  # in a workspace: pin the key there now (operator-keys.txt)
        with Ledger.open(ws.ledger_path, key=key) as ledger:
            problem = ledger.key_problem
        if problem:
            d.out(f"[bold yellow]warning[/]: {problem}. A replaced key is not a rotation: use `livegate keys rotate` with the old key.")


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    by: str = typer.Option(..., "--by", metavar="NAME", help="Who rotates the key (recorded)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Replace the operator key: the old key signs the hand-over to a new one in this workspace's
    ledger, operator-keys.txt gains the new key, and the old key is kept as operator.key.<id>.old.
    Run it again to finish a rotation that was cut short, and in each other workspace the old key
    signed: it hands that one over too."""

    ws = workspace_from(ctx)
    old = load_private()
    pending = pending_rotation(key_dir())
    if pending is not None:  # an earlier `keys rotate` stopped half-way
        with queries.reading(ws.ledger_path) as conn:
            recorded = queries.latest_with(conn, ROTATED, {"to_key_id": pending.key_id})
        if recorded is not None:  # the ledger has the hand-over: finish what the files still miss
            pin_rotation(ws.root, pending.public, recorded["payload"].get("from_key_id", old.key_id), recorded["ts"], recorded["id"])
            finish_rotation(key_dir(), old, pending)
            d.out(f"Finished the interrupted rotation {old.key_id} → {pending.key_id} (event #{recorded['id']}); "
                  "commit operator-keys.txt.")
            return
        discard_rotation(key_dir())  # never reached the ledger: start over
    pins = read_pins(ws.root) or []
    if pins and pins[-1].key_id != old.key_id:  # rotated in another workspace: hand this one over too, with the kept key
        retired = retired_key(key_dir(), pins[-1].key_id)
        if retired is None:
            raise KeyMissing(f"this workspace is signed by key {pins[-1].key_id}, not by your key {old.key_id}, and "
                             f"{key_dir()} keeps no {PRIVATE_FILE}.{pins[-1].key_id}.old to hand it over with")
        if not prompts.confirm(f"Hand {ws.root} over from key {retired.key_id} to your key {old.key_id}?", yes):
            d.out("Nothing rotated.")
            return
        with Ledger.open(ws.ledger_path, key=retired) as ledger:
            event = ledger.rotate_key(old, by=by.strip() or "operator")
        d.out(f"Handed this workspace over from key {retired.key_id} to {old.key_id} (event #{event.id}); commit operator-keys.txt.")
        return
    if not prompts.confirm(f"Rotate operator key {old.key_id} for {ws.root}?", yes):
        d.out("Nothing rotated.")
        return
    new = prepare_rotation(key_dir())  # kept beside the old key until the ledger records the hand-over
    with Ledger.open(ws.ledger_path, key=old) as ledger:
        event = ledger.rotate_key(new, by=by.strip() or "operator")
    finish_rotation(key_dir(), old, new)
    d.out(f"Rotated operator key {old.key_id} → {new.key_id} (event #{event.id}); commit operator-keys.txt. "
          f"The old key is kept as {PRIVATE_FILE}.{old.key_id}.old in {key_dir()}.")


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
