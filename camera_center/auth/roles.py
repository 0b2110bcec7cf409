"""Roles and who is acting: the principal every service call carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"        # everything, every area
    OPERATOR = "operator"  # the wall and alerts in assigned areas
    OFFICER = "officer"    # alerts in assigned areas


class Restriction(StrEnum):
    """Why a signed-in session may only reach its own account for now."""

    PASSWORD_CHANGE = "password_change"              # the bootstrap password is still set
    SECOND_FACTOR_ENROLLMENT = "second_factor_enrollment"  # the role needs a second factor


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
    # What the session must do before anything else (see Restriction), or None.
    restriction: str | None = None

    @property
    def sees_all_areas(self) -> bool:
        return self.role is Role.ADMIN


def system_principal(name: str = "cli") -> Principal:
    """The operator at the server's console (CLI commands): an admin without a user row."""
    return Principal(user_id=None, username=f"system:{name}", role=Role.ADMIN)
