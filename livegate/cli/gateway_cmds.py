"""gateway key: the key a trader's own bot signs its requests to livegate's gateway with."""

from __future__ import annotations

import json
import sys

import typer

from livegate.cli import EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.services.bot_gateway import issue_bot_key, keys_path, load_bot_key

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

gateway_app = typer.Typer(help="The Binance-compatible gateway your own bot trades through (`bot: external`).", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")


@gateway_app.command("key")
def key(
    ctx: typer.Context,
    new: bool = typer.Option(False, "--new", help="Issue a new key and secret, replacing the old ones (a bot still using them is refused)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: api_key, secret, key_id, file."),
) -> None:
    """The API key and secret your bot signs its requests to livegate's gateway with — in place
    of your exchange key, which only livegate holds. Issued once (or with --new), kept in
    .livegate/gateway-keys.json (owner-only, outside the ledger); valid only at the gateway,
    which never lets it withdraw, transfer or trade past the protocol."""

    ws = workspace_from(ctx).require()
    found = None if new else load_bot_key(ws.state_dir)
    issued = found is None
    bot_key = found or issue_bot_key(ws.state_dir)
    info = {"api_key": bot_key.api_key, "secret": bot_key.secret, "key_id": bot_key.key_id,
            "file": str(keys_path(ws.state_dir)), "issued": issued}
    # the one place the key is shown in full: this command exists to hand it to the bot
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        raise typer.Exit(EXIT_OK)
    sys.stdout.write(f"{'New gateway key issued' if issued else 'Gateway key'} (kept in {info['file']}, owner-only):\n"
                     f"  api key: {bot_key.api_key}\n  secret:  {bot_key.secret}\n")
    d.out("Give these to your bot instead of your exchange key; `livegate go-live` prints the gateway's URL.")
    raise typer.Exit(EXIT_OK)
