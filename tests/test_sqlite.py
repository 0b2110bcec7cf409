"""SQLite, the default database: set up for a server that reads while it writes."""

import asyncio

from sqlalchemy import text

from camera_center.storage.engine import Database


def test_sqlite_runs_in_wal_mode_with_foreign_keys(database_url: str) -> None:
    async def main() -> tuple[str, int]:
        db = Database(database_url)
        try:
            async with db.engine.connect() as conn:
                mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
                fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
                return mode, fks
        finally:
            await db.close()

    assert asyncio.run(main()) == ("wal", 1)
