"""Schema migrations and storage behaviour on SQLite and PostgreSQL."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from camera_center.audit.models import AuditEntry
from camera_center.storage import migrate
from camera_center.storage.engine import Database

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

TABLES = {"areas", "cameras", "users", "user_areas", "refresh_tokens", "login_attempts",
          "auth_sessions",
          "audit_log", "alembic_version"}


def run(coro):
    return asyncio.run(coro)


def test_migrations_build_the_schema_and_are_idempotent(database_url: str) -> None:
    async def main() -> set[str]:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            await migrate.upgrade(db)  # a second run changes nothing
            assert await migrate.current_revision(db) == migrate.head_revision()
            async with db.engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await db.close()

    assert TABLES <= run(main())


def test_downgrade_to_base_and_back(database_url: str) -> None:
    async def main() -> None:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            from alembic import command

            def down(conn) -> None:
                cfg = migrate.alembic_config(database_url)
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "base")

            async with db.engine.begin() as conn:
                await conn.run_sync(down)
            assert await migrate.current_revision(db) is None
            await migrate.upgrade(db)
            assert await migrate.current_revision(db) == migrate.head_revision()
        finally:
            await db.close()

    run(main())


def test_times_come_back_as_aware_utc(database_url: str) -> None:
    hanoi = timezone(timedelta(hours=7))

    async def main() -> datetime:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            async with db.session() as s:
                s.add(AuditEntry(actor="t", action="x",
                                 at=datetime(2026, 3, 1, 8, 30, tzinfo=hanoi)))
                await s.commit()
            async with db.session() as s:
                return (await s.scalars(select(AuditEntry.at))).one()
        finally:
            await db.close()

    at = run(main())
    assert at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC) and at.tzinfo is not None


def test_the_migrated_schema_is_the_one_the_models_declare(database_url: str) -> None:
    """A migration that forgets a column, an index or a key the code relies on fails here,
    not on a customer's database."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from camera_center.storage.models import Base

    async def main() -> list[object]:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            async with db.engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        finally:
            await db.close()

    assert run(main()) == []
