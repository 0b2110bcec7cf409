"""Tables of the camera registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from camera_center.storage.base import Base, JSONType, UTCDateTime, utcnow


class Area(Base):
    __tablename__ = "areas"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    area_id: Mapped[str] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # URLs are stored without userinfo; credentials live in the two columns below.
    main_url: Mapped[str] = mapped_column(String(2048))
    sub_url: Mapped[str | None] = mapped_column(String(2048))
    onvif_url: Mapped[str | None] = mapped_column(String(2048))
    snapshot_url: Mapped[str | None] = mapped_column(String(2048))
    username: Mapped[str | None] = mapped_column(String(128))
    password_enc: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    detection: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # What ONVIF/PTZ needs to find the device again (profile token, service URLs, PTZ
    # features); None for cameras registered without ONVIF. Credentials stay above.
    onvif: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Recording; None follows the server's default (settings: recording.*).
    record: Mapped[str | None] = mapped_column(String(16))         # continuous|events|off
    record_stream: Mapped[str | None] = mapped_column(String(8))   # main|sub
    retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
