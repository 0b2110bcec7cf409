"""Sign-in, token refresh, sign-out, the caller's own account."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal, TypedDict

from fastapi import APIRouter, Path, Request, Response

from camera_center.api.deps import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    AnyUser,
    ServicesDep,
    SignedIn,
    client_ip,
)
from camera_center.auth.models import AuthSession
from camera_center.auth.schemas import (
    LoginRequest,
    MeOut,
    PasswordChange,
    RefreshRequest,
    SecondFactorLogin,
    SecondFactorRequired,
    SessionOut,
    TokenResponse,
)
from camera_center.auth.sessions import IssuedTokens, SecondFactorNeeded
from camera_center.auth.users import to_out
from camera_center.errors import Unauthorized, UnprocessableEntity, problem_responses

router = APIRouter(prefix="/auth", tags=["auth"],
                   responses=problem_responses(400, 401, 403, 422, 429))


class _CookieFlags(TypedDict):
    """What every auth cookie shares (Response.set_cookie's keyword arguments)."""

    secure: bool
    samesite: Literal["lax", "strict", "none"]


def _token_response(tokens: IssuedTokens, response: Response, services: ServicesDep,
                    cookie: bool) -> TokenResponse:
    restriction = services.sessions.restriction(tokens.user)
    if not cookie:
        return TokenResponse(access_token=tokens.access_token,
                             refresh_token=tokens.refresh_token,
                             expires_in=tokens.expires_in, restriction=restriction,
                             user=to_out(tokens.user))
    auth = services.settings.auth
    csrf = secrets.token_urlsafe(24)
    common: _CookieFlags = {"secure": auth.secure_cookies(services.settings.server.host),
                            "samesite": "strict"}
    response.set_cookie(ACCESS_COOKIE, tokens.access_token, httponly=True, path="/",
                        max_age=tokens.expires_in, **common)
    response.set_cookie(REFRESH_COOKIE, tokens.refresh_token, httponly=True,
                        path="/api/v1/auth", max_age=auth.refresh_token_days * 86400, **common)
    # Readable by our page's script, which echoes it in the X-CSRF-Token header.
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, path="/",
                        max_age=auth.refresh_token_days * 86400, **common)
    return TokenResponse(access_token=None, refresh_token=None, expires_in=tokens.expires_in,
                         csrf_token=csrf, restriction=restriction, user=to_out(tokens.user))


@router.post("/login", response_model=TokenResponse | SecondFactorRequired,
             summary="Sign in (then the second factor, for users who have one)")
async def login(body: LoginRequest, request: Request, response: Response,
                services: ServicesDep) -> TokenResponse | SecondFactorRequired:
    result = await services.sessions.login(body.username, body.password.get_secret_value(),
                                           client_ip(request),
                                           request.headers.get("user-agent", ""))
    if isinstance(result, SecondFactorNeeded):
        return SecondFactorRequired(challenge=result.challenge, expires_in=result.expires_in)
    return _token_response(result, response, services, body.cookie)


@router.post("/login/second-factor", response_model=TokenResponse,
             summary="Finish signing in with a TOTP code or a recovery code")
async def login_second_factor(body: SecondFactorLogin, request: Request, response: Response,
                              services: ServicesDep) -> TokenResponse:
    tokens = await services.second_factors.sign_in(
        body.challenge, body.code, body.recovery_code, client_ip(request),
        request.headers.get("user-agent", ""))
    return _token_response(tokens, response, services, body.cookie)


@router.post("/refresh", response_model=TokenResponse, summary="New tokens for a refresh token")
async def refresh(request: Request, response: Response, services: ServicesDep,
                  body: RefreshRequest | None = None) -> TokenResponse:
    from_cookie = request.cookies.get(REFRESH_COOKIE)
    token = (body.refresh_token if body else None) or from_cookie
    if not token:
        raise Unauthorized("Send the refresh token in the body or the session cookie.")
    tokens = await services.sessions.refresh(token, client_ip(request))
    return _token_response(tokens, response, services, cookie=token == from_cookie)


@router.post("/logout", status_code=204,
             summary="Sign out: ends this session, its access and refresh tokens")
async def logout(request: Request, response: Response, who: SignedIn, services: ServicesDep,
                 body: RefreshRequest | None = None) -> Response:
    token = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    await services.sessions.logout(token, who)
    response.status_code = 204
    for name, path in ((ACCESS_COOKIE, "/"), (REFRESH_COOKIE, "/api/v1/auth"),
                       (CSRF_COOKIE, "/")):
        response.delete_cookie(name, path=path)
    return response


@router.get("/me", response_model=MeOut, summary="The signed-in user")
async def me(who: SignedIn, services: ServicesDep) -> MeOut:
    assert who.user_id is not None
    user = await services.users.get(who.user_id)
    return MeOut(**to_out(user).model_dump(), restriction=services.sessions.restriction(user))


@router.post("/password", status_code=204,
             summary="Change your own password (every session ends, this one too)")
async def change_password(body: PasswordChange, who: SignedIn, services: ServicesDep) -> Response:
    assert who.user_id is not None
    await services.sessions.check_password(who, body.current_password.get_secret_value())
    if body.new_password.get_secret_value() == body.current_password.get_secret_value():
        raise UnprocessableEntity("The new password must differ from the current one.",
                                  errors=[{"field": "new_password",
                                           "message": "same as the current password"}])
    await services.users.set_password(who.user_id, body.new_password.get_secret_value(), who)
    return Response(status_code=204)


# -- signed-in devices -----------------------------------------------------------------------

def session_out(row: AuthSession, current: str | None) -> SessionOut:
    return SessionOut(id=row.id, created_at=row.created_at, last_used_at=row.last_used_at,
                      address=row.address, user_agent=row.user_agent,
                      current=row.id == current)


@router.get("/sessions", response_model=list[SessionOut],
            summary="Your signed-in devices, most recently used first")
async def my_sessions(who: AnyUser, services: ServicesDep) -> list[SessionOut]:
    assert who.user_id is not None
    return [session_out(r, who.session_id)
            for r in await services.sessions.open_sessions(who.user_id)]


@router.delete("/sessions/{session_id}", status_code=204, responses=problem_responses(404),
               summary="End one of your sessions (its streams close within seconds)")
async def end_my_session(session_id: Annotated[str, Path(max_length=32)], who: AnyUser,
                         services: ServicesDep) -> Response:
    assert who.user_id is not None
    await services.sessions.end(who, who.user_id, session_id=session_id)
    return Response(status_code=204)


@router.delete("/sessions", status_code=204,
               summary="End all your other sessions (this one stays signed in)")
async def end_my_other_sessions(who: AnyUser, services: ServicesDep) -> Response:
    assert who.user_id is not None
    await services.sessions.end(who, who.user_id, keep_own=True)
    return Response(status_code=204)
