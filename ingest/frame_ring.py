"""Decoded pictures from a reader process to the server through shared memory.

Sending a 320x180 picture (170 kB) through a pipe takes several reads on the
server's side, each waiting for the interpreter lock behind the event loop; with
hundreds of frames a second most of them were dropped. Instead a reader process
writes each picture into the next slot of a ring both processes map, and sends
only the slot's number. The server copies the picture out when the message
arrives; a slot overwritten in between (the server fell a whole ring behind) is
noticed and that frame is dropped, as a full pipe would have dropped it.

The memory is an anonymous memfd handed to the child when it is spawned: nothing in
the file system to clean up, freed when both processes have closed it.
"""

from __future__ import annotations

import itertools
import mmap
import os
import threading
from typing import Any

import numpy as np

_HEADER = 16  # two sequence numbers per slot: written before and after the picture


class FrameRing:
    def __init__(self, slots: int, slot_bytes: int, fd: int | None = None) -> None:
        self.slots = slots
        self.slot_bytes = slot_bytes
        self._stride = _HEADER + slot_bytes
        size = slots * self._stride
        if fd is None:
            fd = os.memfd_create("camera-center-frames", os.MFD_CLOEXEC)
            os.ftruncate(fd, size)
        self._fd = fd
        self._map = mmap.mmap(fd, size)
        self._seqs = np.ndarray((slots, self._stride // 8), dtype=np.uint64, buffer=self._map)
        self._bytes = np.ndarray((slots, self._stride), dtype=np.uint8, buffer=self._map)
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled only while spawning a reader process: DupFd passes the descriptor to it.
        from multiprocessing.reduction import DupFd
        return (_attach, (self.slots, self.slot_bytes, DupFd(self._fd)))

    def fits(self, image: np.ndarray) -> bool:
        return image.dtype == np.uint8 and image.nbytes <= self.slot_bytes

    def put(self, image: np.ndarray) -> tuple[int, int]:
        """Write *image* (reader side); returns (slot, sequence) for the message."""
        with self._lock:
            seq = next(self._next)
        slot = seq % self.slots
        self._seqs[slot, 0] = seq
        self._bytes[slot, _HEADER:_HEADER + image.nbytes] = image.reshape(-1)
        self._seqs[slot, 1] = seq
        return slot, seq

    def take(self, slot: int, seq: int, shape: tuple[int, ...]) -> np.ndarray | None:
        """Copy the picture out (server side), or None if the slot was reused meanwhile."""
        if not 0 <= slot < self.slots or int(self._seqs[slot, 1]) != seq:
            return None
        size = int(np.prod(shape))
        if size > self.slot_bytes:
            return None
        image = self._bytes[slot, _HEADER:_HEADER + size].copy()
        if int(self._seqs[slot, 0]) != seq:
            return None  # a writer started on this slot while it was being copied
        return image.reshape(shape)

    def close(self) -> None:
        # numpy views keep the map's buffer exported; drop them before closing it.
        del self._seqs, self._bytes
        self._map.close()
        os.close(self._fd)


def _attach(slots: int, slot_bytes: int, fd: Any) -> FrameRing:
    return FrameRing(slots, slot_bytes, fd=fd.detach())
