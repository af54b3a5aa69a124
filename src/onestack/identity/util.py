"""Small helpers shared by the identity managers."""

from __future__ import annotations

from typing import Any


def split_extra(body: dict[str, Any], known: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a request body into known fields and Keystone's free-form extra attributes."""
    known_part = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known and k != "links"}
    return known_part, extra


def apply_extra(data: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """Show extra attributes beside the known ones; known ones win."""
    if extra:
        for key, value in extra.items():
            data.setdefault(key, value)
    return data
