"""Camera ownership: a lease per camera in PostgreSQL, with an expiry set by the database's
clock and a fencing epoch that grows with every acquisition.

A worker reads a camera only while it holds its lease. Whatever it writes because it
owns the camera (an alert raised, a recording segment indexed) carries its
:class:`LeaseToken`, and :func:`fence` checks that token inside the writing transaction:
a worker paused past its lease and resumed writes nothing once another took over. Rows
are never deleted, so an epoch is never handed out twice.

Multi-server mode requires PostgreSQL (one server on SQLite has no leases).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.cluster.models import CameraLease
from camera_center.storage.engine import Database


@dataclass(frozen=True)
class LeaseToken:
    camera_id: str
    node_id: str
    epoch: int


class StaleLease(Exception):
    """A write on behalf of a camera whose lease this worker does not hold (any more)."""

    def __init__(self, token: LeaseToken) -> None:
        super().__init__(f"Camera {token.camera_id}: node {token.node_id} does not hold "
                         f"lease epoch {token.epoch}; the write is refused.")
        self.token = token


# What a worker knows of its leases: the token it holds for a camera, or None.
Fencing = Callable[[str], "LeaseToken | None"]


class LeaseStore:
    def __init__(self, db: Database) -> None:
        if db.dialect != "postgresql":
            raise ValueError("Camera leases need PostgreSQL (database.url): several "
                             "servers cannot share a SQLite file.")
        self.db = db

    async def acquire(self, node_id: str, camera_ids: Iterable[str],
                      ttl_s: float) -> dict[str, LeaseToken]:
        """Take the leases of *camera_ids* that are free or expired (or already this
        node's: a restarted node gets new epochs, fencing off its former self). Returns
        the ones taken."""
        cams = sorted(set(camera_ids))
        if not cams:
            return {}
        expires = func.now() + timedelta(seconds=ttl_s)
        stmt = insert(CameraLease).values(
            [{"camera_id": c, "node_id": node_id, "epoch": 1, "expires_at": expires}
             for c in cams])
        upsert = stmt.on_conflict_do_update(
            index_elements=["camera_id"],
            set_={"node_id": stmt.excluded.node_id, "epoch": CameraLease.epoch + 1,
                  "expires_at": stmt.excluded.expires_at},
            where=(CameraLease.expires_at <= func.now())
            | (CameraLease.node_id == stmt.excluded.node_id),
        ).returning(CameraLease.camera_id, CameraLease.epoch)
        async with self.db.session() as s:
            rows = (await s.execute(upsert)).all()
            await s.commit()
        return {c: LeaseToken(c, node_id, int(e)) for c, e in rows}

    async def renew(self, tokens: Iterable[LeaseToken], ttl_s: float) -> set[str]:
        """Extend the leases still held with these epochs; the cameras renewed. A camera
        missing from the answer is lost: stop reading it."""
        held = list(tokens)
        if not held:
            return set()
        stmt = (update(CameraLease)
                .where(tuple_(CameraLease.camera_id, CameraLease.node_id, CameraLease.epoch)
                       .in_([(t.camera_id, t.node_id, t.epoch) for t in held]),
                       CameraLease.expires_at > func.now())
                .values(expires_at=func.now() + timedelta(seconds=ttl_s))
                .returning(CameraLease.camera_id))
        async with self.db.session() as s:
            renewed = set((await s.scalars(stmt)).all())
            await s.commit()
        return renewed

    async def release(self, tokens: Iterable[LeaseToken]) -> None:
        """Give leases up (a camera moved, a worker draining or stopping): free at once,
        the epoch kept."""
        held = list(tokens)
        if not held:
            return
        async with self.db.session() as s:
            await s.execute(
                update(CameraLease)
                .where(tuple_(CameraLease.camera_id, CameraLease.node_id, CameraLease.epoch)
                       .in_([(t.camera_id, t.node_id, t.epoch) for t in held]))
                .values(expires_at=func.now()))
            await s.commit()

    async def owners(self) -> dict[str, str]:
        """Camera id -> node id of every lease not expired."""
        async with self.db.session() as s:
            rows = (await s.execute(select(CameraLease.camera_id, CameraLease.node_id)
                                    .where(CameraLease.expires_at > func.now()))).all()
        return {c: n for c, n in rows}

    async def epochs(self, camera_ids: Iterable[str]) -> Mapping[str, int]:
        async with self.db.session() as s:
            rows = (await s.execute(select(CameraLease.camera_id, CameraLease.epoch).where(
                CameraLease.camera_id.in_(sorted(set(camera_ids)))))).all()
        return {c: int(e) for c, e in rows}


async def valid_leases(s: AsyncSession, tokens: Iterable[LeaseToken]) -> set[str]:
    """Inside a writing transaction: the cameras whose *tokens* are still their live
    leases. Those rows are locked FOR SHARE until the transaction ends, so none of these
    cameras can change hands between this check and the commit: a new owner's epoch
    starts after the write, never beside it."""
    held = list(tokens)
    if not held:
        return set()
    rows = await s.scalars(
        select(CameraLease.camera_id)
        .where(tuple_(CameraLease.camera_id, CameraLease.node_id, CameraLease.epoch)
               .in_([(t.camera_id, t.node_id, t.epoch) for t in held]),
               CameraLease.expires_at > func.now())
        .with_for_update(read=True))
    return set(rows.all())


async def fence(s: AsyncSession, tokens: Iterable[LeaseToken]) -> None:
    """Inside a writing transaction: refuse the whole write unless every token is still
    its camera's live lease (see :func:`valid_leases`)."""
    held = list(tokens)
    valid = await valid_leases(s, held)
    for token in held:
        if token.camera_id not in valid:
            raise StaleLease(token)
