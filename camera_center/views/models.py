"""The saved_views table: one row per view, owned by one user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from camera_center.storage.base import Base, JSONType, UTCDateTime, utcnow


class SavedView(Base):
    __tablename__ = "saved_views"
    # A name picks one view in the wall's menu: unique per user, not across users.
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_views_user_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    layout: Mapped[int] = mapped_column(Integer)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    camera_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
