"""Request dependencies: the app's services, the caller's address, authentication, roles."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from ipaddress import ip_address, ip_network
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from camera_center.auth.roles import Principal, Restriction, Role
from camera_center.auth.sessions import principal_for
from camera_center.errors import ACCOUNT_SETUP_PROBLEM, BadRequest, Forbidden, Unauthorized
from camera_center.services import Services

ACCESS_COOKIE = "cc_access"
REFRESH_COOKIE = "cc_refresh"
CSRF_COOKIE = "cc_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/login")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services  # set by the app's lifespan
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(request: Request) -> str:
    """The caller's address; X-Forwarded-For only counts when a trusted proxy sent it."""
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.services.settings.server.trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and trusted:
        try:
            if any(ip_address(peer) in ip_network(net, strict=False) for net in trusted):
                return forwarded.split(",")[-1].strip()[:64]
        except ValueError:
            pass
    return peer


async def current_principal(
    request: Request, services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = bearer.credentials if bearer else None
    if token is None:
        token = request.cookies.get(ACCESS_COOKIE)
        # Cookies ride along on cross-site requests; a change must prove it came from our page.
        if token and request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            expected = request.cookies.get(CSRF_COOKIE, "")
            if not expected or not hmac.compare_digest(sent, expected):
                raise Forbidden("Missing or wrong CSRF token: send the cc_csrf cookie's value "
                                f"in the {CSRF_HEADER} header.")
    if not token:
        raise Unauthorized()
    user, claims = await services.sessions.authenticate(token, client_ip(request))
    return principal_for(user, client_ip(request), claims, services.sessions.restriction(user))


def refuse_restricted(who: Principal) -> None:
    """A session restricted to finishing its account's setup reaches nothing else."""
    if who.restriction == Restriction.PASSWORD_CHANGE:
        raise Forbidden("Change the initial password first (POST /api/v1/auth/password); "
                        "until then this session can do nothing else.",
                        type=ACCOUNT_SETUP_PROBLEM)
    if who.restriction == Restriction.SECOND_FACTOR_ENROLLMENT:
        raise Forbidden(f"The role {who.role.value} must sign in with a second factor: "
                        "enrol one first (POST /api/v1/auth/second-factor/setup); until "
                        "then this session can do nothing else.", type=ACCOUNT_SETUP_PROBLEM)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller, who must hold one of *roles* (with a session that has
    finished its account's setup)."""
    allowed = set(roles)

    async def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        refuse_restricted(who)
        if who.role not in allowed:
            raise Forbidden(f"This needs the role {' or '.join(sorted(r.value for r in allowed))}"
                            f"; you are signed in as {who.role.value}.")
        return who

    return check


AnyUser = Annotated[Principal, Depends(require(Role.ADMIN, Role.OPERATOR, Role.OFFICER))]
# Anyone signed in, restricted sessions too: only for the calls that finish an account's
# setup (who am I, change the password, enrol a second factor, sign out).
SignedIn = Annotated[Principal, Depends(current_principal)]
Staff = Annotated[Principal, Depends(require(Role.ADMIN, Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# Who may hand footage out (exports, evidence holds): operators watch, they do not.
Exporter = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER))]


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's Origin header names the host the request was sent to (behind
    a reverse proxy, one that passes the Host header on)."""
    parts = urlsplit(origin)
    return bool(parts.scheme in ("http", "https") and parts.netloc
                and parts.netloc.lower() == host.lower())


async def websocket_principal(ws: WebSocket, services: Services) -> Principal:
    """Browsers cannot set headers on a WebSocket: the session cookie or ?token= works
    too. (Request logs carry no query strings, so the token is not logged.)"""
    auth = ws.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else None
    token = token or ws.query_params.get("token")
    if not token and (token := ws.cookies.get(ACCESS_COOKIE)):
        # Cookies ride along on a handshake that another site's page starts (a sibling
        # port or subdomain is "same-site" to SameSite); browsers always say where the
        # page came from.
        origin = ws.headers.get("origin")
        if origin is not None and not same_origin(origin, ws.headers.get("host", "")):
            raise Forbidden("A WebSocket signed in by cookie must come from this site's "
                            "own pages.")
    if not token:
        raise BadRequest("Sign in first: send a bearer token, the session cookie or ?token=.")
    address = ws.client.host if ws.client else None
    user, claims = await services.sessions.authenticate(token, address)
    who = principal_for(user, address, claims, services.sessions.restriction(user))
    refuse_restricted(who)
    return who
