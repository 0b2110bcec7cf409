"""Signing in and out: password check, lockout, access/refresh tokens with rotation.

Lockout counts failed attempts in a sliding window, per username and per source
address, in the database: it survives restarts and holds across worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.models import LoginAttempt, RefreshToken, User
from camera_center.auth.passwords import Passwords
from camera_center.auth.roles import Principal, Role
from camera_center.auth.tokens import TokenClaims, TokenError, TokenSigner
from camera_center.errors import TooManyRequests, Unauthorized
from camera_center.logs import get_logger
from camera_center.settings import AuthSettings
from camera_center.storage.base import utcnow
from camera_center.storage.engine import Database

log = get_logger(__name__)

_BAD_LOGIN = "Wrong username or password."


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def principal_for(user: User, source_ip: str | None) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=Role(user.role),
                     area_ids=frozenset(user.area_ids), source_ip=source_ip)


class SessionManager:
    def __init__(self, db: Database, signer: TokenSigner, settings: AuthSettings,
                 passwords: Passwords) -> None:
        self.db = db
        self.passwords = passwords
        self.signer = signer
        self.settings = settings

    async def _failures_since(self, s: AsyncSession, since: datetime, *, username: str | None,
                              address: str | None) -> int:
        stmt = select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.at >= since, LoginAttempt.success.is_(False))
        if username is not None:
            last_ok = select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.success.is_(True)
            ).scalar_subquery()
            stmt = stmt.where(LoginAttempt.username == username,
                              LoginAttempt.at > func.coalesce(last_ok, since))
        if address is not None:
            stmt = stmt.where(LoginAttempt.address == address)
        return await s.scalar(stmt) or 0

    async def _check_lockout(self, s: AsyncSession, username: str, address: str) -> None:
        window = timedelta(minutes=self.settings.lockout_window_minutes)
        since = utcnow() - window
        minutes = self.settings.lockout_window_minutes
        if await self._failures_since(s, since, username=username, address=None) >= \
                self.settings.lockout_threshold:
            log.warning("login locked", username=username, address=address, scope="user")
            raise TooManyRequests(
                f"Too many failed sign-ins for this account; try again in {minutes} minutes "
                "or ask an administrator.", headers={"Retry-After": str(minutes * 60)})
        if await self._failures_since(s, since, username=None, address=address) >= \
                self.settings.address_lockout_threshold:
            log.warning("login locked", username=username, address=address, scope="address")
            raise TooManyRequests(
                f"Too many failed sign-ins from this address; try again in {minutes} minutes.",
                headers={"Retry-After": str(minutes * 60)})

    async def login(self, username: str, password: str, address: str) -> IssuedTokens:
        async with self.db.session() as s:
            await self._check_lockout(s, username, address)
            user = await s.scalar(select(User).where(User.username == username))
            ok = self.passwords.verify(user.password_hash if user else None, password)
            if ok and user is not None and user.disabled:
                ok = False
            s.add(LoginAttempt(username=username[:64], address=address[:64], success=ok))
            if not ok or user is None:
                audit.record_anonymous(s, username, "auth.login_failed", address)
                await s.commit()
                log.warning("login failed", username=username, address=address)
                raise Unauthorized(_BAD_LOGIN)
            if self.passwords.needs_rehash(user.password_hash):
                user.password_hash = self.passwords.hash(password)
            audit.record(s, principal_for(user, address), "auth.login", target_type="user",
                         target_id=user.id)
            # Old attempts only feed the lockout window; keep the table small.
            await s.execute(delete(LoginAttempt).where(
                LoginAttempt.at < utcnow() - timedelta(days=30)))
            tokens = await self._issue(s, user)
            await s.commit()
        log.info("login", username=username, address=address)
        return tokens

    async def _issue(self, s: AsyncSession, user: User) -> IssuedTokens:
        access_life = timedelta(minutes=self.settings.access_token_minutes)
        access, _ = self.signer.issue(user.id, "access", access_life)
        refresh, claims = self.signer.issue(user.id, "refresh",
                                            timedelta(days=self.settings.refresh_token_days))
        s.add(RefreshToken(jti=claims.jti, user_id=user.id, expires_at=claims.expires_at))
        return IssuedTokens(access, refresh, int(access_life.total_seconds()), user)

    async def refresh(self, token: str, address: str) -> IssuedTokens:
        """Trade a refresh token for a new pair; the old one is revoked (rotation)."""
        try:
            claims = self.signer.verify(token, "refresh")
        except TokenError as exc:
            raise Unauthorized(f"Refresh token refused ({exc}); sign in again.") from exc
        async with self.db.session() as s:
            row = await s.get(RefreshToken, claims.jti)
            user = await s.get(User, claims.user_id)
            if row is None or row.revoked_at is not None or user is None or user.disabled \
                    or claims.issued_at < user.tokens_valid_after:
                if row is not None and row.revoked_at is not None and user is not None:
                    # A revoked token used again may be stolen: end every session of the user.
                    user.tokens_valid_after = utcnow()
                    log.warning("refresh token reuse", user_id=claims.user_id, address=address)
                    await s.commit()
                raise Unauthorized("Session ended; sign in again.")
            row.revoked_at = utcnow()
            tokens = await self._issue(s, user)
            await s.commit()
            return tokens

    async def logout(self, token: str | None, who: Principal) -> None:
        async with self.db.session() as s:
            if token:
                try:
                    claims = self.signer.verify(token, "refresh")
                except TokenError:
                    claims = None
                if claims is not None and claims.user_id == who.user_id:
                    row = await s.get(RefreshToken, claims.jti)
                    if row is not None and row.revoked_at is None:
                        row.revoked_at = utcnow()
            audit.record(s, who, "auth.logout", target_type="user", target_id=who.user_id)
            await s.commit()

    async def authenticate(self, token: str, source_ip: str | None) -> tuple[User, TokenClaims]:
        """The user behind an access token, re-read so that disabling takes effect at once."""
        try:
            claims = self.signer.verify(token, "access")
        except TokenError as exc:
            raise Unauthorized(f"Access token refused ({exc}).") from exc
        async with self.db.session() as s:
            user = await s.get(User, claims.user_id)
        if user is None or user.disabled or claims.issued_at < user.tokens_valid_after:
            raise Unauthorized("Session ended; sign in again.")
        return user, claims

    async def check_password(self, who: Principal, password: str) -> None:
        """Re-confirm the signed-in user's password before a sensitive change."""
        async with self.db.session() as s:
            user = await s.get(User, who.user_id) if who.user_id is not None else None
        if user is None or not self.passwords.verify(user.password_hash, password):
            raise Unauthorized("The current password is wrong.")
