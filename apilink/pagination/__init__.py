"""Pagination strategies, chosen by ``pagination.type``.

Built in: ``page_number``, ``offset``, ``cursor``, ``header_cursor``, ``next_url``,
``link_header`` and ``single``; add one with :func:`register_paginator`.
"""

from __future__ import annotations

from pydantic import ValidationError

from apilink.pagination.base import (
    LoopGuard,
    PageRequest,
    Paginator,
    PaginatorOptions,
    paginator_types,
    register_paginator,
    resolve_paginator,
)
from apilink.pagination.follow import (
    LinkHeaderOptions,
    LinkHeaderPaginator,
    NextUrlOptions,
    NextUrlPaginator,
    origin_of,
)
from apilink.pagination.rfc8288 import Link, find_link, parse_link_header
from apilink.pagination.strategies import (
    CursorOptions,
    CursorPaginator,
    HeaderCursorOptions,
    HeaderCursorPaginator,
    OffsetOptions,
    OffsetPaginator,
    PageNumberOptions,
    PageNumberPaginator,
    SinglePagePaginator,
)

__all__ = [
    "CursorOptions",
    "CursorPaginator",
    "HeaderCursorOptions",
    "HeaderCursorPaginator",
    "Link",
    "LinkHeaderOptions",
    "LinkHeaderPaginator",
    "LoopGuard",
    "NextUrlOptions",
    "NextUrlPaginator",
    "OffsetOptions",
    "OffsetPaginator",
    "PageNumberOptions",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "PaginatorOptions",
    "SinglePagePaginator",
    "build_paginator",
    "find_link",
    "origin_of",
    "paginator_types",
    "parse_link_header",
    "parse_pagination",
    "register_paginator",
    "resolve_paginator",
]


def parse_pagination(raw: dict[str, object]) -> PaginatorOptions:
    """Validate a ``pagination:`` mapping into its strategy's options.

    The APILinker form without ``type`` is accepted: ``next_page_path`` means a cursor (or the
    next page's number) read from the body and sent back as ``page_param``; ``page_param``
    alone means page numbers; neither means a single page. ``data_path`` keeps its meaning.

    Raises:
        ValueError: an unknown ``type`` (listing the valid ones) or a bad option, naming the key.
    """
    data = dict(raw)
    if "type" not in data:
        if "next_page_path" in data:
            data["type"] = "cursor"
            data["cursor_path"] = data.pop("next_page_path")
            if "page_param" in data:
                data["cursor_param"] = data.pop("page_param")
        elif "page_param" in data:
            data["type"] = "page_number"
        else:
            data["type"] = "single"
    strategy = resolve_paginator(str(data["type"]))
    try:
        return strategy.options_model.model_validate(data)
    except ValidationError as exc:
        keys = ", ".join(sorted(strategy.options_model.model_fields))
        problems = "; ".join(
            f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ValueError(f"{problems} (keys of type={data['type']}: {keys})") from None


def build_paginator(options: PaginatorOptions | None) -> Paginator[PaginatorOptions]:
    """A fresh paginator for one pass over an endpoint."""
    if options is None:
        return SinglePagePaginator(PaginatorOptions(type="single"))
    return resolve_paginator(options.type)(options)
