"""Cameras an admin pinned to a worker (``assignment.plan``'s first rule): the camera goes
there while that worker is live, and back to the plan when it is not."""

from __future__ import annotations

from sqlalchemy import delete, select

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.cluster.assignment import Camera
from camera_center.cluster.models import CameraPin
from camera_center.registry.models import Camera as RegisteredCamera
from camera_center.storage.engine import Database, upsert_into


class PinStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> dict[str, str]:
        """Camera id -> node id."""
        async with self.db.session() as s:
            rows = (await s.execute(select(CameraPin.camera_id, CameraPin.node_id))).all()
        return {c: n for c, n in rows}

    async def placement(self) -> list[Camera]:
        """Every enabled camera as the assignment places it: its area, and its pin."""
        async with self.db.session() as s:
            rows = (await s.execute(
                select(RegisteredCamera.id, RegisteredCamera.area_id, CameraPin.node_id)
                .outerjoin(CameraPin, CameraPin.camera_id == RegisteredCamera.id)
                .where(RegisteredCamera.enabled.is_(True)))).all()
        return [Camera(c, a, p) for c, a, p in rows]

    async def pin(self, camera_id: str, node_id: str, who: Principal) -> None:
        """Pin (or re-pin), audited in the same transaction. IntegrityError: no such
        camera (any more)."""
        stmt = upsert_into(self.db.dialect, CameraPin).values(camera_id=camera_id,
                                                             node_id=node_id)
        async with self.db.session() as s:
            await s.execute(stmt.on_conflict_do_update(
                index_elements=["camera_id"], set_={"node_id": stmt.excluded.node_id}))
            audit.record(s, who, "camera.pin", target_type="camera", target_id=camera_id,
                         detail={"node_id": node_id})
            await s.commit()

    async def unpin(self, camera_id: str, who: Principal) -> bool:
        """False if the camera was not pinned; audited in the same transaction."""
        async with self.db.session() as s:
            was = await s.scalar(select(CameraPin.node_id)
                                 .where(CameraPin.camera_id == camera_id).with_for_update())
            if was is None:
                return False
            await s.execute(delete(CameraPin).where(CameraPin.camera_id == camera_id))
            audit.record(s, who, "camera.unpin", target_type="camera", target_id=camera_id,
                         detail={"node_id": was})
            await s.commit()
        return True
