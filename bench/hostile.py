"""What hostile input costs a run: wall time and peak RSS of ``apilink sync`` per case.

Each case is a run that must fail, and fail cheaply:

- ``alias-bomb``: a 400-byte YAML config whose nested aliases expand to 387 million nodes;
- ``token-gzip-bomb``: an OAuth2 token endpoint whose 400 KiB gzip answer inflates to 400 MiB,
  with ``max_response_bytes: 1 MiB``;
- ``slow-token``: a token endpoint that answers after 12 s, with ``read: 2, deadline: 3``.

``--apilink PATH`` measures another build's CLI (an older checkout's ``.venv/bin/apilink``)
against the same servers and configs, so a before/after pair runs in one process tree::

    python -m bench.hostile
    python -m bench.hostile --apilink /tmp/before/.venv/bin/apilink
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from apilink.demo import TargetInbox, make_target_app, serve
from bench.processes import Finished, prefect_server, run_measured
from tests.servers.faulty import make_faulty_token_endpoint

__all__ = ["CASES", "alias_bomb", "main", "token_config"]

CASES = ("alias-bomb", "token-gzip-bomb", "slow-token")

# A run that is not stopped by then is reported as killed, with the memory it had reached.
CUT_OFF_SECONDS = 90.0


def alias_bomb(depth: int = 8, width: int = 9) -> str:
    """YAML whose anchors each repeat the previous one ``width`` times: ``width**(depth+1)``
    nodes from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def token_config(name: str, token_url: str, target_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {
            "base_url": "http://127.0.0.1:9",
            "auth": {
                "type": "oauth2",
                "client_id": "bench",
                "client_secret": "bench-client-secret",
                "token_url": token_url + "/token",
            },
            "timeout": {"read": 2, "deadline": 3},
            "max_response_bytes": 1024 * 1024,
            "retry": {"max_attempts": 1},
            "endpoints": {"items": {"path": "/items"}},
        },
        "target": {
            "base_url": target_url,
            "endpoints": {"put": {"path": "/put", "method": "POST"}},
        },
        "mapping": [
            {"source": "items", "target": "put", "fields": [{"source": "id", "target": "id"}]}
        ],
    }


@contextmanager
def _case_config(case: str, folder: Path, target_url: str) -> Iterator[Path]:
    """The config file of ``case``, with the servers it talks to running."""
    path = folder / f"{case}.yaml"
    if case == "alias-bomb":
        path.write_text(alias_bomb())
        yield path
        return
    kind = "gzip_bomb" if case == "token-gzip-bomb" else "slow"
    app, _ = make_faulty_token_endpoint(kind, delay=12.0)
    with serve(app) as token_url:
        path.write_text(yaml.safe_dump(token_config(case, token_url, target_url)))
        yield path


def _last_line(run: Finished) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:110]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument(
        "--apilink",
        default=str(Path(sys.executable).with_name("apilink")),
        help="The apilink CLI to measure (default: this virtualenv's).",
    )
    parser.add_argument("--cases", default=",".join(CASES), help="Comma-separated subset.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="apilink-hostile-")))
        env = stack.enter_context(prefect_server(folder / "prefect"))
        env = {**env, "APILINK_STATE_DIR": str(folder / "state"), "NO_COLOR": "1"}
        env.pop("APILINK_API_KEY", None)
        target_url = stack.enter_context(serve(make_target_app(TargetInbox())))
        print(f"apilink: {args.apilink}")
        for case in args.cases.split(","):
            with _case_config(case, folder, target_url) as config:
                command = [args.apilink, "sync", "-c", str(config)]
                run = run_measured(command, env, timeout=CUT_OFF_SECONDS)
            ended = "killed" if run.seconds >= CUT_OFF_SECONDS else f"exit {run.returncode}"
            print(
                f"{case:16} {run.seconds:7.2f} s  peak RSS {run.peak_rss_mb:7.0f} MB  "
                f"{ended:7}  {_last_line(run)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
