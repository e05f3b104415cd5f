"""``python -m apilink`` is the ``apilink`` command."""

from __future__ import annotations

from apilink.cli import main

main()
