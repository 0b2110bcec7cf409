"""The console's pages: sign-in, wall, alerts, dashboard, playback, administration, the
user's own account.

Each page is a static HTML shell whose script reads everything through the API, so a
page holds no data of its own; the server still refuses a page to someone who is not
signed in (redirect to sign-in) or whose role may not use it (403).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from camera_center.api.deps import ACCESS_COOKIE, client_ip
from camera_center.auth.roles import Role
from camera_center.errors import Problem

# The pages, scripts and styles: the top-level ``web`` package holds them as data.
STATIC = Path(str(resources.files("web") / "static"))

# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes) as pinned in constraints.txt, from a
# package that ships its files; only the files are used.
SWAGGER_UI = Path(str(resources.files("fastapi_offline") / "static"))

# Page name -> the roles that may open it.
PAGES: dict[str, frozenset[Role]] = {
    "wall": frozenset({Role.ADMIN, Role.OPERATOR}),
    "alerts": frozenset({Role.ADMIN, Role.OPERATOR, Role.OFFICER}),
    "dashboard": frozenset({Role.ADMIN, Role.OPERATOR}),
    # Footage follows areas like alerts: officers play back their areas' cameras.
    "playback": frozenset({Role.ADMIN, Role.OPERATOR, Role.OFFICER}),
    "admin": frozenset({Role.ADMIN}),
    # Everyone's own devices and password.
    "account": frozenset({Role.ADMIN, Role.OPERATOR, Role.OFFICER}),
}
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


def mount_static(app: FastAPI) -> None:
    # Swagger UI's files from a pinned package, served by this server: no CDN. (Before
    # /static, which would otherwise take these paths.)
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _html(name: str) -> HTMLResponse:
    return HTMLResponse((STATIC / f"{name}.html").read_text(encoding="utf-8"), headers=_NO_STORE)


@router.get("/", response_class=HTMLResponse)
async def sign_in_page() -> HTMLResponse:
    return _html("index")


@router.get("/docs", response_class=HTMLResponse)
async def api_docs_page() -> HTMLResponse:
    """The API's documentation (Swagger UI on /openapi.json), public like the document."""
    return _html("api-docs")


async def _page(request: Request, name: str) -> Response:
    services = request.app.state.services
    token = request.cookies.get(ACCESS_COOKIE)
    try:
        if not token:
            raise LookupError
        user, _claims = await services.sessions.authenticate(token, client_ip(request))
    except (Problem, LookupError):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/?next={quote(target, safe='')}", status_code=303)
    if name != "account" and services.sessions.restriction(user) is not None:
        # The initial password to change, or a second factor to enrol: the account page.
        return RedirectResponse("/account", status_code=303)
    if Role(user.role) not in PAGES[name]:
        return HTMLResponse((STATIC / "forbidden.html").read_text(encoding="utf-8"),
                            status_code=403, headers=_NO_STORE)
    return _html(name)


def _add_page(name: str) -> None:
    async def page(request: Request) -> Response:
        return await _page(request, name)

    router.add_api_route(f"/{name}", page, methods=["GET"], response_class=HTMLResponse,
                         name=f"page_{name}")


for _name in PAGES:
    _add_page(_name)
