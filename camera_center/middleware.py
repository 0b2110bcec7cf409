"""ASGI middleware: request body limits and per-request metrics and log lines."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from camera_center.errors import problem_response
from camera_center.logs import get_logger

log = get_logger("camera_center.http")


class BodyLimit:
    """Refuse bodies over a size with 413, before they are read into memory."""

    def __init__(self, app: ASGIApp, default: int, per_path: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = per_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    reason = (f"The request body is larger than {limit} bytes."
                              if declared > limit else "Content-Length is not a number.")
                    status = 413 if declared > limit else 400
                    await problem_response(status, reason)(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Count and time requests by route template; log one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _route_template(scope: Scope) -> str:
        """The path template, so that /cameras/du-001 is counted as /cameras/{camera_id}.

        The matched route (left in the scope by the router) knows its template without the
        prefixes of the routers it was included through; the request path ends with that
        template filled in, and what comes before is those prefixes.
        """
        template: str | None = getattr(scope.get("route"), "path_format", None)
        if template is None:
            return "other"
        try:
            filled = template.format(**scope.get("path_params", {}))
        except (KeyError, IndexError, ValueError):
            return template
        path: str = scope["path"]
        return path[:-len(filled)] + template if path.endswith(filled) else template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - start
            route = self._route_template(scope)
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                services.metrics.requests.labels(scope["method"], route, str(status)).inc()
                services.metrics.latency.labels(scope["method"], route).observe(elapsed)
            client = scope.get("client")
            log.info("request", method=scope["method"], path=scope["path"], status=status,
                     ms=round(elapsed * 1000, 1), client=client[0] if client else None)


# What the console's pages may load: only this site's own scripts (no inline script,
# no eval), pictures and video from this site or the blob: URLs the wall and playback
# make, connections back to this site (WebSockets included). Inline style attributes
# stay allowed: the wall and the timeline place elements with them, and a style cannot
# run code. No page may be framed (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """The same security headers on every HTTP answer (pages, API, files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in _SECURITY_HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)
