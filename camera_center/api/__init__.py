"""HTTP API under /api/v1: one router per domain, wired in :func:`api_router`."""

from fastapi import APIRouter

from camera_center.api import (
    alert_stream,
    alerts,
    areas,
    audit,
    auth,
    cameras,
    live,
    rules,
    users,
    webhooks,
)


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    # alert_stream before alerts: /alerts/stream is not an alert id.
    for module in (auth, users, areas, cameras, rules, alert_stream, alerts, webhooks, live,
                   audit):
        router.include_router(module.router)
    return router
