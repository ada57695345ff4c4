"""Per-tier requests-per-minute and tokens-per-minute limits, so a replay stays under a provider's quota."""

from __future__ import annotations

import asyncio
import time


class Bucket:
    """A token bucket holding one second's worth of the limit, refilled so that no 60-second window
    ever takes more than `per_minute` (providers smooth their quotas the same way, so no minute-long burst).

    A taker subtracts at once and sleeps off its deficit, so takers are served in arrival order.
    """

    def __init__(self, per_minute: int) -> None:
        self.capacity = max(per_minute / 60.0, 1.0)
        self.rate = max(per_minute - self.capacity, per_minute / 2) / 60.0
        self.level = self.capacity
        self.stamp = time.monotonic()

    async def take(self, amount: float = 1.0) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        self.level -= amount
        if self.level < 0:
            await asyncio.sleep(-self.level / self.rate)


class TierLimits:
    """The rpm and tpm buckets of one tier (either may be absent)."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm = Bucket(rpm) if rpm else None
        self.tpm = Bucket(tpm) if tpm else None

    async def acquire(self, tokens: int) -> None:
        if self.rpm:
            await self.rpm.take(1)
        if self.tpm:
            await self.tpm.take(max(tokens, 1))
