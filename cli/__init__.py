"""The ``apilink`` command line.

Commands that run flows import Prefect lazily, so ``apilink validate`` and errors in a config
answer at once. Every expected error is one paragraph on stderr and exit status 2 (bad input)
or 1 (the run failed); never a traceback.
"""

from __future__ import annotations

from cli.main import app, main

__all__ = ["app", "main"]
