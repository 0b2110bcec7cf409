"""What multi-server mode needs before a server of role api or worker starts: PostgreSQL
(the shared state and the camera leases), NATS (what flows between servers) and the
cluster secret (server-to-server calls). Each missing piece is said in one line."""

from __future__ import annotations

from sqlalchemy import text

from camera_center.cluster.link import ClusterLink, LinkUnavailable
from camera_center.settings import Settings
from camera_center.storage.engine import Database


async def problems(settings: Settings) -> list[str]:
    """Empty when this server can start in its role (always for role all)."""
    role = settings.cluster.role
    if role == "all":
        return []
    found = []
    if not settings.database_url.startswith("postgresql"):
        found.append(f"role {role} needs PostgreSQL (database.url): several servers "
                     "cannot share a SQLite file")
    else:
        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
        except Exception as exc:  # the type only: a driver's message may hold the URL
            found.append(f"role {role} cannot reach PostgreSQL at database.url "
                         f"({type(exc).__name__})")
        finally:
            await db.close()
    for name in ("credentials_key", "jwt_secret"):
        if getattr(settings, name) is None and getattr(settings, f"{name}_file") is None:
            # Made up per server otherwise: the servers could read neither each other's
            # camera passwords nor each other's sessions.
            found.append(f"role {role} needs {name} (or {name}_file) set, the same on "
                         "every server of the center")
    address = settings.cluster.internal_address
    if address is None and settings.server.host in ("0.0.0.0", "::"):  # noqa: S104
        found.append(f"role {role} listening on {settings.server.host} needs "
                     "cluster.internal_address: where the other servers reach this one")
    if settings.cluster.secret is None:
        found.append(f"role {role} needs cluster.secret (at least 32 characters, the same "
                     "on every server of the center)")
    link = ClusterLink(settings.cluster.nats_url, "preflight")
    try:
        await link.connect(timeout_s=3.0)
    except LinkUnavailable as exc:
        found.append(f"role {role}: {exc}")
    finally:
        await link.stop()
    return found
