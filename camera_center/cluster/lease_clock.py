"""When a worker must stop reading the cameras it leases: a pure object on an injected
monotonic clock, so that the rule is tested in milliseconds.

The database sets a lease's expiry to its own ``now() + ttl`` when it receives a renewal.
The worker counts the same ``ttl`` from the moment it *sent* that renewal, on its own
monotonic clock, so its deadline falls before the database's however long the request
took, and no clock needs to agree with another's time of day. A monotonic clock keeps
running while a process is paused (SIGSTOP, a VM frozen), so a worker resumed after its
leases ran out finds itself past the deadline before it does anything else. ``margin_s``
covers the two clocks running at slightly different rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class LeaseClock:
    ttl_s: float
    margin_s: float = 1.0
    _valid_until: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.margin_s < self.ttl_s:
            raise ValueError("the margin must be shorter than the lease")

    def renewed(self, sent_at: float) -> None:
        """A renewal sent at *sent_at* (monotonic) was granted."""
        self._valid_until = max(self._valid_until, sent_at + self.ttl_s - self.margin_s)

    def lost(self) -> None:
        """The database refused a renewal: the leases are gone now."""
        self._valid_until = -math.inf

    def valid(self, now: float) -> bool:
        return now < self._valid_until

    def remaining(self, now: float) -> float:
        return max(0.0, self._valid_until - now)
