"""JWT access and refresh tokens (HS256, signed with the server's secret)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

ALGORITHM = "HS256"
ISSUER = "camera-center"

# challenge: a password accepted, waiting for the second factor (opens no session).
TokenKind = Literal["access", "refresh", "challenge"]


class TokenError(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    kind: TokenKind
    jti: str
    issued_at: datetime
    expires_at: datetime
    session_id: str | None = None  # None only in tokens issued before sessions existed


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(self, user_id: int, kind: TokenKind, lifetime: timedelta,
              now: datetime | None = None, session_id: str | None = None
              ) -> tuple[str, TokenClaims]:
        now = now or datetime.now(UTC)
        claims = TokenClaims(user_id=user_id, kind=kind, jti=secrets.token_urlsafe(24),
                             issued_at=now, expires_at=now + lifetime, session_id=session_id)
        payload: dict[str, Any] = {
            "sub": str(user_id), "typ": kind, "jti": claims.jti, "iss": ISSUER,
            "iat": int(now.timestamp()), "exp": int(claims.expires_at.timestamp()),
            # iat has whole seconds; revocation ("tokens before this instant") needs more.
            "ts": now.timestamp(),
        }
        if session_id is not None:
            payload["sid"] = session_id
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def verify(self, token: str, kind: TokenKind) -> TokenClaims:
        try:
            payload = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                 options={"require": ["sub", "exp", "iat", "jti", "typ"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid token") from exc
        if payload.get("typ") != kind:
            raise TokenError(f"not a {kind} token")
        try:
            user_id = int(payload["sub"])
        except (TypeError, ValueError) as exc:
            raise TokenError("invalid token subject") from exc
        return TokenClaims(
            user_id=user_id, kind=kind, jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(float(payload.get("ts", payload["iat"])), UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            session_id=str(payload["sid"]) if payload.get("sid") else None,
        )
