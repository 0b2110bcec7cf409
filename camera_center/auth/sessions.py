"""Signing in and out: password check, lockout, sessions, access/refresh tokens with
rotation.

Lockout counts failed attempts in a sliding window, per username and per source
address, in the database: it survives restarts and holds across worker processes.

A sign-in opens a session (one device); both its tokens name it, and every request
checks it, so that signing out or ending a device stops its access token at once, not
when the token expires. A refresh token is spent by one conditional UPDATE: of several
refreshes racing with one token exactly one wins, and the others count as reuse.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.access_watch import AccessWatch
from camera_center.auth.lockout import LockoutRule, Refusal
from camera_center.auth.models import AuthSession, LoginAttempt, RefreshToken, User
from camera_center.auth.passwords import Passwords
from camera_center.auth.roles import Principal, Restriction, Role
from camera_center.auth.tokens import TokenClaims, TokenError, TokenSigner
from camera_center.errors import NotFound, TooManyRequests, Unauthorized
from camera_center.logs import get_logger
from camera_center.settings import AuthSettings
from camera_center.storage.base import utcnow
from camera_center.storage.engine import Database

log = get_logger(__name__)

_BAD_LOGIN = "Wrong username or password."
_ENDED = "Session ended; sign in again."
# A session's last use is written at most this often: not a database write per request.
_TOUCH_EVERY = timedelta(seconds=60)


class EndReason:
    """Why a session ended, as stored and shown."""

    SIGNED_OUT = "signed_out"
    ENDED_BY_USER = "ended_by_user"
    ENDED_BY_ADMIN = "ended_by_admin"
    TOKEN_REUSE = "token_reuse"
    ACCOUNT_CHANGED = "account_changed"  # password, role or disabled


async def end_sessions(s: AsyncSession, user_id: int, reason: str, *,
                       only: str | None = None, keep: str | None = None) -> int:
    """End the user's open sessions (one of them with *only*; all but *keep*), revoking
    their refresh tokens; the caller commits. Returns how many ended."""
    now = utcnow()
    where = [AuthSession.user_id == user_id, AuthSession.ended_at.is_(None)]
    if only is not None:
        where.append(AuthSession.id == only)
    if keep is not None:
        where.append(AuthSession.id != keep)
    ids = list((await s.scalars(select(AuthSession.id).where(*where))).all())
    if not ids:
        return 0
    await s.execute(update(AuthSession).where(AuthSession.id.in_(ids))
                    .values(ended_at=now, ended_reason=reason))
    await s.execute(update(RefreshToken).where(RefreshToken.session_id.in_(ids),
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    return len(ids)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


@dataclass(frozen=True)
class SecondFactorNeeded:
    """The password was right; a TOTP or recovery code must follow, with this challenge."""

    challenge: str
    expires_in: int


# A password accepted for a user with a second factor is good for this long.
CHALLENGE_LIFETIME = timedelta(minutes=5)


def restriction_of(user: User, settings: AuthSettings) -> Restriction | None:
    """What the user's sessions must do before anything else, or None. Worked out on
    every request, so that a role that gains the requirement, or a setting switched
    on, restricts sessions already open."""
    if user.must_change_password:
        return Restriction.PASSWORD_CHANGE
    if user.role in settings.second_factor_roles and user.totp_secret is None:
        return Restriction.SECOND_FACTOR_ENROLLMENT
    return None


def principal_for(user: User, source_ip: str | None, claims: TokenClaims | None = None,
                  restriction: Restriction | None = None) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=Role(user.role),
                     area_ids=frozenset(user.area_ids), source_ip=source_ip,
                     session_id=claims.session_id if claims else None,
                     token_expires_at=claims.expires_at if claims else None,
                     restriction=restriction.value if restriction else None)


class SessionManager:
    def __init__(self, db: Database, signer: TokenSigner, settings: AuthSettings,
                 passwords: Passwords, watch: AccessWatch | None = None) -> None:
        self.db = db
        self.passwords = passwords
        self.signer = signer
        self.settings = settings
        self.watch = watch or AccessWatch()
        self.lockout = LockoutRule(settings.lockout_threshold,
                                   settings.address_lockout_threshold)

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

    async def check_lockout(self, s: AsyncSession, username: str, address: str) -> None:
        """Refuse, or slow down, a sign-in after failures (see auth/lockout.py)."""
        since = utcnow() - timedelta(minutes=self.settings.lockout_window_minutes)
        minutes = self.settings.lockout_window_minutes
        refusal, delay = self.lockout.decide(
            pair=await self._failures_since(s, since, username=username, address=address),
            address=await self._failures_since(s, since, username=None, address=address),
            account=await self._failures_since(s, since, username=username, address=None))
        if refusal is Refusal.ACCOUNT_FROM_ADDRESS:
            log.warning("login locked", username=username, address=address, scope="user")
            raise TooManyRequests(
                f"Too many failed sign-ins for this account from your address; try again "
                f"in {minutes} minutes or ask an administrator to unlock it.",
                headers={"Retry-After": str(minutes * 60)})
        if refusal is Refusal.ADDRESS:
            log.warning("login locked", username=username, address=address, scope="address")
            raise TooManyRequests(
                f"Too many failed sign-ins from this address; try again in {minutes} minutes.",
                headers={"Retry-After": str(minutes * 60)})
        if delay:
            log.warning("login slowed", username=username, address=address, delay_s=delay)
            await asyncio.sleep(delay)

    async def unlock(self, who: Principal, user_id: int) -> None:
        """Forget the user's recent failed sign-ins (an admin's unlock)."""
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist.")
            await s.execute(delete(LoginAttempt).where(LoginAttempt.username == user.username,
                                                       LoginAttempt.success.is_(False)))
            audit.record(s, who, "user.unlock", target_type="user", target_id=user_id)
            await s.commit()

    async def login(self, username: str, password: str, address: str,
                    user_agent: str = "") -> IssuedTokens | SecondFactorNeeded:
        """Check the password; open a session, or ask for the second factor."""
        async with self.db.session() as s:
            await self.check_lockout(s, username, address)
            user = await s.scalar(select(User).where(User.username == username))
            ok = await self.passwords.verify(user.password_hash if user else None, password)
            if ok and user is not None and user.disabled:
                ok = False
            if not ok or user is None:
                self.record_failure(s, username, address, "auth.login_failed")
                await s.commit()
                raise Unauthorized(_BAD_LOGIN)
            if self.passwords.needs_rehash(user.password_hash):
                user.password_hash = await self.passwords.hash(password)
            if user.totp_secret is not None:
                # Not a success yet: the lockout keeps counting until the code is right.
                challenge, _ = self.signer.issue(user.id, "challenge", CHALLENGE_LIFETIME)
                await s.commit()
                return SecondFactorNeeded(challenge,
                                          int(CHALLENGE_LIFETIME.total_seconds()))
            tokens = await self.open_session(s, user, address, user_agent, method="password")
            await s.commit()
        return tokens

    def record_failure(self, s: AsyncSession, username: str, address: str,
                             action: str, message: str = "login failed") -> None:
        """A failed sign-in step: counted for the lockout, audited (*action*), logged."""
        s.add(LoginAttempt(username=username[:64], address=address[:64], success=False))
        audit.record_anonymous(s, username, action, address)
        log.warning(message, username=username, address=address)

    async def open_session(self, s: AsyncSession, user: User, address: str, user_agent: str,
                           *, method: str) -> IssuedTokens:
        """A successful sign-in (*method*: password, totp or recovery_code): a new
        session and its tokens; the caller commits."""
        s.add(LoginAttempt(username=user.username[:64], address=address[:64], success=True))
        audit.record(s, principal_for(user, address), "auth.login", target_type="user",
                     target_id=user.id, detail={"method": method})
        # Old attempts only feed the lockout window; keep the table small.
        await s.execute(delete(LoginAttempt).where(
            LoginAttempt.at < utcnow() - timedelta(days=30)))
        session = AuthSession(id=secrets.token_urlsafe(16), user_id=user.id,
                              address=address[:64], user_agent=user_agent[:300])
        s.add(session)
        tokens = await self._issue(s, user, session.id)
        log.info("login", username=user.username, address=address, method=method)
        return tokens

    def restriction(self, user: User) -> Restriction | None:
        return restriction_of(user, self.settings)

    async def _issue(self, s: AsyncSession, user: User, session_id: str) -> IssuedTokens:
        access_life = timedelta(minutes=self.settings.access_token_minutes)
        access, _ = self.signer.issue(user.id, "access", access_life, session_id=session_id)
        refresh, claims = self.signer.issue(user.id, "refresh",
                                            timedelta(days=self.settings.refresh_token_days),
                                            session_id=session_id)
        s.add(RefreshToken(jti=claims.jti, user_id=user.id, session_id=session_id,
                           expires_at=claims.expires_at))
        return IssuedTokens(access, refresh, int(access_life.total_seconds()), user)

    async def refresh(self, token: str, address: str) -> IssuedTokens:
        """Trade a refresh token for a new pair; the old one is spent (rotation)."""
        try:
            claims = self.signer.verify(token, "refresh")
        except TokenError as exc:
            raise Unauthorized(f"Refresh token refused ({exc}); sign in again.") from exc
        if claims.session_id is None:
            raise Unauthorized(_ENDED)
        now = utcnow()
        async with self.db.session() as s:
            # Spend the token first, before reading anything: the database decides which
            # of several racing refreshes gets it (a read-then-write let all of them win).
            spent = await s.execute(
                update(RefreshToken).where(RefreshToken.jti == claims.jti,
                                           RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now))
            won = spent.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult
            user = await s.get(User, claims.user_id)
            session = await s.get(AuthSession, claims.session_id)
            alive = (user is not None and not user.disabled and session is not None
                     and session.ended_at is None
                     and claims.issued_at >= user.tokens_valid_after)
            if not won or not alive:
                if not won and alive and user is not None:
                    # A spent token of a live session used again: a race lost, or a copy
                    # in someone else's hands. Either way the session cannot be trusted.
                    await end_sessions(s, user.id, EndReason.TOKEN_REUSE,
                                       only=claims.session_id)
                    audit.record_anonymous(s, user.username, "auth.token_reuse", address)
                    log.warning("refresh token reuse", user_id=claims.user_id,
                                address=address)
                await s.commit()
                self.watch.changed(claims.user_id)
                raise Unauthorized(_ENDED)
            assert session is not None and user is not None
            session.last_used_at = now
            session.address = address[:64]
            tokens = await self._issue(s, user, session.id)
            await s.commit()
            return tokens

    async def logout(self, token: str | None, who: Principal) -> None:
        """End the caller's session (its access and refresh tokens), and the session of
        a refresh token sent along if it is another of the caller's."""
        async with self.db.session() as s:
            if who.user_id is not None and who.session_id is not None:
                await end_sessions(s, who.user_id, EndReason.SIGNED_OUT, only=who.session_id)
            if token and who.user_id is not None:
                try:
                    claims = self.signer.verify(token, "refresh")
                except TokenError:
                    claims = None
                if claims is not None and claims.user_id == who.user_id \
                        and claims.session_id is not None:
                    await end_sessions(s, who.user_id, EndReason.SIGNED_OUT,
                                       only=claims.session_id)
            audit.record(s, who, "auth.logout", target_type="user", target_id=who.user_id)
            await s.commit()
        self.watch.changed(who.user_id)

    async def authenticate(self, token: str, source_ip: str | None) -> tuple[User, TokenClaims]:
        """The user behind an access token, re-read with the token's session so that
        disabling, signing out or ending the session takes effect at once."""
        try:
            claims = self.signer.verify(token, "access")
        except TokenError as exc:
            raise Unauthorized(f"Access token refused ({exc}).") from exc
        if claims.session_id is None:
            raise Unauthorized(_ENDED)
        async with self.db.session() as s:
            user = await s.get(User, claims.user_id)
            session = await s.get(AuthSession, claims.session_id)
            if user is None or user.disabled or claims.issued_at < user.tokens_valid_after \
                    or session is None or session.ended_at is not None \
                    or session.user_id != user.id:
                raise Unauthorized(_ENDED)
            now = utcnow()
            if now - session.last_used_at > _TOUCH_EVERY:
                session.last_used_at = now
                if source_ip:
                    session.address = source_ip[:64]
                await s.commit()
        return user, claims

    async def open_sessions(self, user_id: int) -> list[AuthSession]:
        """The user's signed-in devices, most recently used first."""
        since = utcnow() - timedelta(days=self.settings.refresh_token_days)
        async with self.db.session() as s:
            return list((await s.scalars(
                select(AuthSession).where(AuthSession.user_id == user_id,
                                          AuthSession.ended_at.is_(None),
                                          AuthSession.last_used_at >= since)
                .order_by(AuthSession.last_used_at.desc()).limit(200))).all())

    async def end(self, who: Principal, user_id: int, *, session_id: str | None = None,
                  keep_own: bool = False) -> int:
        """End one of *user_id*'s sessions, or all of them (but the caller's own with
        *keep_own*). The caller is that user or an admin (the routes check the role)."""
        reason = EndReason.ENDED_BY_USER if who.user_id == user_id else \
            EndReason.ENDED_BY_ADMIN
        async with self.db.session() as s:
            if await s.get(User, user_id) is None:
                raise NotFound(f"User {user_id} does not exist.")
            if session_id is not None:
                exists = await s.scalar(select(AuthSession.id).where(
                    AuthSession.id == session_id, AuthSession.user_id == user_id,
                    AuthSession.ended_at.is_(None)))
                if exists is None:
                    raise NotFound(f"No open session '{session_id}'.")
            count = await end_sessions(s, user_id, reason, only=session_id,
                                       keep=who.session_id if keep_own else None)
            audit.record(s, who, "auth.sessions_ended", target_type="user",
                         target_id=user_id,
                         detail={"session": session_id or "all", "count": count})
            await s.commit()
        self.watch.changed(user_id)
        return count

    async def access_lost(self, who: Principal, token_expiry: bool = True) -> str | None:
        """Why *who* may no longer keep a stream open, or None while they may."""
        if who.user_id is None:
            return None
        if token_expiry and who.token_expires_at is not None \
                and utcnow() >= who.token_expires_at:
            return "access token expired; refresh it and reconnect"
        async with self.db.session() as s:
            user = await s.get(User, who.user_id)
            session = await s.get(AuthSession, who.session_id) if who.session_id else None
            if user is None or user.disabled or session is None \
                    or session.ended_at is not None:
                return "session ended; sign in again"
            if Role(user.role) is not who.role or frozenset(user.area_ids) != who.area_ids:
                return "your role or areas changed; reconnect"
        return None

    async def until_access_lost(self, who: Principal, token_expiry: bool = True) -> str:
        """Wait while *who* keeps access; return why it ended. Re-checks when this
        process changes the user, every ``stream_recheck_s``, and at token expiry
        (*token_expiry* False: a stream bound to the session, not to one token, such as
        a WebRTC view, which the browser cannot re-authenticate)."""
        if who.user_id is None:
            await asyncio.Event().wait()  # the CLI's principal: never
        assert who.user_id is not None
        while True:
            wait = self.settings.stream_recheck_s
            if token_expiry and who.token_expires_at is not None:
                left = (who.token_expires_at - utcnow()).total_seconds()
                wait = min(wait, max(left, 0.0))
            await self.watch.wait(who.user_id, wait)
            reason = await self.access_lost(who, token_expiry)
            if reason is not None:
                return reason

    async def check_password(self, who: Principal, password: str) -> None:
        """Re-confirm the signed-in user's password before a sensitive change. Failures
        count towards the same lockout as failed sign-ins and are audited: a stolen
        session must not become an unlimited password oracle."""
        address = who.source_ip or "unknown"
        async with self.db.session() as s:
            await self.check_lockout(s, who.username, address)
            user = await s.get(User, who.user_id) if who.user_id is not None else None
            if user is not None and await self.passwords.verify(user.password_hash, password):
                return
            s.add(LoginAttempt(username=who.username[:64], address=address[:64],
                               success=False))
            audit.record(s, who, "auth.password_check_failed", target_type="user",
                         target_id=who.user_id)
            await s.commit()
        log.warning("password check failed", username=who.username, address=address)
        raise Unauthorized("The current password is wrong.")
