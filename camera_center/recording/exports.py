"""Evidence exports: jobs that copy a time range of several cameras into a signed package.

A job runs in the background (one at a time: it is disk-bound, and the live path must
not pay for it), shows its progress, holds its footage from retention while the export
exists, and leaves nothing half-written: a failed job's files are removed.

Several API servers: a job runs on the server it was asked of, which keeps the package
(``Export.node_id``); the others fetch it from that server's internal endpoint to hand
it out. A server starting fails only its own jobs cut short, and removes the packages
of exports deleted meanwhile (possibly through another server).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.logs import get_logger
from camera_center.recording.evidence import (
    MANIFEST_VERSION,
    SigningKey,
    sha256_file,
    write_package,
)
from camera_center.recording.index import RecordingIndex
from camera_center.recording.models import Export, Hold
from camera_center.recording.remux import Copied, NothingRecorded, Piece, copy_range
from camera_center.storage.engine import Database

log = get_logger(__name__)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class ExportJobs:
    def __init__(self, db: Database, index: RecordingIndex, folder: Path, key: SigningKey,
                 server_name: str | None = None) -> None:
        self.db = db
        self.index = index
        self.folder = folder
        self.key = key
        self.server_name = server_name or socket.gethostname()
        self._slot = asyncio.Semaphore(1)
        self._tasks: set[asyncio.Task[None]] = set()
        # Several servers: fetches a package another server holds (``cluster.fetch``).
        self.fetch: Callable[[Export], Awaitable[Path]] | None = None

    @property
    def node_id(self) -> str | None:
        """This server's, where there are several (the recording index knows it)."""
        return self.index.node_id

    async def create(self, who: Principal, cameras: list[dict[str, Any]], start: float,
                     end: float, reason: str, case_number: str) -> Export:
        """Queue an export; *cameras* are dicts with id, name and area (checked by the
        caller for the caller's areas and for footage in the range)."""
        export_id = uuid.uuid4().hex
        async with self.db.session() as s, s.begin():
            export = Export(id=export_id, created_by=who.username, created_by_id=who.user_id,
                            cameras=[c["id"] for c in cameras], start_ts=start, end_ts=end,
                            reason=reason, case_number=case_number, state="queued",
                            progress=0.0, bytes=0, detail={"cameras": cameras},
                            node_id=self.node_id)
            s.add(export)
            for cam in cameras:
                s.add(Hold(camera_id=cam["id"], start_ts=start, end_ts=end, kind="export",
                           export_id=export_id, reason=f"export {case_number}: {reason}",
                           created_by=who.username))
            audit.record(s, who, "export.created", target_type="export", target_id=export_id,
                         detail={"cameras": [c["id"] for c in cameras], "start": _iso(start),
                                 "end": _iso(end), "case_number": case_number,
                                 "reason": reason})
        task = asyncio.create_task(self._run(export_id, who), name=f"export-{export_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return export

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def resume(self) -> None:
        """This server's jobs cut short by a restart fail with that reason (their partial
        files go); packages of deleted exports go too."""
        async with self.db.session() as s, s.begin():
            for export in (await s.scalars(select(Export).where(
                    Export.state.in_(("queued", "running")),
                    Export.node_id.is_not_distinct_from(self.node_id)))).all():
                export.state, export.error = "failed", "the server restarted during the export"
                export.finished_at = datetime.now(UTC)
                with contextlib.suppress(OSError):
                    shutil.rmtree(self.folder / export.id)
        await self.sweep()

    async def sweep(self) -> int:
        """Remove the packages (and work folders) here whose export is gone: deleted
        through another server, or while this one was down. The number removed."""
        names = await asyncio.to_thread(lambda: [p.name for p in self.folder.iterdir()]
                                        if self.folder.is_dir() else [])
        ids = {name.removesuffix(".zip") for name in names}
        if not ids:
            return 0
        async with self.db.session() as s:
            known = set((await s.scalars(select(Export.id).where(Export.id.in_(ids)))).all())
        gone = [name for name in names if name.removesuffix(".zip") not in known]
        for name in gone:
            await asyncio.to_thread(_remove, self.folder / name)
        if gone:
            log.info("packages of deleted exports removed", count=len(gone))
        return len(gone)

    async def _set(self, export_id: str, **values: Any) -> None:
        async with self.db.session() as s, s.begin():
            export = await s.get(Export, export_id)
            if export is not None:
                for k, v in values.items():
                    setattr(export, k, v)

    async def _progress(self, export_id: str, value: float) -> None:
        # Only while running: a late report must not undo the final 100 %.
        async with self.db.session() as s, s.begin():
            await s.execute(update(Export).where(Export.id == export_id,
                                                 Export.state == "running")
                            .values(progress=value))

    async def _run(self, export_id: str, who: Principal) -> None:
        async with self._slot:
            async with self.db.session() as s:
                export = await s.get(Export, export_id)
            if export is None:
                return
            await self._set(export_id, state="running")
            work = self.folder / export_id
            try:
                path, size = await self._build(export, work)
            except Exception as exc:
                shutil.rmtree(work, ignore_errors=True)
                message = str(exc) if isinstance(exc, NothingRecorded) else \
                    f"export failed: {type(exc).__name__}"
                if not isinstance(exc, NothingRecorded):
                    log.exception("export failed", export_id=export_id)
                await self._set(export_id, state="failed", error=message,
                                finished_at=datetime.now(UTC))
                return
            await self._set(export_id, state="done", progress=1.0, path=path, bytes=size,
                            finished_at=datetime.now(UTC))
            log.info("export done", export_id=export_id, bytes=size, by=who.username)

    async def _build(self, export: Export, work: Path) -> tuple[str, int]:
        await asyncio.to_thread(work.mkdir, mode=0o700, parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        cameras: list[dict[str, Any]] = export.detail["cameras"]
        files: list[Path] = []
        entries: list[dict[str, Any]] = []
        for i, cam in enumerate(cameras):
            segments = [seg for seg in await self.index.segments(
                cam["id"], export.start_ts, export.end_ts) if seg.closed]
            pieces = [Piece(path, seg.start_ts) for path, seg in
                      zip(await self.index.files(segments), segments, strict=True)]
            target = work / f"{cam['id']}.mp4"
            share = 1 / len(cameras)

            def progress(fraction: float, i: int = i, share: float = share) -> None:
                value = round((i + fraction) * share, 3)
                loop.call_soon_threadsafe(
                    lambda: asyncio.ensure_future(self._progress(export.id, value)))

            try:
                copied: Copied = await asyncio.to_thread(
                    copy_range, pieces, export.start_ts, export.end_ts, str(target),
                    fragmented=False, stop_at_gap=False, progress=_every(progress, 0.05))
            except NothingRecorded:
                continue  # a camera without footage in the range is listed as such
            files.append(target)
            entries.append({
                "name": target.name, "camera_id": cam["id"], "camera_name": cam["name"],
                "area_id": cam["area_id"], "area_name": cam.get("area_name"),
                "start": _iso(copied.start_ts), "end": _iso(copied.end_ts),
                "codec": copied.codec, "width": copied.width, "height": copied.height,
                "frames": copied.frames, "bytes": target.stat().st_size,
                "sha256": await asyncio.to_thread(sha256_file, target),
            })
        if not files:
            raise NothingRecorded("no footage of these cameras in that range")
        manifest = {
            "version": MANIFEST_VERSION,
            "export_id": export.id,
            "requested": {"start": _iso(export.start_ts), "end": _iso(export.end_ts)},
            "cameras": [{"id": c["id"], "name": c["name"], "area_id": c["area_id"],
                         "area_name": c.get("area_name"),
                         "has_footage": any(e["camera_id"] == c["id"] for e in entries)}
                        for c in cameras],
            "files": entries,
            "exported_by": export.created_by,
            "reason": export.reason,
            "case_number": export.case_number,
            "server": {"name": self.server_name, "key": self.key.fingerprint()},
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        zip_path = work.parent / f"{export.id}.zip"
        await asyncio.to_thread(write_package, zip_path, files, manifest, self.key)
        shutil.rmtree(work, ignore_errors=True)
        return zip_path.name, zip_path.stat().st_size

    def elsewhere(self, export: Export) -> bool:
        """Its package is on another server (several API servers)."""
        return (export.node_id is not None and export.node_id != self.node_id
                and self.fetch is not None)

    async def file(self, export: Export) -> Path | None:
        """The package: here, or a copy fetched from the server that holds it (for one
        download: the caller deletes it, see :meth:`elsewhere`); None: not done."""
        if export.state != "done" or not export.path:
            return None
        if self.elsewhere(export):
            assert self.fetch is not None
            return await self.fetch(export)
        path = self.folder / export.path
        return path if path.is_file() else None

    async def delete(self, who: Principal, export: Export) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(Export, export.id)
            if row is None:
                return
            holds = (await s.scalars(select(Hold).where(Hold.export_id == export.id,
                                                        Hold.released_at.is_(None)))).all()
            for hold in holds:
                hold.released_at, hold.released_by = datetime.now(UTC), who.username
            await s.delete(row)
            audit.record(s, who, "export.deleted", target_type="export", target_id=export.id,
                         detail={"case_number": export.case_number})
        if export.path:
            with contextlib.suppress(OSError):
                (self.folder / export.path).unlink()

    async def list(self, who: Principal | None = None) -> Sequence[Export]:
        async with self.db.session() as s:
            stmt = select(Export).order_by(Export.created_at.desc()).limit(500)
            if who is not None:
                stmt = stmt.where(Export.created_by == who.username)
            return (await s.scalars(stmt)).all()

    async def get(self, export_id: str) -> Export | None:
        async with self.db.session() as s:
            return await s.get(Export, export_id)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _every(report: Any, step: float) -> Any:
    """Progress reports at most every *step* of the way (each is a database write)."""
    last = [-1.0]

    def maybe(fraction: float) -> None:
        if fraction - last[0] >= step or fraction >= 1.0:
            last[0] = fraction
            report(fraction)
    return maybe
