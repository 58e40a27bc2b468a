"""The person's own week as a PNG (``/baseline week``): meeting hours as bars, how they felt
as a line, and what they did with their resets. Pillow only, no font files, no I/O.

The chart is drawn at twice its size and scaled down, which gives smooth lines and text
without depending on Pillow's anti-aliasing support for each primitive. The output is a
pure function of its input: the same summary always gives the same bytes.
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

from PIL import Image, ImageDraw, ImageFont

from nudges.insights import WeekSummary

WIDTH, HEIGHT = 900, 450
# The plot area in output pixels; tests use it to find each day's column.
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 84, 816, 104, 356

BACKGROUND = (255, 255, 255)
BAR_COLOUR = (91, 141, 239)
FEEL_COLOUR = (232, 106, 51)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
GRID = (230, 233, 237)
AXIS = (173, 181, 189)

FEEL_MIN, FEEL_MAX = 1, 5
MAX_TZ_LABEL = 40  # IANA names are shorter; the footer has room for this much
_SCALE = 2  # drawn at 2x, then scaled down with a good filter
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_RGB = tuple[int, int, int]


def chart_days(summary: WeekSummary) -> tuple[date, ...]:
    """The columns: Monday to Friday always, Saturday and Sunday only when there is something
    to show on them (meetings, or a feel log)."""
    minutes = dict(summary.meeting_minutes_by_day)
    feel = dict(summary.feel_by_day)
    days = [summary.first_day + timedelta(days=i) for i in range(7)]
    return tuple(
        day for day in days if day.weekday() < 5 or minutes.get(day, 0.0) > 0 or day in feel
    )


def hours_axis(max_hours: float) -> tuple[int, int]:
    """``(step, top)`` for the hours axis: five equal steps, so that its gridlines are also
    the feel axis's 1..5."""
    step = max(1, math.ceil(max_hours / 5 - 1e-9))
    return step, step * 5


def week_chart_png(summary: WeekSummary, *, tz_name: str) -> bytes:
    """A 900×450 RGB PNG of the person's week (``tz_name`` is shown in the footer)."""
    canvas = Image.new("RGB", (WIDTH * _SCALE, HEIGHT * _SCALE), BACKGROUND)
    _Chart(ImageDraw.Draw(canvas), canvas, summary, tz_name).draw()
    image = canvas.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class _Chart:
    def __init__(
        self, draw: ImageDraw.ImageDraw, canvas: Image.Image, summary: WeekSummary, tz: str
    ) -> None:
        self.d, self.canvas, self.s, self.tz = draw, canvas, summary, tz
        self.days = chart_days(summary)
        self.minutes = {d: m for d, m in summary.meeting_minutes_by_day if math.isfinite(m)}
        self.feel = {d: f for d, f in summary.feel_by_day if math.isfinite(f)}
        shown_hours = [self.minutes.get(day, 0.0) / 60 for day in self.days]
        self.step, self.top = hours_axis(max(shown_hours, default=0.0))
        self.left, self.right = _px(PLOT_LEFT), _px(PLOT_RIGHT)
        self.plot_top, self.bottom = _px(PLOT_TOP), _px(PLOT_BOTTOM)
        self.slot = (self.right - self.left) / len(self.days)

    def draw(self) -> None:
        self._header()
        self._legend()
        self._grid_and_axes()
        self._bars()
        self._feel_line()
        if not any(self.minutes.get(d, 0.0) > 0 or d in self.feel for d in self.days):
            self._text_centred(
                (self.left + self.right) / 2,
                (self.plot_top + self.bottom) / 2 - _px(8),
                "Nothing logged for this week yet",
                _font(15),
                MUTED,
            )
        self._footer()

    # Layout pieces, top to bottom.

    def _header(self) -> None:
        first = self.s.first_day
        self.d.text((_px(32), _px(22)), f"Your week of {first.day} {first:%B %Y}", INK, _font(24))
        total = self.s.meeting_minutes / 60
        average = self.s.feel_average
        parts = [f"{_hours(total)} in meetings"]
        if self.s.chains:
            longest = _hours(self.s.longest_chain_minutes / 60)
            runs = "stretch" if self.s.chains == 1 else "stretches"
            parts.append(f"{self.s.chains} back-to-back {runs} (longest {longest})")
        parts.append("no feel logs" if average is None else f"average feel {average:.1f} / 5")
        self.d.text((_px(32), _px(56)), "  ·  ".join(parts), MUTED, _font(13))

    def _legend(self) -> None:
        font = _font(13)
        y = _px(30)
        x = _px(WIDTH - 32)
        feel_label, bar_label = "Feel (1-5)", "Meeting hours"
        x -= self.d.textlength(feel_label, font=font)
        self.d.text((x, y), feel_label, INK, font, anchor="lm")
        x -= _px(30)
        self.d.line([(x, y), (x + _px(22), y)], FEEL_COLOUR, _w(2.5))
        self._dot(x + _px(11), y, _px(4.5))
        x -= _px(24)
        x -= self.d.textlength(bar_label, font=font)
        self.d.text((x, y), bar_label, INK, font, anchor="lm")
        x -= _px(22)
        self.d.rounded_rectangle(
            [x, y - _px(7), x + _px(14), y + _px(7)], radius=_px(2), fill=BAR_COLOUR
        )

    def _grid_and_axes(self) -> None:
        tick_font = _font(12)
        for i in range(6):
            y = self._y_fraction(i / 5)
            if i:
                self.d.line([(self.left, y), (self.right, y)], GRID, _w(1))
            self.d.text((self.left - _px(10), y), f"{i * self.step}", MUTED, tick_font, "rm")
            if i:
                self.d.text((self.right + _px(10), y), f"{i}", MUTED, tick_font, "lm")
        self.d.line([(self.left, self.bottom), (self.right, self.bottom)], AXIS, _w(1.5))
        label_font = _font(13)
        middle = (self.plot_top + self.bottom) / 2
        self._text_vertical(_px(34), middle, "Meeting hours", label_font, MUTED, clockwise=False)
        self._text_vertical(
            _px(WIDTH - 34), middle, "Feel (1-5)", label_font, MUTED, clockwise=True
        )
        day_font, date_font = _font(14), _font(12)
        for i, day in enumerate(self.days):
            x = self._x(i)
            self._text_centred(x, self.bottom + _px(10), f"{day:%a}", day_font, INK)
            self._text_centred(x, self.bottom + _px(28), f"{day.day} {day:%b}", date_font, MUTED)

    def _bars(self) -> None:
        width = min(self.slot * 0.52, _px(72))
        value_font = _font(12)
        for i, day in enumerate(self.days):
            hours = self.minutes.get(day, 0.0) / 60
            if hours <= 0:
                continue
            x = self._x(i)
            top = self._y_fraction(hours / self.top)
            # At least a sliver, so that ten minutes of meetings is still visible.
            top = min(top, self.bottom - _px(2))
            self.d.rounded_rectangle(
                [x - width / 2, top, x + width / 2, self.bottom],
                radius=min(_px(4), (self.bottom - top) / 2),
                fill=BAR_COLOUR,
                corners=(True, True, False, False),
            )
            self._bar_label(x, top, _hours(hours), value_font)

    def _bar_label(self, x: float, top: float, text: str, font: _Font) -> None:
        """The bar's hours at its foot (white), or just above it when the bar is too short.

        Both places are below the feel axis's 1, so the feel line never crosses a label.
        """
        gap = _px(6)
        if self.bottom - top >= _px(24):
            self.d.text((x, self.bottom - gap), text, BACKGROUND, font, anchor="mb")
        else:
            self.d.text((x, top - gap + _px(1)), text, MUTED, font, anchor="mb")

    def _feel_line(self) -> None:
        points = [
            (i, self._x(i), self._y_feel(self.feel[day]))
            for i, day in enumerate(self.days)
            if day in self.feel
        ]
        for (i, x0, y0), (j, x1, y1) in pairwise(points):
            if j == i + 1:
                self.d.line([(x0, y0), (x1, y1)], FEEL_COLOUR, _w(2.5))
            else:  # days without a log in between: a dashed line, not a made-up value
                self._dashed(x0, y0, x1, y1)
        for _, x, y in points:
            self._dot(x, y, _px(6))

    def _footer(self) -> None:
        y = _px(HEIGHT - 28)
        self.d.line([(_px(32), y - _px(16)), (_px(WIDTH - 32), y - _px(16))], GRID, _w(1))
        font = _font(13)
        s = self.s
        resets = (
            f"Resets: {s.resets_done} done  ·  {s.resets_snoozed} snoozed  ·  "
            f"{s.resets_skipped} skipped"
        )
        self.d.text((_px(32), y), resets, INK, font, anchor="lm")
        note = f"Only you can see this  ·  {self.tz[:MAX_TZ_LABEL]}"
        self.d.text((_px(WIDTH - 32), y), note, MUTED, _font(12), anchor="rm")

    # Geometry and small drawing helpers.

    def _x(self, index: int) -> float:
        return self.left + self.slot * (index + 0.5)

    def _y_fraction(self, fraction: float) -> float:
        fraction = min(max(fraction, 0.0), 1.0)
        return self.bottom - fraction * (self.bottom - self.plot_top)

    def _y_feel(self, score: float) -> float:
        return self._y_fraction(min(max(score, FEEL_MIN), FEEL_MAX) / FEEL_MAX)

    def _dot(self, x: float, y: float, radius: float) -> None:
        ring = radius + _px(2)
        self.d.ellipse([x - ring, y - ring, x + ring, y + ring], fill=BACKGROUND)
        self.d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=FEEL_COLOUR)

    def _dashed(self, x0: float, y0: float, x1: float, y1: float) -> None:
        length = math.hypot(x1 - x0, y1 - y0)
        dash, gap = _px(7), _px(6)
        at = 0.0
        while at < length:
            end = min(at + dash, length)
            a, b = at / length, end / length
            self.d.line(
                [
                    (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                    (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                ],
                FEEL_COLOUR,
                _w(2),
            )
            at = end + gap

    def _text_centred(self, x: float, y: float, text: str, font: _Font, fill: _RGB) -> None:
        self.d.text((x, y), text, fill, font, anchor="mt")

    def _text_vertical(
        self, x: float, y: float, text: str, font: _Font, fill: _RGB, *, clockwise: bool
    ) -> None:
        left, top, right, bottom = self.d.textbbox((0, 0), text, font=font)
        mask = Image.new("L", (int(right - left) + 2, int(bottom - top) + 2), 0)
        ImageDraw.Draw(mask).text((1 - left, 1 - top), text, 255, font)
        mask = mask.transpose(
            Image.Transpose.ROTATE_270 if clockwise else Image.Transpose.ROTATE_90
        )
        box = (round(x - mask.width / 2), round(y - mask.height / 2))
        self.canvas.paste(Image.new("RGB", mask.size, fill), box, mask)


def _px(value: float) -> float:
    return value * _SCALE


def _w(value: float) -> int:
    """A line width: whole pixels at the drawing scale."""
    return round(value * _SCALE)


def _hours(hours: float) -> str:
    if 0 < hours < 0.95:
        return f"{round(hours * 60)} min"
    return f"{hours:.0f} h" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f} h"


@lru_cache(maxsize=16)
def _font(size: int) -> _Font:
    """Pillow's bundled font (Pillow ≥ 10.1 with FreeType, as in every wheel) at ``size``."""
    return ImageFont.load_default(size=size * _SCALE)
