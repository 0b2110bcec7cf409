"""Retry delays: capped exponential backoff with jitter, the server's one copy.

Used by the camera readers, webhook deliveries and the MQTT connection. Jitter spreads
400 cameras that failed together (a switch reboot) over time, so they do not all
reconnect in the same second. (A retry library would bring its own loop; our loops are
a reader supervisor and a database-backed delivery queue, which only need the delays.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_MAX_DOUBLINGS = 64


@dataclass
class Backoff:
    initial_s: float = 1.0
    cap_s: float = 30.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)
    jitter: float = 0.5  # a delay is drawn from [1 - jitter, 1] x the exponential step

    def delay(self, attempt: int) -> float:
        """The delay after failure number *attempt* (0 for the first), without counting."""
        # Past _MAX_DOUBLINGS the step is far beyond any cap; without the clamp a camera
        # down for ~1000 retries would overflow the float and kill its reader thread.
        base = min(self.cap_s, self.initial_s * 2.0 ** min(attempt, _MAX_DOUBLINGS))
        return base * self.rng.uniform(1.0 - self.jitter, 1.0)

    def next_delay(self) -> float:
        delay = self.delay(self.attempts)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
