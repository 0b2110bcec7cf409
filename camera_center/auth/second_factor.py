"""Two-factor sign-in: enrolling a TOTP key from the console, the second step of a
sign-in, recovery codes, and an admin's reset for a lost phone.

The key is stored encrypted with the credentials key (as camera passwords are). A code
is accepted once: the last accepted time step is kept, and moved forward by one
conditional UPDATE, so that two sign-ins racing with one code cannot both win. Wrong
codes count towards the same lockout as wrong passwords.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.access_watch import AccessWatch
from camera_center.auth.models import RecoveryCode, User
from camera_center.auth.roles import Principal, Restriction
from camera_center.auth.sessions import EndReason, IssuedTokens, SessionManager, end_sessions
from camera_center.auth.tokens import TokenError
from camera_center.auth.totp import (
    TotpCheck,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_data_uri,
    recovery_code_hash,
)
from camera_center.crypto import CredentialCipher, SecretsError
from camera_center.errors import Conflict, Forbidden, NotFound, Unauthorized, UnprocessableEntity
from camera_center.logs import get_logger
from camera_center.storage.base import utcnow
from camera_center.storage.engine import Database

log = get_logger(__name__)

_STEP_EXPIRED = "This sign-in step has expired or is not valid; enter your password again."
_BAD_CODE = "Wrong or already used code."


@dataclass(frozen=True)
class Enrolment:
    """A key being enrolled: what the authenticator app needs."""

    secret: str
    uri: str
    qr_code: str


@dataclass(frozen=True)
class SecondFactorStatus:
    enabled: bool
    required: bool
    enrolling: bool
    recovery_codes_left: int


class SecondFactors:
    def __init__(self, db: Database, cipher: CredentialCipher, sessions: SessionManager,
                 check: TotpCheck | None = None, watch: AccessWatch | None = None) -> None:
        self.db = db
        self.cipher = cipher
        self.sessions = sessions
        self.settings = sessions.settings
        self.check = check or TotpCheck()
        self.watch = watch or sessions.watch

    def required(self, user: User) -> bool:
        return user.role in self.settings.second_factor_roles

    async def _user(self, s: AsyncSession, user_id: int | None) -> User:
        user = await s.get(User, user_id) if user_id is not None else None
        if user is None:
            raise NotFound(f"User {user_id} does not exist.")
        return user

    async def status(self, user_id: int) -> SecondFactorStatus:
        async with self.db.session() as s:
            user = await self._user(s, user_id)
            left = await s.scalar(select(func.count()).select_from(RecoveryCode).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))) or 0
            return SecondFactorStatus(enabled=user.totp_secret is not None,
                                      required=self.required(user),
                                      enrolling=user.totp_pending_secret is not None,
                                      recovery_codes_left=left)

    async def begin(self, who: Principal) -> Enrolment:
        """A new key for the caller, shown once as a QR code; it counts once confirmed."""
        if who.restriction == Restriction.PASSWORD_CHANGE:
            raise Forbidden("Change the initial password first.")
        secret = new_secret()
        async with self.db.session() as s:
            user = await self._user(s, who.user_id)
            if user.totp_secret is not None:
                raise Conflict("Two-factor sign-in is already on. To move it to another "
                               "phone, turn it off first (or ask an administrator to reset "
                               "it).")
            user.totp_pending_secret = self.cipher.encrypt(secret)
            audit.record(s, who, "auth.second_factor_setup", target_type="user",
                         target_id=user.id)
            await s.commit()
        uri = provisioning_uri(secret, who.username, self.settings.totp_issuer)
        return Enrolment(secret=secret, uri=uri, qr_code=qr_data_uri(uri))

    async def confirm(self, who: Principal, code: str) -> list[str]:
        """Switch the enrolled key on once the app shows a right code; returns the new
        recovery codes (shown this once)."""
        address = who.source_ip or "unknown"
        async with self.db.session() as s:
            await self.sessions.check_lockout(s, who.username, address)
            user = await self._user(s, who.user_id)
            if user.totp_pending_secret is None:
                raise Conflict("Start the enrolment first (POST /api/v1/auth/second-factor/"
                               "setup).")
            step = self.check.matching_step(self._decrypt(user.totp_pending_secret), code,
                                            None)
            if step is None:
                self.sessions.record_failure(s, who.username, address,
                                                   "auth.second_factor_failed",
                                                   "second factor enrolment code wrong")
                await s.commit()
                raise UnprocessableEntity(
                    "The code does not match. Check that the phone's clock is right and "
                    "type the code it shows now.",
                    errors=[{"field": "code", "message": "wrong code"}])
            user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
            user.totp_last_step = step
            codes = await self._replace_recovery_codes(s, user.id)
            audit.record(s, who, "auth.second_factor_enabled", target_type="user",
                         target_id=user.id)
            await s.commit()
        log.info("second factor enabled", username=who.username)
        return codes

    async def new_recovery_codes(self, who: Principal, password: str) -> list[str]:
        """Fresh recovery codes (the old ones stop working), after the password."""
        await self.sessions.check_password(who, password)
        async with self.db.session() as s:
            user = await self._user(s, who.user_id)
            if user.totp_secret is None:
                raise Conflict("Two-factor sign-in is off: there is nothing to recover.")
            codes = await self._replace_recovery_codes(s, user.id)
            audit.record(s, who, "auth.recovery_codes_renewed", target_type="user",
                         target_id=user.id)
            await s.commit()
        return codes

    async def disable(self, who: Principal, password: str) -> None:
        """Turn the caller's second factor off, after the password, where the role allows."""
        async with self.db.session() as s:
            if self.required(await self._user(s, who.user_id)):
                raise Forbidden(f"The role {who.role.value} must sign in with a second "
                                "factor; it cannot be turned off. If the phone is lost, an "
                                "administrator can reset it.")
        await self.sessions.check_password(who, password)
        async with self.db.session() as s:
            user = await self._user(s, who.user_id)
            await self._clear(s, user)
            audit.record(s, who, "auth.second_factor_disabled", target_type="user",
                         target_id=user.id)
            await s.commit()

    async def reset(self, who: Principal, user_id: int) -> None:
        """An admin's reset for a lost phone: the key and recovery codes are dropped and
        the user's sessions end; a role that needs it enrols again at next sign-in."""
        async with self.db.session() as s:
            user = await self._user(s, user_id)
            await self._clear(s, user)
            await end_sessions(s, user.id, EndReason.ACCOUNT_CHANGED)
            audit.record(s, who, "user.second_factor_reset", target_type="user",
                         target_id=user.id)
            await s.commit()
        self.watch.changed(user_id)

    async def sign_in(self, challenge: str, code: str | None, recovery_code: str | None,
                      address: str, user_agent: str = "") -> IssuedTokens:
        """The second step of a sign-in: a TOTP code or a recovery code, for the challenge
        the password step gave."""
        try:
            claims = self.sessions.signer.verify(challenge, "challenge")
        except TokenError as exc:
            raise Unauthorized(_STEP_EXPIRED) from exc
        async with self.db.session() as s:
            user = await s.get(User, claims.user_id)
            if user is None or user.disabled or user.totp_secret is None \
                    or claims.issued_at < user.tokens_valid_after:
                raise Unauthorized(_STEP_EXPIRED)
            await self.sessions.check_lockout(s, user.username, address)
            method = None
            if code:
                if await self._spend_totp(s, user, code):
                    method = "totp"
            elif recovery_code and await self._spend_recovery_code(s, user.id, recovery_code):
                method = "recovery_code"
            if method is None:
                self.sessions.record_failure(s, user.username, address,
                                                   "auth.second_factor_failed",
                                                   "second factor failed")
                await s.commit()
                raise Unauthorized(_BAD_CODE)
            tokens = await self.sessions.open_session(s, user, address, user_agent,
                                                      method=method)
            await s.commit()
        return tokens

    # -- inside ------------------------------------------------------------------------------

    def _decrypt(self, stored: str) -> str:
        try:
            return self.cipher.decrypt(stored)
        except SecretsError:
            log.error("second factor key unreadable: the credentials key changed")
            raise Unauthorized("This account's second factor cannot be read (the server's "
                               "credentials key changed); ask an administrator to reset "
                               "it.") from None

    async def _spend_totp(self, s: AsyncSession, user: User, code: str) -> bool:
        assert user.totp_secret is not None
        step = self.check.matching_step(self._decrypt(user.totp_secret), code,
                                        user.totp_last_step)
        if step is None:
            return False
        moved = await s.execute(
            update(User).where(User.id == user.id,
                               or_(User.totp_last_step.is_(None),
                                   User.totp_last_step < step))
            .values(totp_last_step=step).execution_options(synchronize_session=False))
        return bool(moved.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult

    async def _spend_recovery_code(self, s: AsyncSession, user_id: int, code: str) -> bool:
        spent = await s.execute(
            update(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                       RecoveryCode.code_hash == recovery_code_hash(code),
                                       RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()))
        won = spent.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult
        if won:
            log.warning("recovery code used", user_id=user_id)
        return bool(won)

    async def _replace_recovery_codes(self, s: AsyncSession, user_id: int) -> list[str]:
        await s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        codes = new_recovery_codes()
        s.add_all(RecoveryCode(user_id=user_id, code_hash=recovery_code_hash(c))
                  for c in codes)
        return codes

    async def _clear(self, s: AsyncSession, user: User) -> None:
        user.totp_secret = user.totp_pending_secret = None
        user.totp_last_step = None
        await s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
