"""When analysis falls behind, a frame that may hold an incident goes first, and quiet
cameras still get their turn."""

import asyncio

from camera_center.analysis import _Turns


async def _analyse(turns: _Turns, order: list[str], camera: str, active: bool) -> None:
    await turns.take(active, camera)
    order.append(camera)
    await asyncio.sleep(0)
    turns.give_back()


def test_an_active_frame_is_analysed_before_quiet_cameras_checks_queued_earlier() -> None:
    async def scenario() -> tuple[list[str], bool]:
        turns, order = _Turns(idle_every=100), []
        await turns.take(False, "busy")  # the analysis thread is on some frame
        jobs = [asyncio.create_task(_analyse(turns, order, camera, active)) for camera, active
                in (("quiet-1", False), ("quiet-2", False), ("covered", True),
                    ("quiet-3", False), ("zone", True))]
        await asyncio.sleep(0)
        turns.hurry("quiet-2")  # a newer frame of this camera shows motion
        turns.give_back()
        await asyncio.gather(*jobs)
        return order, turns._busy

    order, busy = asyncio.run(scenario())
    assert order == ["covered", "zone", "quiet-2", "quiet-1", "quiet-3"]
    assert not busy  # the last one gave the thread back


def test_quiet_cameras_still_get_one_turn_in_four_under_a_flood_of_active_frames() -> None:
    async def scenario() -> list[str]:
        turns, order = _Turns(idle_every=4), []
        await turns.take(False, "busy")
        jobs = [asyncio.create_task(_analyse(turns, order, f"quiet-{i}", False))
                for i in range(2)]
        jobs += [asyncio.create_task(_analyse(turns, order, f"street-{i}", True))
                 for i in range(8)]
        await asyncio.sleep(0)
        turns.give_back()
        await asyncio.gather(*jobs)
        return order

    order = asyncio.run(scenario())
    assert order.index("quiet-0") == 3 and order.index("quiet-1") == 7


def test_a_cancelled_waiter_holds_no_turn_even_if_handed_one_as_it_was_cancelled() -> None:
    async def scenario() -> list[str]:
        turns, order = _Turns(), []
        await turns.take(False, "busy")
        waiting = asyncio.create_task(turns.take(True, "stopping"))
        after = asyncio.create_task(_analyse(turns, order, "next", True))
        cancelled = asyncio.create_task(_analyse(turns, order, "cancelled", True))
        await asyncio.sleep(0)
        cancelled.cancel()  # cancelled while it waits
        turns.give_back()   # the turn goes to "stopping"...
        waiting.cancel()    # ...which is cancelled before it runs: it must pass the turn on
        await asyncio.wait_for(after, 1)
        return order

    assert asyncio.run(scenario()) == ["next"]
