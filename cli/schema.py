"""``apilink schema``: the sync config's JSON Schema (for editors) or its Markdown reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["schema"]


def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="The Markdown reference of every section and key (docs/config.md)."
        ),
    ] = False,
) -> None:
    """Print the sync config's JSON Schema, for YAML editors.

    Put `# yaml-language-server: $schema=./apilink.schema.json` on a config's first line.
    """
    if markdown:
        from apilink.scaffold.reference import config_reference

        text = config_reference()
    else:
        from apilink.scaffold.schema import config_schema

        text = json.dumps(config_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: {output}: cannot write ({exc.strerror})", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {output}", err=True)
