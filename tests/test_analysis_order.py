"""When analysis falls behind, a frame that may hold an incident goes first."""

import asyncio

from camera_center.analysis import _Turns


def test_an_active_frame_is_analysed_before_quiet_cameras_checks_queued_earlier() -> None:
    async def scenario() -> list[str]:
        turns, order = _Turns(), []
        await turns.take(active=False)  # the analysis thread is busy with some frame

        async def analyse(name: str, active: bool) -> None:
            await turns.take(active)
            order.append(name)
            await asyncio.sleep(0)
            turns.give_back()

        jobs = [asyncio.create_task(analyse(name, active)) for name, active in
                (("quiet-1", False), ("quiet-2", False), ("covered", True),
                 ("quiet-3", False), ("zone", True))]
        gone = asyncio.create_task(analyse("removed camera", True))
        await asyncio.sleep(0)
        gone.cancel()  # its camera was removed while it waited: it must not hold a turn
        turns.give_back()
        await asyncio.gather(*jobs)
        return order

    assert asyncio.run(scenario()) == ["covered", "zone", "quiet-1", "quiet-2", "quiet-3"]
