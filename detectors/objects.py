"""Objects in frames: batching across cameras for one backend.

A backend (:mod:`detectors.backend`) turns a list of images into a list of detections
per image. The :class:`BatchingDetector` collects frames from many cameras (up to *batch_size*,
or whatever came within *max_wait_ms* of the first), makes one inference call on
its own thread, and hands each camera its own results.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np
import structlog

from detectors.backend import Detection, ObjectBackend

log = structlog.stdlib.get_logger("detectors.objects")

@dataclass
class _Item:
    image: np.ndarray
    future: concurrent.futures.Future[list[Detection]]


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    busy_s: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.images / self.batches if self.batches else 0.0


class BatchingDetector:
    """One inference thread shared by every camera."""

    def __init__(self, backend: ObjectBackend, batch_size: int = 8,
                 max_wait_ms: float = 50.0, max_pending: int = 256) -> None:
        self.backend = backend
        self.batch_size = batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.stats = BatchStats()
        # Bounded: when detection cannot keep up, new frames are refused (the caller
        # skips one analysis) instead of piling up and growing late.
        self._queue: queue.Queue[_Item | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="object-detector", daemon=True)
        self._thread.start()

    def submit(self, image: np.ndarray) -> concurrent.futures.Future[list[Detection]]:
        """Queue *image*; the future holds its detections. Raises queue.Full when busy."""
        future: concurrent.futures.Future[list[Detection]] = concurrent.futures.Future()
        self._queue.put_nowait(_Item(image, future))
        return future

    async def detect(self, image: np.ndarray) -> list[Detection]:
        return await asyncio.wrap_future(self.submit(image))

    def close(self) -> None:
        try:
            self._queue.put(None, timeout=1)
        except queue.Full:
            pass
        self._thread.join(timeout=5)

    def _collect(self, first: _Item) -> tuple[list[_Item], bool]:
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._collect(first)
            # A caller that gave up (a cancelled await) gets nothing; the others' futures
            # are marked running, so a late cancel cannot make set_result fail.
            batch = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if not batch:
                if stopping:
                    return
                continue
            started = time.perf_counter()
            try:
                results = self.backend.predict([item.image for item in batch])
            except Exception as exc:
                log.exception("object detection failed", images=len(batch))
                for item in batch:
                    item.future.set_exception(exc)
            else:
                for item, detections in zip(batch, results, strict=True):
                    item.future.set_result(detections)
            self.stats.batches += 1
            self.stats.images += len(batch)
            self.stats.busy_s += time.perf_counter() - started
            if stopping:
                return
