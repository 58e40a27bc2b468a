"""The demo's fast clock: simulated time that the demo moves in small steps, paced against
real time (``speed`` simulated minutes per real second).

The bot only ever asks ``now()``; between two steps time stands still, so a send, a lease
or a reply in flight sees one consistent moment. When the machine cannot keep up, the
simulated day stretches instead of skipping ahead: nothing is due and missed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from time import monotonic

from bot.clock import ManualClock

# One step is about this much real time at most; the step in simulated time follows from
# the speed, rounded down to one of these (each divides a minute, so steps land on whole
# minutes: window edges and meetings start on them).
STEP_REAL_SECONDS = 0.05
_GRID_SECONDS = (1, 2, 3, 5, 10, 15)
# Fallen behind by more than this much real time: re-anchor instead of rushing to catch up.
MAX_LAG_SECONDS = 0.25
MAX_SPEED = 10_000.0


class DemoClock(ManualClock):
    """Simulated time; ``speed`` is simulated minutes per real second."""

    def __init__(self, start: datetime, *, speed: float) -> None:
        super().__init__(start)
        if not 0 < speed <= MAX_SPEED:
            raise ValueError(f"the speed must be above 0 and at most {MAX_SPEED:g}")
        self.speed = speed
        seconds = speed * 60 * STEP_REAL_SECONDS
        self.step = timedelta(seconds=max([g for g in _GRID_SECONDS if g <= seconds] or [1]))
        self._anchor: tuple[float, datetime] | None = None

    def next_step(self) -> datetime:
        """The next point on the step grid after now."""
        now = self.now()
        step = self.step.total_seconds()
        seconds = now.timestamp()
        return datetime.fromtimestamp((seconds // step + 1) * step, tz=now.tzinfo)

    def real_seconds(self, span: timedelta) -> float:
        """How long ``span`` of simulated time takes in real time at this speed."""
        return span.total_seconds() / (self.speed * 60)

    async def wait_for(self, moment: datetime) -> None:
        """Sleep until the real moment that matches simulated ``moment`` at this speed."""
        real_now = monotonic()
        if self._anchor is None:
            self._anchor = (real_now, self.now())
        real_start, sim_start = self._anchor
        delay = real_start + self.real_seconds(moment - sim_start) - real_now
        if delay < -MAX_LAG_SECONDS:
            # Busy (a settling delivery, a slow machine): time stretches from here on.
            self._anchor = (real_now, self.now())
            delay = self.real_seconds(moment - self.now())
        if delay > 0:
            await asyncio.sleep(delay)

    def restart_pacing(self) -> None:
        """Forget the pace so far (after setting up, or a pause)."""
        self._anchor = None
