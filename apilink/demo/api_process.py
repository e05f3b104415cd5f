"""The child process of :func:`apilink.demo.served_demo`: both demo APIs, their URLs on one
line of stdout, until stdin closes (the parent closed it, or went away).

``python -m apilink.demo.api_process --records N``, with ``DEMO_SOURCE_TOKEN`` set.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack

from apilink.demo.apis import TargetInbox, demo_users, make_source_app, make_target_app
from apilink.demo.serve import serve

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m apilink.demo.api_process")
    parser.add_argument("--records", type=int, default=120)
    args = parser.parse_args(argv)
    token = os.environ["DEMO_SOURCE_TOKEN"]
    with ExitStack() as stack:
        source = stack.enter_context(serve(make_source_app(demo_users(args.records), token=token)))
        target = stack.enter_context(serve(make_target_app(TargetInbox())))
        print(source, target, flush=True)
        sys.stdin.read()  # returns at end of file


if __name__ == "__main__":
    main()
