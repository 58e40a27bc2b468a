"""The engine's figures: reading a feed (full parse vs pruned) and planning a person-day.

Run with ``make bench`` (or ``python -m bench.engine``). Prints, side by side in one run:
the full icalendar + recurring-ical-events path and Baseline's pruned path on a typical
(~35 KB) and a heavy (~1.3 MB, five years of history) calendar, then planning time per
person-day over a realistic mix of days. Each figure is the best of several rounds, so a
busy machine distorts it less.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.feeds import heavy_feed, typical_feed
from config.catalog import load_catalog
from nudges.calendar import CalendarLimits, busy_intervals
from nudges.clock import BusyInterval, local_instant
from nudges.planner import plan_day
from nudges.preferences import PlanningPolicy, Preferences

ZONE = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 24)


def best_of(rounds: int, repeat: int, work: Callable[[], object]) -> float:
    """Best mean seconds per call over ``rounds`` rounds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            work()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def feed_figures(rounds: int) -> None:
    limits = CalendarLimits(max_bytes=10_000_000)
    print(f"{'feed':<9}{'size':>10}{'full parse':>14}{'pruned':>12}{'speed-up':>10}  identical")
    for name, feed, repeat in (
        ("typical", typical_feed(DAY), 20),
        ("heavy", heavy_feed(DAY), 1),
    ):

        def read(prune: bool, feed: bytes = feed) -> list[BusyInterval]:
            return busy_intervals(
                feed, first_day=DAY, last_day=DAY, tz=ZONE, limits=limits, prune=prune
            )

        same = read(True) == read(False)
        full = best_of(rounds, repeat, lambda: read(False))
        ours = best_of(rounds, repeat * 10, lambda: read(True))
        print(
            f"{name:<9}{len(feed) / 1000:>8.0f}KB{full * 1000:>11.1f} ms{ours * 1000:>9.2f} ms"
            f"{full / ours:>9.1f}×  {'yes' if same else 'NO'}"
        )


def sample_days(count: int, seed: int = 11) -> list[tuple[date, list[BusyInterval]]]:
    """Person-days shaped like real ones: 0–9 meetings of 15–90 min, some back to back."""
    rng = random.Random(seed)
    days = []
    for i in range(count):
        day = DAY + timedelta(days=i % 5)
        cursor = local_instant(day, datetime.min.time().replace(hour=8, minute=30), ZONE)
        meetings = []
        for _ in range(rng.choice((0, 2, 3, 4, 5, 6, 7, 9))):
            cursor += timedelta(minutes=rng.choice((0, 0, 0, 5, 15, 30, 60, 90)))
            end = cursor + timedelta(minutes=rng.choice((15, 30, 30, 45, 60, 90)))
            meetings.append(BusyInterval(start=cursor, end=end))
            cursor = end
        days.append((day, meetings))
    return days


def planning_figures(rounds: int) -> None:
    catalog = load_catalog()
    policy = PlanningPolicy()
    preferences = Preferences(tz=ZONE)
    days = sample_days(500)
    now = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

    def plan_all() -> int:
        total = 0
        for day, meetings in days:
            plan = plan_day(
                day, meetings, preferences=preferences, policy=policy, catalog=catalog, now=now
            )
            total += len(plan.nudges)
        return total

    nudges = plan_all()
    seconds = best_of(rounds, 1, plan_all)
    print(
        f"planning: {seconds / len(days) * 1e3:.3f} ms per person-day "
        f"({len(days)} person-days, {nudges} nudges, {len(days) / seconds:,.0f} person-days/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (best is kept)")
    args = parser.parse_args()
    print(f"Baseline engine bench · Python {platform.python_version()} · {platform.machine()}")
    feed_figures(args.rounds)
    planning_figures(args.rounds)


if __name__ == "__main__":
    main()
