"""The glance at a newly connected calendar (nudges.outlook), as tables and invariants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudges.clock import BusyInterval, local_instant, merge_intervals, parse_clock
from nudges.density import chain_groups
from nudges.outlook import calendar_outlook
from nudges.preferences import PlanningPolicy

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 11, 23)
POLICY = PlanningPolicy()  # chain gap 10 minutes


def at(day_offset: int, clock: str) -> datetime:
    return local_instant(MONDAY + timedelta(days=day_offset), parse_clock(clock), BERLIN)


def meetings(*spans: tuple[int, str]) -> list[BusyInterval]:
    """``(day offset from Monday, "HH:MM-HH:MM")`` in Berlin, merged like a parsed feed."""
    out = []
    for offset, text in spans:
        start, end = text.split("-")
        out.append((at(offset, start), at(offset, end)))
    return merge_intervals(out)


def local(moment: datetime) -> str:
    return f"{moment.astimezone(BERLIN):%a %H:%M}"


NOW = at(0, "08:30")

CASES = [
    # (busy, meetings counted, next chain as "start–end", meetings in it)
    pytest.param([], 0, None, 0, id="empty"),
    pytest.param(meetings((0, "09:00-10:00"), (2, "14:00-15:00")), 2, None, 0, id="no-chain"),
    pytest.param(
        meetings((1, "10:00-11:00"), (1, "11:00-12:00"), (1, "12:05-12:30")),
        3,
        ("Tue 10:00", "Tue 12:30"),
        3,
        id="touching-and-short-gap",
    ),
    pytest.param(
        meetings((1, "10:00-11:00"), (1, "11:10-12:00")),
        2,
        None,
        0,
        id="gap-of-exactly-the-chain-gap-is-no-chain",
    ),
    pytest.param(
        meetings((0, "08:00-09:00"), (0, "09:00-09:30"), (3, "15:00-15:30"), (3, "15:30-16:00")),
        4,
        ("Mon 08:00", "Mon 09:30"),
        2,
        id="chain-under-way-counts",
    ),
    pytest.param(
        meetings((0, "07:00-08:00"), (0, "08:00-08:30"), (4, "09:00-09:30"), (4, "09:35-10:00")),
        2,
        ("Fri 09:00", "Fri 10:00"),
        2,
        id="chain-over-before-now-is-skipped",
    ),
    pytest.param(
        meetings((7, "08:00-08:20"), (7, "08:20-09:00"), (8, "10:00-11:00")),
        2,
        ("Mon 08:00", "Mon 09:00"),
        2,
        id="only-what-starts-within-seven-days",
    ),
    pytest.param(
        meetings((-1, "09:00-10:00"), (0, "09:00-09:30")), 1, None, 0, id="yesterday-not-counted"
    ),
]


@pytest.mark.parametrize(("busy", "count", "chain", "in_chain"), CASES)
def test_outlook(
    busy: list[BusyInterval], count: int, chain: tuple[str, str] | None, in_chain: int
) -> None:
    outlook = calendar_outlook(busy, now=NOW, policy=POLICY)

    assert outlook.meetings == count
    assert outlook.days == 7
    if chain is None:
        assert outlook.next_chain is None
    else:
        assert outlook.next_chain is not None
        assert (local(outlook.next_chain.start), local(outlook.next_chain.end)) == chain
        assert len(outlook.next_chain.meetings) == in_chain


def test_a_wider_chain_gap_joins_more() -> None:
    busy = meetings((1, "10:00-11:00"), (1, "11:20-12:00"))
    assert calendar_outlook(busy, now=NOW, policy=POLICY).next_chain is None
    wide = PlanningPolicy(chain_gap_minutes=30)
    assert calendar_outlook(busy, now=NOW, policy=wide).next_chain is not None


def test_order_of_the_input_does_not_matter() -> None:
    busy = meetings((3, "10:00-11:00"), (3, "11:00-12:00"), (1, "10:00-11:00"), (1, "11:00-11:30"))
    assert calendar_outlook(busy[::-1], now=NOW, policy=POLICY) == calendar_outlook(
        busy, now=NOW, policy=POLICY
    )


_STARTS = st.integers(min_value=-2 * 24 * 4, max_value=9 * 24 * 4)  # quarter hours from NOW


@given(
    st.lists(st.tuples(_STARTS, st.integers(min_value=1, max_value=12)), min_size=0, max_size=30)
)
def test_invariants(spans: list[tuple[int, int]]) -> None:
    quarter = timedelta(minutes=15)
    busy = merge_intervals(
        (NOW + start * quarter, NOW + (start + length) * quarter) for start, length in spans
    )
    outlook = calendar_outlook(busy, now=NOW, policy=POLICY)

    horizon = NOW + timedelta(days=7)
    ahead = [b for b in busy if b.end > NOW and b.start < horizon]
    assert outlook.meetings == len(ahead)
    chain = outlook.next_chain
    groups = [g for g in chain_groups(ahead, timedelta(minutes=10)) if len(g) >= 2]
    if chain is None:
        assert not groups
    else:
        # The first chain there is, of meetings that are all still ahead or under way.
        assert chain.meetings == tuple(groups[0])
        assert chain.end > NOW
        assert all(m.start < horizon for m in chain.meetings)
