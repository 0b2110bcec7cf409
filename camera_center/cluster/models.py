"""Cluster tables: camera leases and the servers' registry (PostgreSQL in multi-server
mode; the tables exist on SQLite too, unused)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from camera_center.storage.base import Base, UTCDateTime, utcnow


class CameraLease(Base):
    """Who reads a camera, until when, and the fencing epoch of that ownership. Never
    deleted: the epoch must only grow."""

    __tablename__ = "camera_leases"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClusterNode(Base):
    """One server: what it is, and what it last said about itself."""

    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))           # all | api | worker
    address: Mapped[str] = mapped_column(String(200))       # its internal endpoint
    version: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    cameras: Mapped[int] = mapped_column(Integer, default=0)
    cpu_percent: Mapped[float] = mapped_column(Float, default=0.0)
    load: Mapped[float] = mapped_column(Float, default=0.0)  # 1-minute load per core
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraPin(Base):
    """An admin's choice: this camera is read by this worker while it is live."""

    __tablename__ = "camera_pins"

    # Gone with its camera: a camera registered again under the same id starts unpinned.
    camera_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
