"""Tables of the recording index, evidence holds and exports.

Times here are UTC epoch seconds (floats) rather than the datetime columns used
elsewhere: segments are dated to the millisecond, compared and subtracted in bulk
(timelines, retention), and a float compares the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from camera_center.storage.base import Base, JSONType, UTCDateTime, utcnow


class Segment(Base):
    """One file of footage (about a minute, starting on a keyframe)."""

    __tablename__ = "recording_segments"
    __table_args__ = (
        Index("ix_recording_segments_camera_start", "camera_id", "start_ts"),
        Index("ix_recording_segments_start", "start_ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: a deleted camera's footage stays until retention takes it.
    camera_id: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(8))
    start_ts: Mapped[float] = mapped_column(Float)
    end_ts: Mapped[float] = mapped_column(Float)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(300), unique=True)  # under the recording root
    codec: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)  # False: being written
    # The server whose disk holds the file (several servers: the others fetch it from its
    # internal endpoint); None: this center's one server.
    node_id: Mapped[str | None] = mapped_column(String(64), default=None)


class Span(Base):
    """A run of back-to-back segments of one camera: what a timeline draws. Kept beside
    the segments so that a day of 400 cameras is a few hundred rows, not 576,000."""

    __tablename__ = "recording_spans"
    __table_args__ = (Index("ix_recording_spans_camera_start", "camera_id", "start_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(8))
    start_ts: Mapped[float] = mapped_column(Float)
    end_ts: Mapped[float] = mapped_column(Float)


class Hold(Base):
    """Footage that retention must not delete until the hold is released."""

    __tablename__ = "evidence_holds"
    __table_args__ = (Index("ix_evidence_holds_camera", "camera_id", "start_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start_ts: Mapped[float] = mapped_column(Float)
    end_ts: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))  # manual | export
    export_id: Mapped[str | None] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))


class Export(Base):
    """An evidence export: a ZIP of stream-copied footage with a signed manifest."""

    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(64), index=True)
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cameras: Mapped[list[str]] = mapped_column(JSONType)
    start_ts: Mapped[float] = mapped_column(Float)
    end_ts: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    case_number: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str | None] = mapped_column(String(300))  # under the exports folder
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The server that builds it and holds its package (several API servers: the others
    # fetch it from its internal endpoint); None: this center's one server.
    node_id: Mapped[str | None] = mapped_column(String(64), default=None)
