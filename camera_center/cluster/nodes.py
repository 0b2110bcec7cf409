"""The servers of a center: each says who it is and how it is doing every few seconds
(a heartbeat row), and anyone can list them with their state.

Ages are measured by the database's clock on PostgreSQL, so servers whose clocks
disagree still agree on who is late; one server on SQLite uses its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import func, select, update

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.cluster.models import ClusterNode
from camera_center.storage.engine import Database, rowcount, upsert_into

Role = Literal["all", "api", "worker"]


class NodeState(StrEnum):
    UP = "up"
    LATE = "late"        # missed a few heartbeats: its leases may be running out
    DOWN = "down"        # its cameras have gone to others (or will at their expiry)
    DRAINING = "draining"


def node_state(age_s: float, interval_s: float, draining: bool) -> NodeState:
    """UP within three heartbeat intervals, LATE within six, DOWN after."""
    if age_s > 6 * interval_s:
        return NodeState.DOWN
    if draining:
        return NodeState.DRAINING
    return NodeState.UP if age_s <= 3 * interval_s else NodeState.LATE


@dataclass(frozen=True)
class Node:
    node_id: str
    role: str
    address: str
    version: str
    weight: float
    draining: bool
    cameras: int
    cpu_percent: float
    load: float
    started_at: datetime
    heartbeat_at: datetime
    state: NodeState


class NodeRegistry:
    def __init__(self, db: Database, interval_s: float) -> None:
        self.db = db
        self.interval_s = interval_s

    def _now(self) -> Any:
        # The database's clock where several servers share it.
        return func.now() if self.db.dialect == "postgresql" else datetime.now(UTC)

    async def heartbeat(self, node_id: str, role: Role, address: str, version: str,
                        weight: float, cameras: int, cpu_percent: float,
                        load: float, starting: bool = False) -> None:
        """Say that *node_id* is alive; the first heartbeat registers it, one *starting*
        restarts its uptime. Draining is kept: an admin's choice outlives a restart."""
        now = self._now()
        values = {"node_id": node_id, "role": role, "address": address, "version": version,
                  "weight": weight, "cameras": cameras, "cpu_percent": cpu_percent,
                  "load": load, "heartbeat_at": now, "started_at": now, "draining": False}
        stmt = upsert_into(self.db.dialect, ClusterNode).values(values)
        changed = [k for k in values if k not in ("node_id", "draining")
                   and (starting or k != "started_at")]
        async with self.db.session() as s:
            await s.execute(stmt.on_conflict_do_update(
                index_elements=["node_id"], set_={k: stmt.excluded[k] for k in changed}))
            await s.commit()

    async def set_draining(self, node_id: str, draining: bool, who: Principal) -> bool:
        """False if no such server; audited in the same transaction."""
        async with self.db.session() as s:
            result = await s.execute(update(ClusterNode).where(ClusterNode.node_id == node_id)
                                     .values(draining=draining))
            if rowcount(result) == 0:
                return False
            audit.record(s, who, "node.drain" if draining else "node.undrain",
                         target_type="node", target_id=node_id)
            await s.commit()
        return True

    async def list(self) -> list[Node]:
        async with self.db.session() as s:
            # The database's clock where several servers share it.
            db_now = (await s.scalar(select(func.now()))
                      if self.db.dialect == "postgresql" else None)
            now = db_now or datetime.now(UTC)
            rows = (await s.scalars(select(ClusterNode).order_by(ClusterNode.node_id))).all()
        return [Node(n.node_id, n.role, n.address, n.version, n.weight, n.draining,
                     n.cameras, n.cpu_percent, n.load, n.started_at, n.heartbeat_at,
                     node_state((now - n.heartbeat_at).total_seconds(), self.interval_s,
                                n.draining))
                for n in rows]
