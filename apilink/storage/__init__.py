"""What a run keeps on disk: checkpoints, quarantine files, dead letters and sealed values.

- :mod:`~apilink.storage.private_files`: every file apilink writes (0600, no symlinks);
- :mod:`~apilink.storage.state`: checkpoints (positions, cursors, acknowledgement);
- :mod:`~apilink.storage.quarantine`: records that failed validation;
- :mod:`~apilink.storage.dead_letter`: records the target refused, for replay;
- :mod:`~apilink.storage.sealing`: secret values sealed before they are written.

The package itself exports nothing; import from the module that owns a name.
"""

from __future__ import annotations

__all__: list[str] = []
