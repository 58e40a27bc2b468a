"""The catalog of recovery practices and reflection prompts, and how one is chosen.

The catalog itself is data (config/catalog.toml, replaceable by an organisation); this
module holds its shape, its rules, and the selection that fits a practice to a gap,
rotates through the catalog, and leans towards what helped this person before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A reset's text must read at a glance in a notification, between two calls.
MAX_RESET_TEXT = 280
# "While connecting" practices are done as the next call connects: half a minute at most.
MAX_CONNECTING_SECONDS = 30


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

    def practice(self, practice_id: str) -> Practice | None:
        return next((p for p in self.practices if p.id == practice_id), None)


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
    fitting = [p for p in catalog.practices if p.fits(gap)]
    if not fitting:
        # Every catalog has a while_connecting practice (validated), and those always fit.
        raise ValueError("the catalog has no practice for this gap")
    pool = [p for p in fitting if p.id not in used_today] or fitting
    pool = [p for p in pool if p.theme not in history.fewer] or pool
    recent = set(history.recent[-len(catalog.practices) // 2 :]) if history.recent else set()
    pool = [p for p in pool if p.id not in recent] or pool
    best, best_key = pool[0], -1.0
    for practice in pool:
        rating = history.feedback.get(practice.id)
        weight = rating.weight if rating is not None else 0.5
        # Efraimidis–Spirakis weighted draw: key = u ** (1 / w), highest key wins.
        key = _unit(history.seed, slot, _stable_hash(practice.id)) ** (1.0 / weight)
        if key > best_key:
            best, best_key = practice, key
    return best


def choose_prompts(
    catalog: Catalog, *, week: int, seed: int = 0, count: int = 3
) -> list[ReflectionPrompt]:
    """``count`` prompts for reflection ``week``, each from a different theme when possible.

    Themes rotate week by week, and so do the prompts inside each theme.
    """
    by_theme: dict[PromptTheme, list[ReflectionPrompt]] = {}
    for prompt in catalog.prompts:
        by_theme.setdefault(prompt.theme, []).append(prompt)
    themes = [t for t in PromptTheme if t in by_theme]
    chosen: list[ReflectionPrompt] = []
    offset = week + seed
    for i in range(len(catalog.prompts)):
        if len(chosen) == count:
            break
        theme = themes[(offset + i) % len(themes)]
        prompts = by_theme[theme]
        candidate = prompts[(offset // len(themes) + i // len(themes)) % len(prompts)]
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


def _stable_hash(text: str) -> int:
    # Python's hash() of a str changes per process; rotation must not.
    value = 2166136261
    for ch in text.encode():
        value = ((value ^ ch) * 16777619) & 0xFFFFFFFF
    return value


def _unit(*parts: int) -> float:
    """A deterministic number in (0, 1] from integers (splitmix64 finaliser)."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 29
    return ((x >> 11) + 1) / float(1 << 53)
