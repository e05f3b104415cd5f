"""The terminal's log handlers: the root logger's and Prefect's console handlers."""

from __future__ import annotations

import logging

__all__ = ["console_handlers"]


def console_handlers() -> list[logging.Handler]:
    """Every handler that writes this process's log lines to the terminal: the root logger's,
    and each ``PrefectConsoleHandler`` on a ``prefect`` logger (Prefect's loggers do not
    propagate to the root)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    found: list[logging.Handler] = list(logging.getLogger().handlers)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if name == "prefect" or name.startswith("prefect."):
            found += [h for h in logger.handlers if isinstance(h, PrefectConsoleHandler)]
    return list(dict.fromkeys(found))
