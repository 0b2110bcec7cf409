"""Which simulated camera shows what: scene, codec, credentials, scheduled outages.

Assignment is deterministic from the camera's position in the list, so the demo,
the tests and the benchmarks see the same fleet every run.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# Out of every 20 cameras: 14 quiet, 2 street, 1 intrusion, 1 line crossing,
# 1 tamper (lens covered), 1 that goes dark on a schedule.
_PATTERN = ("quiet",) * 14 + ("street", "street", "intrusion", "crossing", "tamper", "dark")

SIM_USERNAME = "admin"
SIM_PASSWORD = "sim-Camera-pass"  # the simulator's one password-protected camera


@dataclass(frozen=True)
class DarkCycle:
    """The camera stops streaming for *off_s* seconds every *period_s* seconds."""

    # Longer than the server's default offline grace (60 s), so the outage is reported.
    period_s: float = 240.0
    start_s: float = 90.0
    off_s: float = 80.0


@dataclass(frozen=True)
class SimCamera:
    id: str
    scene: str
    codec: str = "h264"
    needs_auth: bool = False
    dark: DarkCycle | None = None


def build_fleet(ids: list[str], *, h265_index: int = 1, auth_index: int = 2,
                outages: bool = True) -> list[SimCamera]:
    """*outages*: whether the "dark" cameras really go dark on schedule (benchmarks and
    tests turn that off to measure a steady fleet)."""
    fleet = []
    for i, cam_id in enumerate(ids):
        kind = _PATTERN[i % len(_PATTERN)]
        fleet.append(SimCamera(
            id=cam_id,
            scene="street" if kind == "dark" else kind,
            codec="h265" if i == h265_index else "h264",
            needs_auth=i == auth_index,
            dark=DarkCycle() if kind == "dark" and outages else None,
        ))
    return fleet


def ids_from_csv(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [row["id"] for row in csv.DictReader(fh) if row.get("id")]


def numbered_ids(count: int) -> list[str]:
    return [f"cam{i:03d}" for i in range(1, count + 1)]
