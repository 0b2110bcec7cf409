"""Liveness, readiness and Prometheus metrics (outside /api/v1, for orchestrators).

/healthz and /readyz say nothing about cameras or users and need no sign-in, so
that load balancers can call them. /metrics needs the configured metrics token
(Prometheus' bearer_token) or an admin's access token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import func, select

from camera_center import __version__
from camera_center.api.deps import ServicesDep, _bearer, current_principal
from camera_center.auth.models import User
from camera_center.auth.roles import Role
from camera_center.errors import Forbidden, problem_response, problem_responses
from camera_center.registry.models import Camera

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Health, summary="Readiness: the database answers",
            responses=problem_responses(503))
async def readyz(services: ServicesDep) -> Response | Health:
    try:
        await services.db.ping()
    except Exception:  # any failure means "not ready"; the reason goes to the log, not out
        return problem_response(503, "The database is not reachable.")
    return Health(status="ready", version=__version__)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                       **problem_responses(401, 403)})
async def metrics(
    request: Request, services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    token = services.settings.server.metrics_token
    if not (token and bearer and hmac.compare_digest(bearer.credentials.encode(),
                                                     token.get_secret_value().encode())):
        who = await current_principal(request, services, bearer)
        if who.role is not Role.ADMIN:
            raise Forbidden("Metrics need the metrics token or an admin.")
    m = services.metrics
    async with services.db.session() as s:
        for enabled, count in (await s.execute(
                select(Camera.enabled, func.count()).group_by(Camera.enabled))).all():
            m.cameras.labels(enabled=str(bool(enabled)).lower()).set(count)
        m.users.set(await s.scalar(select(func.count()).select_from(User)) or 0)
    if services.fleet is not None:
        m.observe_fleet(services.fleet)
    if services.analysis is not None:
        m.observe_detector(services.analysis)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
