"""Small asyncio helpers the server's long-lived connections share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def first_done(*coros: Coroutine[Any, Any, Any]) -> list[asyncio.Task[Any]]:
    """Run *coros* together until one of them ends; cancel the others and wait for them.
    Returns the tasks, in the order given (``task.done() and not task.cancelled()``
    tells which ended by itself). An error inside a task does not propagate: a
    connection's parts end for the same reason (the peer left) in any order."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return tasks


def result_of(task: asyncio.Task[Any]) -> Any:
    """The task's result if it ended by itself with one, else None."""
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return None
