"""``python -m cli`` is the ``apilink`` command."""

from __future__ import annotations

from cli import main

main()
