"""The first admin: created once from CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN on an empty database.

There is no default password, and the bootstrap password must be changed at first
sign-in (until then the session can do nothing else). Without the variable, create the
first admin with ``camera-center user add --role admin USERNAME``.
"""

from __future__ import annotations

from pydantic import SecretStr, ValidationError

from camera_center.auth.roles import Role, system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.auth.users import UserDirectory
from camera_center.errors import Problem
from camera_center.logs import get_logger

log = get_logger(__name__)


async def bootstrap_admin(users: UserDirectory, secret: SecretStr | None) -> None:
    """Create the first admin from *secret* ("username:password") if there are no users."""
    if await users.count() > 0:
        if secret is not None:
            log.info("bootstrap admin ignored: users already exist")
        return
    if secret is None:
        log.warning("no users yet: create the first admin with "
                    "'camera-center user add --role admin USERNAME'")
        return
    username, sep, password = secret.get_secret_value().partition(":")
    if not sep:
        raise ValueError("auth.bootstrap_admin must look like 'username:password'")
    try:
        # The password passed through the environment (process tables, container
        # inspection, shell history): it is good for one thing, choosing another.
        data = UserCreate(username=username, role=Role.ADMIN, password=SecretStr(password),
                          full_name="Administrator", must_change_password=True)
        await users.create(data, system_principal("bootstrap"))
    except (ValidationError, Problem) as exc:
        detail = exc.detail if isinstance(exc, Problem) else "invalid username"
        raise ValueError(f"auth.bootstrap_admin refused: {detail}") from None
    log.info("bootstrap admin created", username=username)
