"""What repeated failed sign-ins earn: a pure decision from counts of recent failures.

Refusing an account outright after N failures from anywhere let anyone lock any
account (finding 8 of the 2026-12 review): the real user's right password was refused
too. Now refusal is per account *and* source address (the guesser is locked out, the
owner at their own desk is not), per address across accounts (one machine trying many
accounts), and an account guessed at from many addresses is slowed down, not refused:
each answer waits longer, doubling, up to a cap, which costs a distributed guesser
far more than the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    ACCOUNT_FROM_ADDRESS = "account_from_address"
    ADDRESS = "address"


@dataclass(frozen=True)
class LockoutRule:
    threshold: int           # failures of one account from one address
    address_threshold: int   # failures from one address, any account
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def decide(self, *, pair: int, address: int, account: int) -> tuple[Refusal | None, float]:
        """(refusal or None, seconds to wait before answering), from the failures in
        the window: of this account from this address, from this address, and of this
        account from anywhere (each counted since the account's last success)."""
        if pair >= self.threshold:
            return Refusal.ACCOUNT_FROM_ADDRESS, 0.0
        if address >= self.address_threshold:
            return Refusal.ADDRESS, 0.0
        over = account - self.threshold
        if over < 0:
            return None, 0.0
        return None, min(self.max_delay_s, self.first_delay_s * 2 ** min(over, 30))
