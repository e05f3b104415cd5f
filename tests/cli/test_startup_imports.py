"""The ``apilink`` command imports Prefect only when a command needs it: ``--quiet`` sets
Prefect's log level before Prefect reads it, and ``--version`` or ``validate`` start fast."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_command_does_not_import_prefect() -> None:
    probe = "import sys, cli.main; print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
