"""The ``rate_limit`` section of a connection (see :mod:`apilink.http.rate_limit` for the
token bucket and the transport that enforce it).

It imports no config model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RateLimitConfig"]


class RateLimitConfig(BaseModel):
    """How many requests per second an API accepts from all of apilink together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(gt=0, le=100_000)
    burst: int | None = Field(
        None, ge=1, description="Requests allowed at once after a quiet spell; one second's worth."
    )
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="Name of the shared Prefect global concurrency limit; from the host if unset.",
    )

    @property
    def capacity(self) -> int:
        """The bucket size: ``burst``, or the requests of one second (at least one)."""
        return self.burst if self.burst is not None else max(1, math.ceil(self.requests_per_second))
