"""What a sync run leaves in the Prefect UI when it ends: the counts, a markdown summary with
the quarantine reasons and the files, and the first quarantined rows (never a value)."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from apilink.run.summary import SyncSummary
from flows.progress import artifact_key

__all__ = ["plan_table", "publish_summary", "summary_markdown"]


async def publish_summary(
    summary: SyncSummary, name: str, dry_run: bool, quarantined: list[dict[str, Any]]
) -> None:
    """The counts table, the markdown summary with the quarantine reasons, and the first
    quarantined rows (reasons only, never a value)."""
    key = artifact_key(name)
    # At once: each is a request to the Prefect API, and they are the last thing a run waits on.
    writes = [
        acreate_table_artifact(
            key=f"{key}-counts",
            table=[{"stage": stage, "records": value} for stage, value in summary.counts().items()],
            description=f"apilink sync `{name}`: {summary.balance()}"
            + (" (dry run)" if dry_run else ""),
        ),
        acreate_markdown_artifact(
            key=f"{key}-quarantine",
            markdown=summary_markdown(summary, name, dry_run=dry_run),
            description="What the run did and why records were set aside (values never shown)",
        ),
    ]
    if quarantined:
        writes.append(
            acreate_table_artifact(
                key=f"{key}-quarantined-rows",
                table=quarantined,
                description=f"The first quarantined records of `{name}`: row, endpoint, chunk "
                f"and reasons (the full file: {summary.quarantine_file})",
            )
        )
    if summary.planned and summary.dry_run:
        writes.append(
            acreate_table_artifact(
                key=f"{key}-plan",
                table=plan_table(summary),
                description=f"Plan of `{name}`: what a run would create, update, delete and "
                "leave unchanged at the target, with example keys; nothing was sent",
            )
        )
    if summary.dry_run and summary.preview:
        writes.append(
            acreate_table_artifact(
                key=f"{key}-dry-run-preview",
                table=summary.preview,
                description=f"Dry run of `{name}`: the first records each target endpoint would "
                f"have been sent ({summary.would_send} in all), masked as the quarantine masks "
                "them; nothing was sent",
            )
        )
    await asyncio.gather(*writes)


def plan_table(summary: SyncSummary) -> list[dict[str, Any]]:
    """A plan's rows: each action, its count and example keys (masked as every output is)."""
    samples = summary.plan.get("sample", {})
    counts = {
        "create": summary.created,
        "update": summary.updated,
        "delete": summary.deleted,
        "unchanged": summary.unchanged,
    }
    rows: list[dict[str, Any]] = [
        {
            "action": action,
            "records": count,
            "example keys": ", ".join(str(k) for k in samples.get(action, [])),
        }
        for action, count in counts.items()
    ]
    if summary.plan.get("delete_refused"):
        rows[2]["example keys"] += " (refused: above max_delete_ratio)"
    return rows


def summary_markdown(summary: SyncSummary, name: str, *, dry_run: bool = False) -> str:
    """The run in a few lines of markdown: the balance, the reasons, where the files are."""
    lines = [
        f"# apilink sync `{name}`" + (" (dry run)" if dry_run else ""),
        "",
        f"**{summary.balance()}**",
        "",
        "| stage | records |",
        "|---|---|",
        *(f"| {stage} | {count} |" for stage, count in summary.counts().items()),
    ]
    if summary.dry_run:
        lines += [
            "",
            f"Dry run: nothing was sent; {summary.would_send} records would have been (the "
            "first of each endpoint are in the `dry-run-preview` table, secrets masked).",
        ]
    if summary.quarantine_reasons:
        lines += ["", "## Quarantined records", "", "| reason | records |", "|---|---|"]
        ranked = sorted(summary.quarantine_reasons.items(), key=lambda item: -item[1])
        lines += [f"| {_cell(reason)} | {count} |" for reason, count in ranked]
    if summary.quarantine_file:
        lines += ["", f"Quarantine file: `{summary.quarantine_file}`"]
    if summary.failed and summary.dead_letter_file:
        lines += [
            "",
            f"Dead-lettered: {summary.failed} records in `{summary.dead_letter_file}` "
            "(`apilink dlq list`, `apilink dlq retry`)",
        ]
    if summary.errors:
        lines += ["", "## Stopped early", "", *(f"- {_cell(error)}" for error in summary.errors)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
