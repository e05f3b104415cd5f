"""SyncSummary: the five counts are listed once, add up, and add together."""

from __future__ import annotations

import ast
from pathlib import Path

from apilink.run.summary import COUNTS, SyncSummary

ROOT = Path(__file__).resolve().parents[3]


def test_counts_are_the_five_numbers_in_their_order() -> None:
    summary = SyncSummary(extracted=10, valid=8, quarantined=2, loaded=7, failed=1)
    assert summary.counts() == {
        "extracted": 10,
        "valid": 8,
        "quarantined": 2,
        "loaded": 7,
        "failed": 1,
    }
    assert list(summary.counts()) == list(COUNTS)
    assert summary.balanced


def test_adding_summaries_adds_every_count() -> None:
    total = SyncSummary(extracted=1, valid=1, loaded=1)
    total.add(SyncSummary(extracted=5, valid=3, quarantined=2, loaded=2, failed=1))
    assert total.counts() == {
        "extracted": 6,
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
