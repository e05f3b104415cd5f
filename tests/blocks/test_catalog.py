"""How the block types appear in the Prefect catalog: named "apilink ...", documented by a
section of this repository that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prefect.blocks.core import Block

from blocks import AccessControl, EncryptedFileCredentials, SyncConfig, VaultCredentials

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/apilink/apilink/blob/main/"
BLOCKS = [AccessControl, EncryptedFileCredentials, SyncConfig, VaultCredentials]


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of ``markdown`` (lowercase, punctuation dropped)."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.__name__)
def test_a_block_type_is_named_apilink_and_its_documentation_exists(block: type[Block]) -> None:
    assert block.get_block_type_name().startswith("apilink "), block.get_block_type_name()
    url = str(block._documentation_url)
    assert url.startswith(REPOSITORY), url
    path, _, anchor = url.removeprefix(REPOSITORY).partition("#")
    page = ROOT / path
    assert page.is_file(), f"{block.__name__} points at {path}, which is not in the repository"
    assert anchor in heading_anchors(page.read_text(encoding="utf-8")), url
