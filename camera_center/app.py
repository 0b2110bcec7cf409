"""App assembly: the lifespan builds every service; routers and middleware are wired here."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI

from camera_center import __version__
from camera_center.api import api_router, internal, ops
from camera_center.auth.bootstrap import bootstrap_admin
from camera_center.console import pages, wall_socket, webrtc
from camera_center.errors import install_error_handlers
from camera_center.logs import get_logger
from camera_center.middleware import BodyLimit, RequestMetrics, SecurityHeaders
from camera_center.services import Services
from camera_center.settings import Settings
from camera_center.storage import migrate

log = get_logger(__name__)


class UvicornOptions(TypedDict):
    """Keyword arguments for uvicorn.run / uvicorn.Config."""

    log_config: None
    access_log: bool
    proxy_headers: bool
    ws: str
    ws_per_message_deflate: bool


# How uvicorn serves the app (the CLI and the benchmarks alike). No per-message deflate:
# live alerts send the same JSON to hundreds of sockets, and compressing it once per
# socket was the largest single cost of fan-out (500 subscribers, bench.alerts).
UVICORN_OPTIONS: UvicornOptions = {
    "log_config": None, "access_log": False, "proxy_headers": False,
    "ws": "websockets-sansio", "ws_per_message_deflate": False,
}


class NotMigrated(RuntimeError):
    pass


async def prepare_database(services: Services) -> None:
    settings = services.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Several servers of one center would race each other's migrations: there,
    # ``camera-center migrate`` runs once, before them (compose: its migrate service).
    if settings.database.auto_migrate and settings.cluster.role == "all":
        await migrate.upgrade(services.db)
        return
    current, head = await migrate.current_revision(services.db), migrate.head_revision()
    if current != head:
        raise NotMigrated(f"database schema is at {current or 'nothing'}, the code needs "
                          f"{head}: run 'camera-center migrate' first")


def create_app(settings: Settings, freeze_after_start: bool = False) -> FastAPI:
    """*freeze_after_start*: the process serves this one app (``serve``), so what stands
    once it has started is moved out of the garbage collector's sight (``gc.freeze``).
    A full collection of that heap took 127 ms here (222,000 objects from the imports
    alone), a pause for every request in flight whenever one ran: they were all of the
    slow runs of the 93-day alert summary (p99 109 ms, 64 ms frozen). Tests build many
    apps in one process and leave it off, or nothing of theirs would ever be freed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings)
        try:
            await prepare_database(services)
            await bootstrap_admin(services.users, settings.auth.bootstrap_admin)
            await services.start_ingest()
            if freeze_after_start:
                gc.collect()
                gc.freeze()
            app.state.services = services
            log.info("server ready", database=services.db.dialect,
                     data_dir=str(settings.data_dir.resolve()))
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="camera-center",
        version=__version__,
        summary="Video-surveillance control center: cameras, areas, users, alerts.",
        lifespan=lifespan,
        # The API's docs page is the console's own (pages.py): FastAPI's loads its
        # script from a CDN, with an inline script the security policy refuses.
        docs_url=None, redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(internal.router)  # other servers of the center (cluster secret)
    if settings.cluster.role != "worker":  # a worker has no console and no public API
        app.include_router(api_router())
        app.include_router(pages.router)
        app.include_router(webrtc.router)  # live video (WebRTC signalling)
        app.include_router(wall_socket.router)
        pages.mount_static(app)
    app.add_middleware(
        BodyLimit, default=settings.server.max_body_bytes,
        per_path={"/api/v1/cameras/import": settings.server.max_import_bytes},
    )
    app.add_middleware(RequestMetrics)
    app.add_middleware(SecurityHeaders)
    return app
