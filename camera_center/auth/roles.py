"""Roles and who is acting: the principal every service call carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"        # everything, every area
    OPERATOR = "operator"  # the wall and alerts in assigned areas
    OFFICER = "officer"    # alerts in assigned areas


@dataclass(frozen=True)
class Principal:
    """An authenticated user (or the local CLI) acting on the server."""

    user_id: int | None
    username: str
    role: Role
    area_ids: frozenset[str] = field(default_factory=frozenset)
    source_ip: str | None = None
    session_id: str | None = None  # the signed-in device; None for the CLI
    token_expires_at: datetime | None = None  # when the access token used runs out

    @property
    def sees_all_areas(self) -> bool:
        return self.role is Role.ADMIN


def system_principal(name: str = "cli") -> Principal:
    """The operator at the server's console (CLI commands): an admin without a user row."""
    return Principal(user_id=None, username=f"system:{name}", role=Role.ADMIN)
