"""The ``coretelecoms`` command line. Stage commands call the same task functions the DAG calls;
this module only parses arguments and prints through Rich."""

from __future__ import annotations

import json
import logging

import typer
from rich.console import Console
from rich.table import Table

from coretelecoms.config import get_settings

app = typer.Typer(
    name="coretelecoms",
    help="CoreTelecoms complaint platform: sources -> bronze -> silver -> gold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise (``raise fail(...)``)."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show the resolved settings (locations, DSNs with passwords masked)."""
    resolved = get_settings().public_dict()
    if as_json:
        typer.echo(json.dumps(resolved, indent=2, default=str))
        return
    table = Table(title="coretelecoms settings", show_lines=False)
    table.add_column("setting")
    table.add_column("value")
    for key, value in resolved.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
