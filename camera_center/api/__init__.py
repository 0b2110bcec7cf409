"""HTTP API under /api/v1: one router per domain, wired in :func:`api_router`."""

from fastapi import APIRouter

from camera_center.api import (
    alert_stream,
    alerts,
    areas,
    audit,
    auth,
    camera_probe,
    cameras,
    cluster,
    exports,
    live,
    onvif,
    ptz,
    recordings,
    rules,
    second_factor,
    stats,
    users,
    views,
    webhooks,
)


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    # alert_stream before alerts: /alerts/stream is not an alert id.
    for module in (auth, second_factor, users, areas, cameras, rules, alert_stream, alerts,
                   webhooks, live, audit, views):
        router.include_router(module.router)
    router.include_router(camera_probe.router)  # test connection (admin page)
    router.include_router(stats.router)  # dashboard figures
    router.include_router(onvif.router)  # discover, inspect, register (admin)
    router.include_router(ptz.router)  # steer a camera (operators, admins)
    router.include_router(recordings.router)  # timelines, playback, holds
    router.include_router(exports.router)  # signed evidence packages
    router.include_router(cluster.router)  # the center's servers (admins)
    return router
