"""Running Alembic from code (the CLI's ``migrate`` and the server's auto-migrate)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from camera_center.storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' is ConfigParser interpolation syntax; URLs may hold percent-encoded characters.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(db: Database) -> str | None:
    def _get(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_get)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to *revision* on the app's own engine."""
    cfg = alembic_config(db.url)

    def _upgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


def upgrade_sync(url: str, revision: str = "head") -> None:
    async def _main() -> None:
        db = Database(url)
        try:
            await upgrade(db, revision)
        finally:
            await db.close()

    asyncio.run(_main())
