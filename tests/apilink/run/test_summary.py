"""SyncSummary: the six counts are listed once, add up, and add together."""

from __future__ import annotations

import ast
from pathlib import Path

from apilink.run.reader import ReadChunk
from apilink.run.summary import COUNTS, SyncSummary

ROOT = Path(__file__).resolve().parents[3]


def test_counts_are_the_six_numbers_in_their_order() -> None:
    summary = SyncSummary(extracted=13, skipped=3, valid=8, quarantined=2, loaded=7, failed=1)
    assert summary.counts() == {
        "extracted": 13,
        "skipped": 3,
        "valid": 8,
        "quarantined": 2,
        "loaded": 7,
        "failed": 1,
    }
    assert list(summary.counts()) == list(COUNTS)
    assert summary.balanced


def test_adding_summaries_adds_every_count() -> None:
    total = SyncSummary(extracted=1, valid=1, loaded=1)
    total.add(SyncSummary(extracted=9, skipped=4, valid=3, quarantined=2, loaded=2, failed=1))
    assert total.counts() == {
        "extracted": 10,
        "skipped": 4,
        "valid": 4,
        "quarantined": 2,
        "loaded": 3,
        "failed": 1,
    }


def test_no_other_module_spells_the_counts_again() -> None:
    found = []
    for layer in ("apilink", "tasks", "flows", "blocks", "cli"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            if path == ROOT / "apilink" / "run" / "summary.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.List | ast.Tuple | ast.Set):
                    names = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                    if len(names & set(COUNTS)) >= 3:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_skipped_records_are_part_of_the_balance() -> None:
    summary = SyncSummary(extracted=20, skipped=5, valid=12, quarantined=3, loaded=10, failed=2)
    assert summary.balanced
    assert summary.balance() == (
        "extracted 20 = loaded 10 + quarantined 3 + dead-lettered 2 + skipped 5"
    )
    summary.skipped = 4
    assert not summary.balanced
    assert summary.balance().startswith("UNBALANCED: ")
    assert summary.to_dict()["skipped"] == 4


def test_a_chunk_counts_what_the_reader_skipped_as_extracted_and_skipped() -> None:
    chunk = SyncSummary.for_chunk(ReadChunk([{"id": 1}, {"id": 2}], skipped=5))
    assert (chunk.extracted, chunk.skipped, chunk.checked) == (7, 5, 2)
    plain = SyncSummary.for_chunk([{"id": 1}])  # a reader without a filter, or a plain list
    assert (plain.extracted, plain.skipped, plain.checked) == (1, 0, 1)
    everything_skipped = SyncSummary.for_chunk(ReadChunk([], skipped=9))
    assert everything_skipped.balanced and everything_skipped.extracted == 9
