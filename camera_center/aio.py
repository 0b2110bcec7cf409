"""Small asyncio helpers the server's long-lived connections share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from camera_center.logs import get_logger

log = get_logger(__name__)


async def first_done(*coros: Coroutine[Any, Any, Any],
                     expected: tuple[type[BaseException], ...] = ()
                     ) -> list[asyncio.Task[Any]]:
    """Run *coros* together until one of them ends; cancel the others and wait for them.
    Returns the tasks, in the order given (``task.done() and not task.cancelled()``
    tells which ended by itself). Errors do not propagate: a connection's parts end for
    the same reason (the peer left) in any order; those of the *expected* types (a
    disconnect, a send after close) pass quietly, any other is logged."""
    tasks = [asyncio.create_task(c, name=getattr(c, "__qualname__", None)) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                if not isinstance(exc, expected):
                    log.exception("a connection's task failed", task=task.get_name())
    return tasks


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel a part's background tasks and wait until each has ended."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def result_of(task: asyncio.Task[Any]) -> Any:
    """The task's result if it ended by itself with one, else None."""
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return None
