"""One sync run: what it holds open, how it reads, maps and writes, and what it counts.

- :mod:`~apilink.run.session`: the two API clients and the per-mapping workers;
- :mod:`~apilink.run.reader`: pages from a source endpoint, resumable from a position;
- :mod:`~apilink.run.loader` and :mod:`~apilink.run.encoding`: requests to a target endpoint;
- :mod:`~apilink.run.summary`: the counts that always add up;
- :mod:`~apilink.run.partitions`: one large sync split into runs side by side;
- :mod:`~apilink.run.gc_tuning`: garbage collection for a process that holds chunks.

The package itself exports nothing; import from the module that owns a name.
"""

from __future__ import annotations

__all__: list[str] = []
