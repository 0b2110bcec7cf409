"""HTTP API under /api/v1: one router per domain, wired in :func:`api_router`."""

from fastapi import APIRouter

from camera_center.api import alerts, areas, audit, auth, cameras, live, rules, users


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for module in (auth, users, areas, cameras, rules, alerts, live, audit):
        router.include_router(module.router)
    return router
