"""Which worker should read each camera: a pure function of the cameras, the workers and
who reads what now, run by every worker on every round (``cluster.membership``).

Rules, in order:
1. A camera pinned to a live worker goes there.
2. A camera whose worker is gone or draining (or that nobody reads) is placed at once
   (failover must not wait): on the worker with the most room below its share, which
   already reads cameras of the same area where there is a choice (one area's cameras
   together: one commune's cameras fail together and are watched together).
3. Otherwise a camera stays where it is, except that at most ``max_moves`` cameras of
   one plan move from workers over their share to workers under it, so that a worker
   joining takes cameras gradually instead of the whole fleet reconnecting. (Every
   worker runs the plan and carries out its own part, so at most that many cameras
   leave one worker per round.)

A worker's share of the cameras is proportional to its configured weight; its measured
load (0..1) only breaks ties, because it moves with the cameras it reads and would make
the plan chase its own tail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Worker:
    node_id: str
    weight: float = 1.0
    load: float = 0.0
    draining: bool = False

    @property
    def live(self) -> bool:
        """May be given cameras."""
        return not self.draining and self.weight > 0


@dataclass(frozen=True)
class Camera:
    camera_id: str
    area_id: str
    pinned_to: str | None = None


@dataclass(frozen=True)
class Plan:
    owners: dict[str, str]          # camera id -> node id
    placed: tuple[str, ...]         # cameras that had no live owner
    moved: tuple[str, ...]          # cameras moved to even the shares
    unplaced: tuple[str, ...]       # no worker can take them (none live)


def shares(workers: Iterable[Worker], cameras: int) -> dict[str, int]:
    """How many cameras each live worker should read: proportional to its weight,
    rounded by largest remainder so that the shares add up to *cameras*."""
    live = sorted((w for w in workers if w.live), key=lambda w: w.node_id)
    total = sum(w.weight for w in live)
    if not live:
        return {}
    exact = {w.node_id: cameras * w.weight / total for w in live}
    load = {w.node_id: w.load for w in live}
    out = {n: int(x) for n, x in exact.items()}
    rest = cameras - sum(out.values())
    # The odd cameras go to the largest remainders, the least loaded first among equals.
    for n in sorted(exact, key=lambda n: (-round(exact[n] - out[n], 9), load[n], n))[:rest]:
        out[n] += 1
    return out


def plan(cameras: Iterable[Camera], workers: Iterable[Worker], owners: Mapping[str, str],
         max_moves: int = 10) -> Plan:
    """The owner of every camera after this round; see the module's rules."""
    cams = sorted(cameras, key=lambda c: c.camera_id)
    by_id = {w.node_id: w for w in workers}
    live = {n for n, w in by_id.items() if w.live}
    target = shares(by_id.values(), len(cams))
    out: dict[str, str] = {}
    count: Counter[str] = Counter()
    areas: dict[str, Counter[str]] = {n: Counter() for n in live}

    def give(cam: Camera, node: str) -> None:
        out[cam.camera_id] = node
        count[node] += 1
        areas[node][cam.area_id] += 1

    orphans = []
    for cam in cams:
        pin = cam.pinned_to if cam.pinned_to in live else None
        owner = owners.get(cam.camera_id)
        if pin is not None:
            give(cam, pin)
        elif owner in live:
            give(cam, owner)
        else:
            orphans.append(cam)

    unplaced = []
    for cam in orphans:
        if not live:
            unplaced.append(cam.camera_id)
            continue
        node = min(live, key=lambda n: (
            count[n] >= target[n], -areas[n][cam.area_id], count[n] - target[n],
            by_id[n].load, n))
        give(cam, node)

    moved: list[str] = []
    pinned = {c.camera_id for c in cams if c.pinned_to in live}
    while len(moved) < max_moves and live:
        under = min(live, key=lambda n: (count[n] - target[n], by_id[n].load, n))
        if target[under] - count[under] < 1:
            break
        movable = [c for c in cams if c.camera_id not in pinned
                   and c.camera_id not in moved
                   and count[out[c.camera_id]] - target[out[c.camera_id]] >= 1]
        if not movable:
            break
        over = max({out[c.camera_id] for c in movable},
                   key=lambda n: (count[n] - target[n], n))
        movable = [c for c in movable if out[c.camera_id] == over]
        # The camera whose area the receiver already reads most, else whose area the
        # giver reads least: areas stay together, or at least are not split further.
        cam = min(movable, key=lambda c: (-areas[under][c.area_id], areas[over][c.area_id],
                                          c.camera_id))
        count[over] -= 1
        areas[over][cam.area_id] -= 1
        give(cam, under)
        moved.append(cam.camera_id)

    return Plan(out, tuple(c.camera_id for c in orphans if c.camera_id in out),
                tuple(moved), tuple(unplaced))
