"""Reconnect delays: capped exponential backoff with jitter.

Jitter spreads 400 cameras that failed together (a switch reboot) over time, so
they do not all reconnect in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 1.0
    cap_s: float = 30.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        base = min(self.cap_s, self.initial_s * (2 ** self.attempts))
        self.attempts += 1
        return base * self.rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempts = 0
