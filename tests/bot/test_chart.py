"""The week chart: a valid, deterministic PNG whose bars and feel dots land where the data
says, including on empty and odd weeks."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.chart import (
    BAR_COLOUR,
    FEEL_COLOUR,
    HEIGHT,
    PLOT_BOTTOM,
    PLOT_LEFT,
    PLOT_RIGHT,
    PLOT_TOP,
    WIDTH,
    chart_days,
    hours_axis,
    week_chart_png,
)
from nudges.insights import WeekSummary

MONDAY = date(2026, 11, 23)
TZ = "Europe/Berlin"
RGB = tuple[int, int, int]


def week(
    hours: Mapping[int, float] | None = None,
    feel: Mapping[int, float] | None = None,
    *,
    done: int = 0,
    snoozed: int = 0,
    skipped: int = 0,
) -> WeekSummary:
    """A summary for the week of MONDAY; keys are days after Monday (0 = Monday)."""
    hours, feel = hours or {}, feel or {}
    return WeekSummary(
        first_day=MONDAY,
        meeting_minutes_by_day=tuple(
            (MONDAY + timedelta(days=i), h * 60) for i, h in sorted(hours.items())
        ),
        meeting_minutes=sum(hours.values()) * 60,
        chains=0,
        longest_chain_minutes=0.0,
        resets_done=done,
        resets_snoozed=snoozed,
        resets_skipped=skipped,
        helped=0,
        feel_by_day=tuple((MONDAY + timedelta(days=i), f) for i, f in sorted(feel.items())),
        feel_average=round(sum(feel.values()) / len(feel), 1) if feel else None,
        signal=None,
    )


def render(summary: WeekSummary) -> Image.Image:
    image = Image.open(io.BytesIO(week_chart_png(summary, tz_name=TZ)))
    image.load()
    return image


def _close(pixel: RGB, colour: RGB, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def column(index: int, count: int) -> tuple[int, int]:
    """The x range of the index-th of ``count`` day columns in the plot area."""
    slot = (PLOT_RIGHT - PLOT_LEFT) / count
    return round(PLOT_LEFT + slot * index), round(PLOT_LEFT + slot * (index + 1))


def pixels(image: Image.Image, colour: RGB, index: int, count: int) -> list[tuple[int, int]]:
    """Where ``colour`` appears in a day's column, inside the plot area only (not the legend)."""
    left, right = column(index, count)
    data = image.convert("RGB").tobytes()

    def at(x: int, y: int) -> RGB:
        i = 3 * (y * image.width + x)
        return data[i], data[i + 1], data[i + 2]

    return [
        (x, y)
        for y in range(PLOT_TOP - 10, PLOT_BOTTOM + 1)
        for x in range(left, right)
        if _close(at(x, y), colour)
    ]


def test_the_png_is_valid_and_the_right_size() -> None:
    data = week_chart_png(week({0: 3, 2: 5}, {0: 3}, done=2), tz_name=TZ)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.verify()  # raises on a corrupt file
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT) == (900, 450)
    assert image.mode == "RGB"
    assert image.getpixel((2, 2)) == (255, 255, 255)  # white background


def test_same_input_gives_the_same_bytes() -> None:
    summary = week({0: 6, 1: 1, 3: 4.5}, {0: 2, 1: 4, 3: 3.5}, done=3, snoozed=1, skipped=2)
    first = week_chart_png(summary, tz_name=TZ)
    again = week_chart_png(summary.model_copy(), tz_name=TZ)
    assert first == again
    assert week_chart_png(week({0: 6, 1: 1}), tz_name=TZ) != first


def test_footer_counts_change_the_picture() -> None:
    # The counts are drawn: different counts, different pixels in the footer band.
    a = render(week(done=1, snoozed=0, skipped=0)).crop((0, PLOT_BOTTOM + 50, WIDTH, HEIGHT))
    b = render(week(done=7, snoozed=3, skipped=9)).crop((0, PLOT_BOTTOM + 50, WIDTH, HEIGHT))
    assert a.tobytes() != b.tobytes()


def test_empty_week_renders_with_no_bars_and_no_dots() -> None:
    summary = week()
    assert chart_days(summary) == tuple(MONDAY + timedelta(days=i) for i in range(5))
    image = render(summary)
    assert image.size == (WIDTH, HEIGHT)
    for index in range(5):
        assert pixels(image, BAR_COLOUR, index, 5) == []
        assert pixels(image, FEEL_COLOUR, index, 5) == []


def test_a_long_meeting_day_has_a_taller_bar_than_a_short_one() -> None:
    image = render(week({0: 6, 1: 1}))
    monday = len(pixels(image, BAR_COLOUR, 0, 5))
    tuesday = len(pixels(image, BAR_COLOUR, 1, 5))
    wednesday = len(pixels(image, BAR_COLOUR, 2, 5))
    assert monday > tuesday > 0
    assert monday > 4 * tuesday  # roughly six times the height, same width
    assert wednesday == 0  # no meetings, no bar


def test_bar_height_follows_the_hours_axis() -> None:
    # 6 h is the tallest, so the axis runs 0..10 in steps of 2: the bar reaches 60% up.
    image = render(week({0: 6, 1: 1}))
    top = min(y for _, y in pixels(image, BAR_COLOUR, 0, 5))
    expected = PLOT_BOTTOM - 0.6 * (PLOT_BOTTOM - PLOT_TOP)
    assert abs(top - expected) <= 3


def test_feel_dots_sit_on_their_day_at_their_score() -> None:
    # Monday 4, Tuesday 2, nothing later: no feel colour at all from Wednesday on.
    image = render(week({0: 2}, {0: 4, 1: 2}))
    height = PLOT_BOTTOM - PLOT_TOP
    for index, score in ((0, 4), (1, 2)):
        left, right = column(index, 5)
        centre = (left + right) // 2
        found = [y for x, y in pixels(image, FEEL_COLOUR, index, 5) if abs(x - centre) <= 1]
        assert found, f"no dot on day {index}"
        middle = (min(found) + max(found)) / 2
        assert abs(middle - (PLOT_BOTTOM - score / 5 * height)) <= 3
    for index in range(2, 5):
        assert pixels(image, FEEL_COLOUR, index, 5) == []


def test_a_day_without_a_feel_log_has_no_dot() -> None:
    # Monday and Wednesday logged, Tuesday not: the dashed bridge crosses Tuesday, but no dot.
    image = render(week(feel={0: 3, 2: 3}))
    left, right = column(1, 5)
    centre = (left + right) // 2
    tuesday = {y for x, y in pixels(image, FEEL_COLOUR, 1, 5) if x == centre}
    dot_diameter = 12
    assert len(tuesday) < dot_diameter // 2  # at most a line's thickness, never a dot
    monday = column(0, 5)
    monday_rows = {y for x, y in pixels(image, FEEL_COLOUR, 0, 5) if x == sum(monday) // 2}
    assert len(monday_rows) >= dot_diameter - 2  # the check above would see a dot


def test_weekend_columns_appear_only_with_something_on_them() -> None:
    saturday_meetings = week({0: 2, 5: 3})
    assert chart_days(saturday_meetings) == tuple(MONDAY + timedelta(days=i) for i in range(6))
    image = render(saturday_meetings)
    assert len(pixels(image, BAR_COLOUR, 5, 6)) > len(pixels(image, BAR_COLOUR, 0, 6)) > 0

    assert len(chart_days(week({0: 2, 6: 1}))) == 6  # Sunday only
    assert len(chart_days(week({5: 1, 6: 1}))) == 7
    assert len(chart_days(week({5: 0.0}))) == 5  # a zero-minute Saturday is no meeting
    assert chart_days(week(feel={6: 2}))[-1] == MONDAY + timedelta(days=6)


def test_data_outside_the_week_is_not_drawn() -> None:
    summary = week({0: 1, 8: 9})  # the following Tuesday
    assert len(chart_days(summary)) == 5
    image = render(summary)
    # The axis still fits Monday's hour (0..5), so Monday's bar is a fifth of the height.
    top = min(y for _, y in pixels(image, BAR_COLOUR, 0, 5))
    assert abs(top - (PLOT_BOTTOM - 0.2 * (PLOT_BOTTOM - PLOT_TOP))) <= 3


@pytest.mark.parametrize(
    ("max_hours", "expected"),
    [(0.0, (1, 5)), (4.9, (1, 5)), (5.0, (1, 5)), (6.0, (2, 10)), (10.0, (2, 10)), (10.5, (3, 15))],
)
def test_hours_axis_has_five_whole_steps(max_hours: float, expected: tuple[int, int]) -> None:
    assert hours_axis(max_hours) == expected


def test_extreme_values_still_render() -> None:
    # A 24-hour day, a tiny one, and fractional feel averages.
    image = render(week({0: 24, 1: 1 / 60, 2: 0.5}, {0: 1.0, 1: 4.67, 2: 5.0}))
    assert image.size == (WIDTH, HEIGHT)
    assert pixels(image, BAR_COLOUR, 1, 5)  # even a minute shows as a sliver
