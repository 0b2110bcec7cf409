"""Where saved views live: each user reads and changes only their own."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from camera_center.auth.roles import Principal
from camera_center.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from camera_center.registry.cameras import CameraRegistry
from camera_center.storage.engine import Database
from camera_center.views.models import SavedView
from camera_center.views.schemas import ViewCreate, ViewFilters, ViewOut, ViewUpdate

MAX_VIEWS_PER_USER = 100


def to_out(view: SavedView) -> ViewOut:
    return ViewOut(id=view.id, name=view.name, layout=view.layout,
                   filters=ViewFilters(**(view.filters or {})),
                   camera_ids=list(view.camera_ids or []), created_at=view.created_at,
                   updated_at=view.updated_at)


def _owner(who: Principal) -> int:
    if who.user_id is None:
        raise Forbidden("Saved views belong to a user account; sign in as one.")
    return who.user_id


class ViewStore:
    def __init__(self, db: Database, cameras: CameraRegistry) -> None:
        self.db = db
        self.cameras = cameras

    async def list(self, who: Principal) -> list[SavedView]:
        async with self.db.session() as s:
            rows = await s.scalars(select(SavedView).where(SavedView.user_id == _owner(who))
                                   .order_by(SavedView.name, SavedView.id))
            return list(rows.all())

    async def get(self, who: Principal, view_id: int) -> SavedView:
        async with self.db.session() as s:
            view = await s.get(SavedView, view_id)
        # Someone else's view answers like a missing one: ids reveal nothing.
        if view is None or view.user_id != _owner(who):
            raise NotFound(f"View {view_id} does not exist.")
        return view

    async def _check_cameras(self, who: Principal,
                             camera_ids: builtins.list[str]) -> builtins.list[str]:
        if not camera_ids:
            return []
        visible, _total = await self.cameras.list(who, limit=10**9)
        known = {c.id for c in visible}
        unknown = [c for c in dict.fromkeys(camera_ids) if c not in known]
        if unknown:
            raise UnprocessableEntity(
                "These cameras do not exist or are outside your areas: "
                + ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else ""),
                errors=[{"field": "camera_ids", "message": f"unknown camera '{c}'"}
                        for c in unknown[:20]])
        return list(dict.fromkeys(camera_ids))

    async def create(self, who: Principal, data: ViewCreate) -> SavedView:
        owner = _owner(who)
        cameras = await self._check_cameras(who, data.camera_ids)
        async with self.db.session() as s:
            count = await s.scalar(select(func.count()).select_from(SavedView)
                                   .where(SavedView.user_id == owner))
            if (count or 0) >= MAX_VIEWS_PER_USER:
                raise Conflict(f"You have {MAX_VIEWS_PER_USER} saved views already; "
                               "delete one first.")
            view = SavedView(user_id=owner, name=data.name, layout=int(data.layout),
                             filters=data.filters.model_dump(mode="json", exclude_none=True),
                             camera_ids=cameras)
            s.add(view)
            await self._commit(s, data.name)
            await s.refresh(view)
            return view

    async def update(self, who: Principal, view_id: int, data: ViewUpdate) -> SavedView:
        await self.get(who, view_id)
        changes: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True,
                                                  exclude_none=True)
        if data.camera_ids is not None:
            changes["camera_ids"] = await self._check_cameras(who, data.camera_ids)
        if data.filters is not None:
            changes["filters"] = data.filters.model_dump(mode="json", exclude_none=True)
        async with self.db.session() as s:
            view = await s.get(SavedView, view_id)
            if view is None:
                raise NotFound(f"View {view_id} does not exist.")
            for key, value in changes.items():
                setattr(view, key, value)
            await self._commit(s, changes.get("name", view.name))
            await s.refresh(view)
            return view

    async def delete(self, who: Principal, view_id: int) -> None:
        await self.get(who, view_id)
        async with self.db.session() as s:
            view = await s.get(SavedView, view_id)
            if view is not None:
                await s.delete(view)
                await s.commit()

    @staticmethod
    async def _commit(s: Any, name: str) -> None:
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()
            raise Conflict(f"You already have a view named '{name}'; pick another name "
                           "or change that one.") from None
