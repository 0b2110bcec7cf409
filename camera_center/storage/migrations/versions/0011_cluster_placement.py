"""Where footage and exports lie and which cameras are pinned (several servers,
one center)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_segments") as batch:
        batch.add_column(sa.Column("node_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("node_id", sa.String(length=64), nullable=True))
    op.create_table(
        "camera_pins",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"],
                                name=op.f("fk_camera_pins_camera_id_cameras"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_pins")),
    )


def downgrade() -> None:
    op.drop_table("camera_pins")
    with op.batch_alter_table("exports") as batch:
        batch.drop_column("node_id")
    with op.batch_alter_table("recording_segments") as batch:
        batch.drop_column("node_id")
