"""The catalog of recovery practices and reflection prompts, and how one is chosen.

The catalog itself is data (config/catalog.toml, replaceable by an organisation); this
module holds its shape, its rules, and the selection that fits a practice to a gap,
rotates through the catalog, and leans towards what helped this person before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Mapping
from datetime import timedelta
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A reset's text must read at a glance in a notification, between two calls.
MAX_RESET_TEXT = 280
# "While connecting" practices are done as the next call connects: half a minute at most.
MAX_CONNECTING_SECONDS = 30
# From this gap on, the short "while the call connects" practices give way to real ones.
_ROOMY_GAP = timedelta(minutes=2)


class PracticeTheme(StrEnum):
    BREATHING = "breathing"
    EYES = "eyes"
    BODY = "body"
    WALK = "walk"
    WATER = "water"
    CLOSE_THE_LOOP = "close_the_loop"


class Setting(StrEnum):
    """Where a practice can be done."""

    ANYWHERE = "anywhere"  # seated, camera on, even on a call
    DESK = "desk"  # at the desk, not on a call
    AWAY = "away"  # needs standing up or leaving the room


class PromptTheme(StrEnum):
    PROGRESS = "progress"  # reward: name what moved, so it registers
    REGULATION = "regulation"  # when was I most reactive, and what came before
    CAPACITY = "capacity"  # what the week taught about limits, without a verdict
    PATTERN = "pattern"  # does low energy track load (overload) or persist (mismatch)


class Practice(BaseModel):
    """One short recovery practice, sent as a reset between meetings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,40}$")
    theme: PracticeTheme
    title: str = Field(min_length=2, max_length=60)
    text: str = Field(min_length=10, max_length=MAX_RESET_TEXT)
    seconds: int = Field(ge=5, le=15 * 60)
    needs_gap_minutes: int = Field(ge=0, le=60)
    setting: Setting
    while_connecting: bool = False

    @model_validator(mode="after")
    def _connecting_is_short(self) -> Practice:
        if self.while_connecting and self.seconds > MAX_CONNECTING_SECONDS:
            raise ValueError(
                f"a while_connecting practice takes at most {MAX_CONNECTING_SECONDS} seconds"
            )
        if self.while_connecting and self.setting is not Setting.ANYWHERE:
            raise ValueError("a while_connecting practice must be doable anywhere")
        return self

    def fits(self, gap: timedelta) -> bool:
        """Whether the practice can be done in a gap of this length before the next call."""
        if self.while_connecting:
            return True
        seconds = gap.total_seconds()
        return self.seconds <= seconds and self.needs_gap_minutes * 60 <= seconds


class ReflectionPrompt(BaseModel):
    """One question of the weekly reflection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,40}$")
    theme: PromptTheme
    text: str = Field(min_length=10, max_length=300)


class Catalog(BaseModel):
    """All practices and prompts Baseline can send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    practices: tuple[Practice, ...] = Field(min_length=1)
    prompts: tuple[ReflectionPrompt, ...] = Field(min_length=3)

    @model_validator(mode="after")
    def _usable(self) -> Catalog:
        for kind, items in (("practice", self.practices), ("prompt", self.prompts)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"two {kind}s share the id {item.id!r}")
                seen.add(item.id)
        if not any(p.while_connecting for p in self.practices):
            raise ValueError(
                "at least one practice needs while_connecting = true, "
                "so back-to-back meetings still get a reset"
            )
        return self

    @cached_property
    def _by_room(self) -> tuple[list[int], list[Practice]]:
        # Practices ordered by the room they need, so "what fits this gap" is a bisect:
        # selection runs for every reset of every person.
        ranked = sorted(
            (0 if p.while_connecting else max(p.seconds, p.needs_gap_minutes * 60), i)
            for i, p in enumerate(self.practices)
        )
        return [room for room, _ in ranked], [self.practices[i] for _, i in ranked]

    def practice(self, practice_id: str) -> Practice | None:
        return next((p for p in self.practices if p.id == practice_id), None)

    def fitting(self, gap: timedelta) -> list[Practice]:
        """Practices that fit ``gap`` (see :meth:`Practice.fits`), least room needed first."""
        rooms, practices = self._by_room
        return practices[: bisect_right(rooms, gap.total_seconds())]


class PracticeFeedback(BaseModel):
    """How a person rated one practice: 👍 / 👎 counts."""

    model_config = ConfigDict(frozen=True)

    helped: int = Field(default=0, ge=0)
    unhelpful: int = Field(default=0, ge=0)

    @property
    def weight(self) -> float:
        # Laplace-smoothed share of "helped": new practices start at 0.5, so they still get
        # tried; one 👎 does not bury a practice, a steady stream of them does.
        return (self.helped + 1) / (self.helped + self.unhelpful + 2)


class PracticeHistory(BaseModel):
    """What selection learns from: the person's own ratings and "fewer like this"."""

    model_config = ConfigDict(frozen=True)

    feedback: Mapping[str, PracticeFeedback] = Field(default_factory=dict)
    fewer: frozenset[PracticeTheme] = frozenset()
    recent: tuple[str, ...] = ()  # practice ids sent on earlier days, oldest first
    seed: int = 0  # a stable per-person number, so two people do not get the same rotation


def choose_practice(
    catalog: Catalog,
    *,
    gap: timedelta,
    used_today: Collection[str],
    history: PracticeHistory,
    slot: int,
) -> Practice:
    """The practice for a reset sent into ``gap`` (time until the next meeting).

    Only practices that fit the gap qualify. Among them, avoid what was already sent today,
    then themes the person asked for fewer of, then what was sent recently; pick by a
    weighted draw (deterministic in ``history.seed`` and ``slot``) leaning on past 👍 / 👎.
    """
    fitting = catalog.fitting(gap)
    if not fitting:
        # Every catalog has a while_connecting practice (validated), and those always fit.
        raise ValueError("the catalog has no practice for this gap")
    pool = fitting
    if used_today:
        used = set(used_today)
        pool = [p for p in pool if p.id not in used] or pool
    if history.fewer:
        pool = [p for p in pool if p.theme not in history.fewer] or pool
    if gap >= _ROOMY_GAP:
        # A real gap deserves more than the 20-second practices made for zero-minute gaps,
        # but not at the price of a repeat or of a theme the person asked for less of.
        pool = [p for p in pool if not p.while_connecting] or pool
    if history.recent:
        recent = set(history.recent[-len(catalog.practices) // 2 :])
        pool = [p for p in pool if p.id not in recent] or pool
    # A small generator seeded by (person, slot): deterministic, and cheap per draw.
    state = _mix((history.seed & _MASK) ^ _mix(slot & _MASK)) & 0xFFFFFFFF
    feedback = history.feedback
    best, best_key = pool[0], -1.0
    for practice in pool:
        # Efraimidis–Spirakis weighted draw: key = u ** (1 / w), the highest key wins.
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF  # LCG step (Numerical Recipes)
        draw = (state + 1) / 4294967296.0  # in (0, 1]
        rating = feedback.get(practice.id) if feedback else None
        key = draw * draw if rating is None else draw ** (1.0 / rating.weight)
        if key > best_key:
            best, best_key = practice, key
    return best


def choose_prompts(
    catalog: Catalog, *, week: int, seed: int = 0, count: int = 3
) -> list[ReflectionPrompt]:
    """``count`` prompts for reflection ``week``, each from a different theme when possible.

    Progress comes every week (wins fade unless named on purpose); the other themes take
    turns. Inside each theme the prompt moves on every week the theme appears.
    """
    by_theme: dict[PromptTheme, list[ReflectionPrompt]] = {}
    for prompt in catalog.prompts:
        by_theme.setdefault(prompt.theme, []).append(prompt)
    first = [PromptTheme.PROGRESS] if PromptTheme.PROGRESS in by_theme else []
    others = [t for t in PromptTheme if t in by_theme and t not in first]
    turn = week + seed
    themes = first + [others[(turn + i) % len(others)] for i in range(len(others))]
    chosen: list[ReflectionPrompt] = []
    for round_ in range(len(catalog.prompts)):
        for theme in themes:
            if len(chosen) == count:
                return chosen
            prompts = by_theme[theme]
            candidate = prompts[(turn + round_) % len(prompts)]
            if candidate not in chosen:
                chosen.append(candidate)
    return chosen


_MASK = 0xFFFFFFFFFFFFFFFF


def _mix(x: int) -> int:
    """splitmix64's finaliser: spreads the bits of a 64-bit number."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)
