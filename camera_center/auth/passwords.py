"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from camera_center.settings import PasswordHashSettings

MIN_LENGTH = 10


class Passwords:
    """argon2id at the configured cost; built once in the services.

    A hash carries its own parameters, so a hash made at another cost still verifies
    (and is re-hashed at sign-in, see :meth:`needs_rehash`).
    """

    def __init__(self, settings: PasswordHashSettings) -> None:
        self._hasher = PasswordHasher(time_cost=settings.time_cost,
                                      memory_cost=settings.memory_kib,
                                      parallelism=settings.parallelism)
        # Verifying against this keeps a sign-in for an unknown user as slow as for a
        # known one.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    # Both run in a worker thread: a hash takes ~150 ms of CPU at the production cost
    # (argon2-cffi releases the GIL meanwhile), which on the event loop stalled every
    # other request, stream and WebSocket of the server for as long.

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return (self._hasher.verify(password_hash or self._dummy_hash, password)
                    and password_hash is not None)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


# zxcvbn's score (0-4) a password needs: 3 is "safely unguessable: moderate protection
# from an offline slow-hash scenario" in its authors' terms, and argon2 is such a hash.
MIN_STRENGTH = 3
_CHECKED_UP_TO = 128  # zxcvbn's time grows with length; longer passwords are long enough


def policy_problem(password: str, username: str, *other_inputs: str) -> str | None:
    """Why *password* is not acceptable, or None. Common passwords, keyboard walks,
    dates, and variations of the username are refused by zxcvbn's estimate of how
    many guesses it would take, not by a list kept here."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if password.lower() == username.lower():
        return "must differ from the username"
    if len(set(password)) < 4:
        return "is too repetitive"
    estimate = zxcvbn(password[:_CHECKED_UP_TO],
                      user_inputs=[username, *other_inputs, "camera", "center", "admin"])
    if estimate["score"] < MIN_STRENGTH:
        warning = estimate["feedback"]["warning"] or "it would be guessed quickly"
        return f"is too easy to guess ({warning.rstrip('.')}); add words or characters"
    return None
