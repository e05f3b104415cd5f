"""What the target holds, as far as apilink knows: each delivered record's key and the digest
of its mapped form, per mapping (the state behind ``mode: upsert`` and ``mode: mirror``).

- :mod:`~apilink.storage.delivered.base`: the :class:`DeliveredStore` protocol;
- :mod:`~apilink.storage.delivered.sqlite`: the local store under the state directory (the
  default: one worker, or several on one machine);
- :mod:`~apilink.storage.delivered.postgres`: PostgreSQL, when workers on several machines
  share a sync (``APILINK_DELIVERED_DATABASE_URL`` on the workers).

Choose with :func:`~apilink.storage.delivered.opening.open_delivered_store`.
"""

from __future__ import annotations

from apilink.storage.delivered.base import DeliveredStore, Held

__all__ = ["DeliveredStore", "Held"]
