"""An API server's copies of files other servers hold: footage segments and alert media
(from the workers), export packages (from the API server that built them).

Each is fetched once from the server that wrote it (its internal endpoint, with the
cluster secret) into a cache folder, streamed to disk, and read from there as if it were
local; the oldest copies go when the cache passes its size. A segment still being
written is fetched again on every request (it grows).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

import httpx

from camera_center.cluster.nodes import NodeRegistry
from camera_center.errors import NotFound
from camera_center.logs import get_logger
from camera_center.recording.models import Export, Segment

log = get_logger(__name__)

SECRET_HEADER = "X-Cluster-Secret"


class RemoteFiles:
    def __init__(self, nodes: NodeRegistry, secret: str, cache: Path,
                 max_bytes: int = 2 * 1024**3, timeout_s: float = 30.0) -> None:
        self.nodes = nodes
        self.cache = cache
        # Export copies live for one download each; any here now a crash left behind.
        self.copies = cache.parent / "export-copies"
        shutil.rmtree(self.copies, ignore_errors=True)
        self.max_bytes = max_bytes
        self._client = httpx.AsyncClient(headers={SECRET_HEADER: secret}, timeout=timeout_s)
        self._locks: dict[Path, asyncio.Lock] = {}
        self.fetched = 0

    async def _address(self, node_id: str) -> str:
        for node in await self.nodes.list():
            if node.node_id == node_id:
                return node.address.rstrip("/")
        raise NotFound(f"Server '{node_id}', which holds this file, is not known.")

    async def _get(self, node_id: str, url_path: str, target: Path, again: bool) -> Path:
        lock = self._locks.setdefault(target, asyncio.Lock())
        async with lock:
            if not again and await asyncio.to_thread(_touch, target):
                return target
            await self._download(node_id, url_path, target)
        await asyncio.to_thread(self._trim)
        return target

    async def _download(self, node_id: str, url_path: str, target: Path) -> None:
        """Stream the file to *target* (through a ``.part`` file: never half a copy)."""
        url = await self._address(node_id) + url_path
        part = target.with_suffix(target.suffix + ".part")
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise NotFound(f"Server '{node_id}' does not have this file "
                                   f"(HTTP {response.status_code}).")
                out = await asyncio.to_thread(_open_part, part)
                try:
                    async for chunk in response.aiter_bytes(1 << 20):
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
        except httpx.HTTPError as exc:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise NotFound(f"Server '{node_id}', which holds this file, does not "
                           f"answer ({type(exc).__name__}).") from None
        except BaseException:  # a full disk, a cancelled request: no half copy left
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(os.replace, part, target)
        self.fetched += 1

    async def segment(self, seg: Segment) -> Path:
        assert seg.node_id is not None
        target = self.cache / "segments" / seg.node_id / seg.path
        return await self._get(seg.node_id, f"/internal/v1/segments/{seg.id}", target,
                               again=not seg.closed)

    async def media(self, rel: str) -> Path:
        """*rel* starts with the id of the worker that stored it (``MediaStore``)."""
        node_id = rel.split("/", 1)[0]
        return await self._get(node_id, f"/internal/v1/media/{rel}",
                               self.cache / "media" / rel, again=False)

    async def export(self, export: Export) -> Path:
        """A copy of the package for one download, outside the trimmed cache (a package
        may outgrow it): the caller deletes it once sent, so no copy outlives its
        export."""
        assert export.node_id is not None
        target = self.copies / f"{uuid.uuid4().hex}.zip"
        await self._download(export.node_id, f"/internal/v1/exports/{export.id}", target)
        return target

    def _trim(self) -> None:
        files = [(p.stat().st_mtime, p.stat().st_size, p)
                 for p in self.cache.rglob("*") if p.is_file()]
        total = sum(size for _at, size, _p in files)
        for _at, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    async def stop(self) -> None:
        await self._client.aclose()


def _touch(target: Path) -> bool:
    """Mark a cached copy most recently used; False if there is none."""
    try:
        os.utime(target)
    except FileNotFoundError:
        return False
    return True


def _open_part(part: Path) -> BinaryIO:
    """The file to fetch into (the copy is renamed into place once whole)."""
    part.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return part.open("wb")
