"""What a calendar holds for the coming days, in one glance: how many meetings, and the next
back-to-back chain. ``/baseline calendar`` answers with it once the feed has been read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from nudges.clock import BusyInterval
from nudges.density import MeetingBlock, chain_groups
from nudges.preferences import PlanningPolicy

OUTLOOK_DAYS = 7


class CalendarOutlook(BaseModel):
    """``meetings`` that are not over yet and start within ``days`` of the moment asked;
    ``next_chain`` is the first stretch of two or more of them joined by gaps shorter than
    the policy's chain gap (``None`` when there is none)."""

    model_config = ConfigDict(frozen=True)

    meetings: int
    days: int
    next_chain: MeetingBlock | None


def calendar_outlook(
    busy: Sequence[BusyInterval],
    *,
    now: datetime,
    policy: PlanningPolicy,
    days: int = OUTLOOK_DAYS,
) -> CalendarOutlook:
    """The outlook of ``busy`` (merged UTC intervals, any order) from ``now`` for ``days``.

    A meeting already under way counts (it is not over), and so does a chain under way.
    """
    horizon = now + timedelta(days=days)
    ahead = sorted(
        (b for b in busy if b.end > now and b.start < horizon), key=lambda b: (b.start, b.end)
    )
    gap = timedelta(minutes=policy.chain_gap_minutes)
    chain = next((group for group in chain_groups(ahead, gap) if len(group) >= 2), None)
    return CalendarOutlook(
        meetings=len(ahead),
        days=days,
        next_chain=None
        if chain is None
        else MeetingBlock(start=chain[0].start, end=chain[-1].end, meetings=tuple(chain)),
    )
