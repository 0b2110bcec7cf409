"""Errors with a status, and the problem-details bodies (RFC 9457) the API answers with.

Services raise :class:`Problem` subclasses; the handlers here turn those, request
validation failures and anything unexpected into ``application/problem+json``.
Nothing a client sends is echoed back (it may hold a password), and no traceback
ever reaches a client.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from camera_center.logs import get_logger

log = get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The problem type of a call refused because the session must first change its initial
# password or enrol a second factor (the console sends the user to their account page).
ACCOUNT_SETUP_PROBLEM = "urn:camera-center:problem:account-setup-required"


class ProblemBody(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    status = 400

    def __init__(self, detail: str, *, title: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, type: str = "about:blank") -> None:
        super().__init__(detail)
        self.detail = detail
        self.type = type
        self.title = title or HTTPStatus(self.status).phrase
        self.errors = errors
        self.headers = headers


class BadRequest(Problem):
    status = 400


class Unauthorized(Problem):
    status = 401

    def __init__(self, detail: str = "Sign in first: send a bearer token or the session cookie.",
                 **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class Conflict(Problem):
    status = 409


class PayloadTooLarge(Problem):
    status = 413


class UnprocessableEntity(Problem):
    status = 422


class TooManyRequests(Problem):
    status = 429


def problem_response(status: int, detail: str, *, title: str | None = None,
                     errors: list[dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None,
                     type: str = "about:blank") -> JSONResponse:
    body = ProblemBody(type=type, title=title or HTTPStatus(status).phrase, status=status,
                       detail=detail, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field errors without the rejected input (it may be a password)."""
    out = []
    for err in errors:
        msg = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
        out.append({"field": _loc(tuple(err.get("loc", ()))), "message": msg})
    return out


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, title=exc.title, errors=exc.errors,
                            headers=exc.headers, type=exc.type)


async def _on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource; see /docs for the API."
    if exc.status_code == 405:
        detail = "This method is not allowed on this resource."
    return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e["type"] == "json_invalid" for e in raw):
        return problem_response(400, "The request body is not valid JSON.",
                                title="Malformed JSON")
    errors = validation_errors(raw)
    first = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    return problem_response(422, f"The request has invalid fields: {first}",
                            title="Invalid request", errors=errors)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, method=request.method,
              error_type=type(exc).__name__, exc_info=exc)
    return problem_response(500, "The server hit an unexpected error; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem bodies a route may answer with."""
    return {s: {"model": ProblemBody, "description": HTTPStatus(s).phrase,
                "content": {PROBLEM_MEDIA_TYPE: {}}} for s in statuses}
