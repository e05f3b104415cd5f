"""``apilink init``: write a commented, valid sync config, from prompts or OpenAPI documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from apilink.errors import ConfigError
from apilink.pagination import paginator_types

__all__ = ["init"]


def init(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the config.", dir_okay=False)
    ] = Path("sync.yaml"),
    from_openapi: Annotated[
        Path | None,
        typer.Option(
            "--from-openapi",
            help="The source API's OpenAPI 3 document (YAML or JSON).",
            dir_okay=False,
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="The source operation, METHOD:/path (GET:/users).")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The target operation, METHOD:/path (POST:/contacts).")
    ] = None,
    target_openapi: Annotated[
        Path | None,
        typer.Option(
            help="The target API's OpenAPI 3 document, when not the source's.", dir_okay=False
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The sync's name.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the output file.")] = False,
) -> None:
    """Write a commented sync config that `apilink validate` accepts.

    Without --from-openapi it asks for the two APIs.

    Credentials are never asked for nor written: each is a ${VAR} to set (or a secret://).
    """
    from apilink.scaffold.draft import check_draft, render

    if output.exists() and not force:
        _fail(f"{output} exists; pass --force to overwrite it, or -o another file")
    try:
        if from_openapi is not None:
            draft = _from_documents(from_openapi, target_openapi, source, target, name)
        elif target_openapi is not None or source or target:
            _fail("--source, --target and --target-openapi go with --from-openapi FILE")
        else:
            draft = _from_prompts(name)
    except ConfigError as exc:
        _fail(str(exc))
    except typer.Abort:
        _fail("init stopped before every question was answered (no input left)")
    text = render(draft)
    try:
        check_draft(text, draft)
    except ConfigError as exc:
        _fail(f"the answers do not make a valid config: {exc}")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write ({exc.strerror})")
    typer.echo(f"wrote {output}")
    if draft.variables:
        typer.echo("set before running: " + ", ".join(draft.variables))
    typer.echo(f"then: apilink validate -c {output}")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _from_documents(
    source_document: Path,
    target_document: Path | None,
    source: str | None,
    target: str | None,
    name: str | None,
) -> Any:
    from apilink.scaffold.builder import draft_from_openapi
    from apilink.scaffold.openapi import load_document

    reading = load_document(source_document)
    writing = load_document(target_document) if target_document is not None else reading
    if source is None or target is None:
        missing = "--source" if source is None else "--target"
        listed = ", ".join((reading if source is None else writing).operations())
        raise ConfigError(f"{missing} METHOD:/path is required; the document has: {listed}")
    title = str((reading.data.get("info") or {}).get("title") or "sync")
    return draft_from_openapi(
        name or _slug(title),
        (reading, reading.operation(source)),
        (writing, writing.operation(target)),
    )


def _from_prompts(name: str | None) -> Any:
    from apilink.scaffold.builder import AUTH_TYPES, draft_from_answers

    answers: dict[str, Any] = {"name": name or typer.prompt("Sync name", default="sync")}
    for role, method in (("source", "GET"), ("target", "POST")):
        answers[f"{role}_url"] = typer.prompt(f"{role.title()} API base URL (https://...)")
        answers[f"{role}_path"] = typer.prompt(f"{role.title()} endpoint path", default="/items")
        if role == "target":
            answers["target_method"] = _choose("Target method", ("POST", "PUT", "PATCH"), method)
        else:
            answers["pagination"] = _choose(
                "Source pagination", sorted(paginator_types()), "single"
            )
            answers["records_path"] = typer.prompt(
                "Where the records are in a response (blank: the body is the list)",
                default="",
                show_default=False,
            )
        answers[f"{role}_auth"] = _choose(f"{role.title()} auth", AUTH_TYPES, "none")
        if answers[f"{role}_auth"] == "oauth2_client_credentials":
            answers[f"{role}_token_url"] = typer.prompt(f"{role.title()} OAuth 2 token URL")
    answers["fields"] = typer.prompt(
        "Fields as source=target, comma-separated (id=external_id,email=contact.email)",
        default="id=id",
    )
    return draft_from_answers(answers)


def _choose(question: str, choices: Sequence[str], default: str) -> str:
    """Ask until the answer is one of ``choices`` (shown in the question)."""
    while True:
        answer = str(typer.prompt(f"{question} ({', '.join(choices)})", default=default)).strip()
        if answer in choices:
            return answer
        typer.echo(f"{answer!r} is not one of: {', '.join(choices)}", err=True)


def _slug(title: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "sync"
