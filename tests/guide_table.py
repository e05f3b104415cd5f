"""The guide's permission table, typed out independently of ``ROLE_PERMISSIONS`` so that a
change to either shows in every test that checks a role against it."""

from __future__ import annotations

GUIDE_TABLE: dict[str, set[str]] = {
    "view_config": {"admin", "operator", "developer", "viewer"},
    "edit_config": {"admin", "developer"},
    "run_sync": {"admin", "operator"},
    "view_results": {"admin", "operator", "developer", "viewer"},
    "manage_users": {"admin"},
    "manage_credentials": {"admin"},
    "view_logs": {"admin", "operator", "developer"},
    "access_analytics": {"admin", "operator"},
}
