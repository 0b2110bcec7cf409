"""One worker's part in the center: every round it renews the leases it holds, says it
is alive, works out the plan of who reads what (``assignment.plan``, the same
function on every worker, over the same rows), gives up the cameras the plan moves
away from it and takes the ones it gives it.

No leader: the plan is deterministic, and where two workers act on slightly different
snapshots the lease decides (one acquisition wins, the other finds the camera taken and
follows the owners it reads next round). A camera moved between workers is released by
the giver before the receiver takes it: a gap of about one round, never two readers.

The worker reads a camera from ``on_gain`` until ``on_lose``; ``on_lose`` also comes for
everything when the lease clock runs out (the database unreachable for longer than a
lease, or the process paused), before any other work. A camera handed over (the plan
moved it, the worker leaves) keeps its lease while ``on_lose`` lets its reader finish:
the last segment it recorded is indexed under that lease, then the lease goes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from camera_center.cluster.assignment import Camera, Worker, plan
from camera_center.cluster.heartbeat import Heartbeat
from camera_center.cluster.lease_clock import LeaseClock
from camera_center.cluster.leases import LeaseStore, LeaseToken
from camera_center.cluster.nodes import NodeState
from camera_center.logs import get_logger

log = get_logger(__name__)

Gain = Callable[[list[LeaseToken]], Awaitable[None]]
# Stop reading these cameras; the float: how long their readers may take to finish what
# they write under the leases still held (0: the leases may be gone already).
Lose = Callable[[list[str], float], Awaitable[None]]

# The most a camera handed over waits for its reader's last segment to be indexed: a
# reader stops within a frame or two and announces its segment at once (measured: well
# under a second), so this only bounds a reader that hangs.
_FINISH_S = 3.0


@dataclass(frozen=True)
class MemberOptions:
    lease_s: float = 10.0
    margin_s: float = 1.0
    max_moves: int = 10
    # After a failed round (the database away), the next one comes this soon rather than
    # a whole round later: the worker renews, and plans again, within half a second of
    # the database answering. With the default 8 s lease and 2 s rounds it keeps its
    # cameras through any outage of up to 4.5 s (4 s when a failed round waited a whole
    # round; tests/test_cluster_leases.py works both out).
    retry_s: float = 0.5

    @property
    def round_s(self) -> float:
        """Rounds well inside a lease: three chances to renew before it runs out."""
        return self.lease_s / 4

    def pause_after(self, failed: bool) -> float:
        """How long to wait before the next round."""
        return min(self.round_s, self.retry_s) if failed else self.round_s


class Membership:
    def __init__(self, options: MemberOptions, leases: LeaseStore, heartbeat: Heartbeat,
                 cameras: Callable[[], Awaitable[list[Camera]]], on_gain: Gain,
                 on_lose: Lose, monotonic: Callable[[], float] = time.monotonic) -> None:
        """*heartbeat* says who this worker is; its camera count should be ``held``'s."""
        self.options = options
        self.leases = leases
        self.heartbeat = heartbeat
        self.node_id = heartbeat.node_id
        self.cameras = cameras
        self.on_gain = on_gain
        self.on_lose = on_lose
        self.monotonic = monotonic
        self.clock = LeaseClock(options.lease_s, options.margin_s)
        self.held: dict[str, LeaseToken] = {}
        self._announced = False

    @property
    def owned(self) -> set[str]:
        return set(self.held)

    async def _drop(self, camera_ids: Iterable[str], release: bool) -> None:
        gone = sorted(c for c in camera_ids if c in self.held)
        if not gone:
            return
        if not release:  # the leases may be gone: nothing more is written under them
            for c in gone:
                self.held.pop(c, None)
            await self.on_lose(gone, 0.0)
            return
        # Stop reading first, then free the lease: never two readers at once. Meanwhile
        # the leases are still held, so the readers' last writes go in under them. The
        # wait leaves two rounds before the deadline: the next renewal (a round later)
        # still comes in time, even slowed.
        finish = min(_FINISH_S,
                     self.clock.remaining(self.monotonic()) - 2 * self.options.round_s)
        await self.on_lose(gone, max(0.0, finish))
        # (the lease clock may have run out meanwhile and dropped some already)
        tokens = [t for c in gone if (t := self.held.pop(c, None)) is not None]
        await self.leases.release(tokens)

    async def expire_if_due(self) -> bool:
        """Stop every camera if the leases may have run out; True if it did."""
        if self.held and not self.clock.valid(self.monotonic()):
            log.warning("camera leases ran out before they could be renewed; stopping "
                        "every camera", node=self.node_id, cameras=len(self.held))
            await self._drop(list(self.held), release=False)
            return True
        return False

    async def round(self) -> None:
        """One round: renew, beat, plan, release, acquire."""
        o, me = self.options, self.node_id
        if await self.expire_if_due():
            return
        renewed_now = bool(self.held)
        if self.held:
            sent = self.monotonic()
            renewed = await self.leases.renew(self.held.values(), o.lease_s)
            lost = set(self.held) - renewed
            if lost:
                log.warning("camera leases lost to another node", node=me,
                            cameras=sorted(lost))
                await self._drop(lost, release=False)
            self.clock.renewed(sent)
        await self.heartbeat.beat(starting=not self._announced)
        if not self._announced:
            # Announce first, take cameras from the next round: workers started together
            # then share the fleet from the start instead of the first taking it all and
            # handing it out a few cameras a round.
            self._announced = True
            return
        workers = [Worker(n.node_id, n.weight, n.load, n.draining)
                   for n in await self.heartbeat.nodes.list()
                   if n.role in ("worker", "all") and n.state is not NodeState.DOWN]
        owners = await self.leases.owners()
        planned = plan(await self.cameras(), workers, owners, o.max_moves)
        mine = {c for c, n in planned.owners.items() if n == me}
        await self._drop(set(self.held) - mine, release=True)
        wanted = [c for c in mine - set(self.held) if owners.get(c) in (None, me)]
        if wanted:
            sent = self.monotonic()
            taken = await self.leases.acquire(me, wanted, o.lease_s)
            if taken:
                if not renewed_now:
                    # Held leases renewed earlier this round expire earlier: the clock
                    # follows them (it keeps the later deadline of the two).
                    self.clock.renewed(sent)
                self.held.update(taken)
                await self.on_gain(sorted(taken.values(), key=lambda t: t.camera_id))

    async def run(self) -> None:
        """Rounds every ``round_s``, for ever; a round that fails (the database away) is
        logged and tried again after ``retry_s``, while :meth:`watch` keeps the lease
        clock."""
        while True:
            failed = False
            try:
                await self.round()
            except Exception as exc:  # the type only: a driver's message may hold the URL
                failed = True
                log.warning("membership round failed", node=self.node_id,
                            error=type(exc).__name__)
            await asyncio.sleep(self.options.pause_after(failed))

    async def watch(self, period_s: float = 0.25) -> None:
        """Stop every camera as soon as the leases may have run out, even while a round
        hangs on an unreachable database."""
        while True:
            await asyncio.sleep(period_s)
            await self.expire_if_due()

    async def leave(self) -> None:
        """A clean stop: hand every camera back at once."""
        await self._drop(list(self.held), release=True)
