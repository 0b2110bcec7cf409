"""Areas: the editable tree (province -> district -> commune/town -> site) and area scoping."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import Conflict, NotFound, UnprocessableEntity
from camera_center.events import Event, EventBus
from camera_center.registry.models import Area, Camera
from camera_center.registry.schemas import AreaCreate, AreaKind, AreaUpdate
from camera_center.storage.engine import Database


async def tree_pairs(session: AsyncSession) -> dict[str, str | None]:
    rows = await session.execute(select(Area.id, Area.parent_id))
    return {r.id: r.parent_id for r in rows}


def descendants(pairs: dict[str, str | None], roots: Iterable[str]) -> set[str]:
    """*roots* and every area below them."""
    children: dict[str | None, list[str]] = {}
    for child, parent in pairs.items():
        children.setdefault(parent, []).append(child)
    seen: set[str] = set()
    stack = [r for r in roots if r in pairs]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return seen


async def visible_area_ids(session: AsyncSession, who: Principal) -> set[str] | None:
    """Areas whose cameras and alerts *who* may see; None means all of them."""
    if who.sees_all_areas:
        return None
    return descendants(await tree_pairs(session), who.area_ids)


async def scoped_area_ids(session: AsyncSession, who: Principal,
                          area_id: str | None = None) -> set[str] | None:
    """*who*'s visible areas, narrowed to *area_id* and below when given; None: all."""
    visible = await visible_area_ids(session, who)
    if area_id is not None:
        wanted = descendants(await tree_pairs(session), [area_id])
        visible = wanted if visible is None else visible & wanted
    return visible


class AreaRegistry:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    async def list(self) -> list[Area]:
        async with self.db.session() as s:
            return list((await s.scalars(select(Area).order_by(Area.id))).all())

    async def get(self, area_id: str) -> Area:
        async with self.db.session() as s:
            area = await s.get(Area, area_id)
            if area is None:
                raise NotFound(f"Area '{area_id}' does not exist.")
            return area

    async def _check_parent(self, s: AsyncSession, area_id: str, parent_id: str | None) -> None:
        if parent_id is None:
            return
        pairs = await tree_pairs(s)
        if parent_id not in pairs:
            raise UnprocessableEntity(f"Parent area '{parent_id}' does not exist.")
        if parent_id in descendants(pairs, [area_id]):
            raise UnprocessableEntity(
                f"Area '{parent_id}' lies under '{area_id}'; an area cannot be its own ancestor.")

    async def create(self, data: AreaCreate, who: Principal) -> Area:
        async with self.db.session() as s:
            if await s.get(Area, data.id) is not None:
                raise Conflict(f"Area '{data.id}' already exists.")
            if await s.scalar(select(Area.id).where(Area.name == data.name)):
                raise Conflict(f"An area named '{data.name}' already exists.")
            await self._check_parent(s, data.id, data.parent_id)
            area = Area(id=data.id, name=data.name, kind=data.kind.value,
                        parent_id=data.parent_id)
            s.add(area)
            audit.record(s, who, "area.create", target_type="area", target_id=data.id,
                         detail=data.model_dump(mode="json"))
            await s.commit()
        self.bus.publish(Event("area.added", data.id))
        return area

    async def update(self, area_id: str, data: AreaUpdate, who: Principal) -> Area:
        changes = data.model_dump(mode="json", exclude_unset=True)
        async with self.db.session() as s:
            area = await s.get(Area, area_id)
            if area is None:
                raise NotFound(f"Area '{area_id}' does not exist.")
            if "kind" in changes and changes["kind"] is None:
                raise UnprocessableEntity("kind cannot be empty.")
            if "name" in changes:
                if changes["name"] is None:
                    raise UnprocessableEntity("name cannot be empty.")
                other = await s.scalar(select(Area.id).where(Area.name == changes["name"],
                                                             Area.id != area_id))
                if other:
                    raise Conflict(f"An area named '{changes['name']}' already exists.")
            if "parent_id" in changes:
                if changes["parent_id"] == area_id:
                    raise UnprocessableEntity("An area cannot be its own parent.")
                await self._check_parent(s, area_id, changes["parent_id"])
            for key, value in changes.items():
                setattr(area, key, value)
            audit.record(s, who, "area.update", target_type="area", target_id=area_id,
                         detail=changes)
            await s.commit()
        self.bus.publish(Event("area.updated", area_id, changes=tuple(changes)))
        return area

    async def delete(self, area_id: str, who: Principal) -> None:
        async with self.db.session() as s:
            area = await s.get(Area, area_id)
            if area is None:
                raise NotFound(f"Area '{area_id}' does not exist.")
            children = await s.scalar(select(func.count()).where(Area.parent_id == area_id))
            if children:
                raise Conflict(f"Area '{area_id}' has {children} sub-area(s); "
                               "move or delete them first.")
            cameras = await s.scalar(select(func.count()).where(Camera.area_id == area_id))
            if cameras:
                raise Conflict(f"Area '{area_id}' has {cameras} camera(s); "
                               "move or delete them first.")
            await s.delete(area)
            audit.record(s, who, "area.delete", target_type="area", target_id=area_id)
            await s.commit()
        self.bus.publish(Event("area.removed", area_id))

    async def seed_from_csv(self, text: str, who: Principal, *,
                            parent: AreaCreate | None = None) -> int:
        """Create the areas listed in CSV *text* (code,name,kind) that do not exist yet."""
        rows = list(csv.DictReader(io.StringIO(text)))
        created = 0
        existing = {a.id for a in await self.list()}
        if parent is not None and parent.id not in existing:
            await self.create(parent, who)
            existing.add(parent.id)
        for row in rows:
            if row["code"] in existing:
                continue
            await self.create(AreaCreate(id=row["code"], name=row["name"],
                                         kind=AreaKind(row["kind"]),
                                         parent_id=parent.id if parent else None), who)
            created += 1
        return created
