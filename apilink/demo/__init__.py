"""The built-in demo: two loopback APIs and a real sync between them."""

from __future__ import annotations

from apilink.demo.apis import TargetInbox, demo_users, make_source_app, make_target_app
from apilink.demo.serve import free_port, serve
from apilink.demo.served import DEMO_VARIABLES, ServedDemo, served_demo

__all__ = [
    "DEMO_VARIABLES",
    "ServedDemo",
    "TargetInbox",
    "demo_config_path",
    "demo_users",
    "free_port",
    "make_source_app",
    "make_target_app",
    "serve",
    "served_demo",
]


def demo_config_path() -> str:
    """``deployments/demo.yaml`` of a source checkout, or the copy shipped in the wheel."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[2] / "deployments" / "demo.yaml"
    if checkout.is_file():
        return str(checkout)
    return str(Path(__file__).with_name("demo.yaml"))
