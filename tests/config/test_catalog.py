"""The catalog: the bundled TOML, the loader's errors, and how practices and prompts are chosen."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.catalog import CatalogError, load_catalog
from nudges.catalog import (
    MAX_CONNECTING_SECONDS,
    MAX_RESET_TEXT,
    Catalog,
    Practice,
    PracticeFeedback,
    PracticeHistory,
    PracticeTheme,
    PromptTheme,
    ReflectionPrompt,
    Setting,
    choose_practice,
    choose_prompts,
)

BUNDLED_PATH = Path(__file__).resolve().parents[2] / "config" / "catalog.toml"


@cache
def bundled() -> Catalog:
    return load_catalog()


# --- The bundled catalog -----------------------------------------------------------------


def test_bundled_catalog_loads_by_default_and_from_its_path() -> None:
    assert load_catalog(BUNDLED_PATH) == bundled()


def test_bundled_catalog_keeps_the_original_examples() -> None:
    catalog = bundled()
    assert catalog.practice("long-exhale") is not None
    prompt_ids = {p.id for p in catalog.prompts}
    assert {"progress-moved", "regulation-reactive", "capacity-learned"} <= prompt_ids


def test_bundled_practices_cover_every_theme() -> None:
    practices = bundled().practices
    assert len(practices) >= 24
    themes = Counter(p.theme for p in practices)
    assert set(themes) == set(PracticeTheme)
    assert themes[PracticeTheme.CLOSE_THE_LOOP] >= 3


def test_bundled_practices_have_a_spread_of_durations() -> None:
    practices = bundled().practices
    connecting = [p for p in practices if p.while_connecting]
    assert len(connecting) >= 4
    # Several themes, so "fewer of these" still leaves a choice on back-to-back days.
    assert len({p.theme for p in connecting}) >= 3

    # A minute or two, for the 3-10 minute gaps.
    short = [p for p in practices if 60 <= p.seconds <= 120 and p.needs_gap_minutes <= 5]
    assert len(short) >= 6
    assert len({p.theme for p in short}) >= 4

    long = [p for p in practices if 5 * 60 <= p.seconds <= 10 * 60]
    assert len(long) >= 4
    assert {PracticeTheme.WALK, PracticeTheme.WATER} <= {p.theme for p in long}
    assert sum(p.fits(timedelta(minutes=15)) for p in long) >= 4


def test_bundled_practice_ids_are_unique() -> None:
    ids = [p.id for p in bundled().practices]
    assert len(ids) == len(set(ids))
    prompt_ids = [p.id for p in bundled().prompts]
    assert len(prompt_ids) == len(set(prompt_ids))


@pytest.mark.parametrize("practice", bundled().practices, ids=lambda p: p.id)
def test_bundled_practice_fits_its_own_gap(practice: Practice) -> None:
    assert practice.fits(timedelta(minutes=practice.needs_gap_minutes))
    # Honest about the time the practice itself takes, even where fits() would not check.
    assert practice.needs_gap_minutes * 60 >= practice.seconds or practice.while_connecting


@pytest.mark.parametrize("practice", bundled().practices, ids=lambda p: p.id)
def test_bundled_practice_leaves_time_to_get_back(practice: Practice) -> None:
    gap_seconds = practice.needs_gap_minutes * 60
    if practice.theme is PracticeTheme.WALK:
        # A walk has to come back: a 5-minute walk needs a 10-minute gap.
        assert gap_seconds >= 2 * practice.seconds
    if practice.setting is Setting.AWAY and practice.seconds >= 60:
        assert gap_seconds >= practice.seconds + 60


@pytest.mark.parametrize(
    "practice", [p for p in bundled().practices if p.while_connecting], ids=lambda p: p.id
)
def test_bundled_while_connecting_practice_is_short_and_doable_on_a_call(
    practice: Practice,
) -> None:
    assert practice.seconds <= MAX_CONNECTING_SECONDS
    assert practice.setting is Setting.ANYWHERE
    assert practice.needs_gap_minutes == 0
    assert practice.fits(timedelta(0))


# Words that turn a reset into an order, a verdict or a medical claim.
_UNWELCOME = re.compile(
    r"\b(should|must|have to|need to|cure\w*|heal\w*|treat\w*|diagnos\w*|disorder|"
    r"symptom\w*|therapy|cortisol|nervous system|lazy|weak\w*|fail\w*)\b",
    re.IGNORECASE,
)


def _symbols(text: str) -> int:
    return sum(unicodedata.category(ch) == "So" for ch in text)


@pytest.mark.parametrize("practice", bundled().practices, ids=lambda p: p.id)
def test_bundled_practice_text_is_short_kind_and_plain(practice: Practice) -> None:
    assert len(practice.text) <= MAX_RESET_TEXT
    assert _symbols(practice.text) <= 1
    assert _UNWELCOME.search(practice.text) is None
    assert practice.text.rstrip().endswith((".", "?"))


def test_bundled_prompts_cover_every_theme() -> None:
    prompts = bundled().prompts
    assert len(prompts) >= 16
    themes = Counter(p.theme for p in prompts)
    assert set(themes) == set(PromptTheme)
    assert min(themes.values()) >= 4


@pytest.mark.parametrize("prompt", bundled().prompts, ids=lambda p: p.id)
def test_bundled_prompt_is_a_gentle_question(prompt: ReflectionPrompt) -> None:
    assert "?" in prompt.text
    assert _symbols(prompt.text) <= 1
    assert _UNWELCOME.search(prompt.text) is None


# --- The loader's errors ------------------------------------------------------------------


def _practice_fields(
    ident: str, *, seconds: int = 20, while_connecting: bool = True
) -> dict[str, object]:
    return {
        "id": ident,
        "theme": "breathing",
        "title": "A practice",
        "text": "Breathe in for four, out for six.",
        "seconds": seconds,
        "needs_gap_minutes": 0 if while_connecting else 10,
        "setting": "anywhere" if while_connecting else "away",
        "while_connecting": while_connecting,
    }


def _valid_practices() -> list[dict[str, object]]:
    return [
        _practice_fields("long-exhale"),
        _practice_fields("walk-outside", seconds=300, while_connecting=False),
    ]


def _valid_prompts() -> list[dict[str, object]]:
    return [
        {"id": f"{theme.value}-one", "theme": theme.value, "text": "What moved this week?"}
        for theme in PromptTheme
    ]


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid TOML basic string.
    return json.dumps(value)


def _write_catalog(
    tmp_path: Path,
    practices: Sequence[dict[str, object]],
    prompts: Sequence[dict[str, object]] | None = None,
) -> Path:
    lines: list[str] = []
    for table, items in (("practice", practices), ("prompt", prompts or _valid_prompts())):
        for item in items:
            lines.append(f"[[{table}]]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in item.items())
            lines.append("")
    path = tmp_path / "catalog.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_a_valid_catalog_file_loads(tmp_path: Path) -> None:
    catalog = load_catalog(_write_catalog(tmp_path, _valid_practices()))
    assert [p.id for p in catalog.practices] == ["long-exhale", "walk-outside"]
    walk = catalog.practice("walk-outside")
    assert walk is not None
    assert walk.seconds == 300
    assert not walk.while_connecting
    assert len(catalog.prompts) == len(PromptTheme)


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text('[[practice]]\nid = "long-exhale"\ntheme = \n', encoding="utf-8")
    message = _error(path)
    assert "not valid TOML" in message
    assert "line 3" in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_bytes(b'[[practice]]\nid = "caf\xe9"\n')
    assert "not valid TOML" in _error(path)


def test_a_missing_field_names_the_entry_and_field(tmp_path: Path) -> None:
    practices = _valid_practices()
    del practices[1]["seconds"]
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #2 (walk-outside).seconds" in message
    assert "Field required" in message


def test_a_wrong_type_names_the_entry_and_field(tmp_path: Path) -> None:
    practices = _valid_practices()
    practices[1]["seconds"] = "five minutes"
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #2 (walk-outside).seconds" in message


def test_a_text_of_280_characters_is_accepted(tmp_path: Path) -> None:
    practices = _valid_practices()
    practices[1]["text"] = "a" * MAX_RESET_TEXT
    catalog = load_catalog(_write_catalog(tmp_path, practices))
    assert len(catalog.practices[1].text) == MAX_RESET_TEXT


def test_a_text_over_280_characters_names_the_entry(tmp_path: Path) -> None:
    practices = _valid_practices()
    practices[1]["text"] = "a" * (MAX_RESET_TEXT + 1)
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #2 (walk-outside).text" in message
    assert str(MAX_RESET_TEXT) in message


def test_a_minute_long_while_connecting_practice_names_the_entry(tmp_path: Path) -> None:
    practices = [*_valid_practices(), _practice_fields("slow-sigh", seconds=60)]
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #3 (slow-sigh)" in message
    assert f"{MAX_CONNECTING_SECONDS} seconds" in message


def test_a_while_connecting_practice_away_from_the_desk_names_the_entry(tmp_path: Path) -> None:
    practices = _valid_practices()
    practices[0]["setting"] = "away"
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #1 (long-exhale)" in message
    assert "anywhere" in message


def test_a_prompt_error_names_the_prompt(tmp_path: Path) -> None:
    prompts = _valid_prompts()
    prompts[2]["theme"] = "verdict"
    message = _error(_write_catalog(tmp_path, _valid_practices(), prompts))
    assert f"[[prompt]] #3 ({prompts[2]['id']}).theme" in message


def test_duplicate_practice_ids_name_the_id(tmp_path: Path) -> None:
    practices = [*_valid_practices(), _practice_fields("walk-outside")]
    message = _error(_write_catalog(tmp_path, practices))
    assert "'walk-outside'" in message
    assert "share the id" in message


def test_duplicate_prompt_ids_name_the_id(tmp_path: Path) -> None:
    prompts = _valid_prompts()
    prompts[1]["id"] = prompts[0]["id"]
    message = _error(_write_catalog(tmp_path, _valid_practices(), prompts))
    assert f"'{prompts[0]['id']}'" in message


def test_a_catalog_without_a_while_connecting_practice_is_refused(tmp_path: Path) -> None:
    practices = [_practice_fields("walk-outside", seconds=300, while_connecting=False)]
    message = _error(_write_catalog(tmp_path, practices))
    assert "while_connecting" in message


def test_many_problems_are_summarised(tmp_path: Path) -> None:
    practices = [_practice_fields(f"p{i}") for i in range(7)]
    for practice in practices:
        del practice["title"]
    message = _error(_write_catalog(tmp_path, practices))
    assert "[[practice]] #1 (p0).title" in message
    assert "[[practice]] #6 (p5).title" not in message
    assert "more)" in message


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    message = _error(tmp_path / "nowhere" / "catalog.toml")
    assert "cannot be read" in message


def test_a_directory_cannot_be_read(tmp_path: Path) -> None:
    assert "cannot be read" in _error(tmp_path)


# --- Choosing a practice ------------------------------------------------------------------


def _practice(
    ident: str,
    *,
    theme: PracticeTheme = PracticeTheme.BREATHING,
    seconds: int = 20,
    needs_gap_minutes: int = 0,
    setting: Setting = Setting.ANYWHERE,
    while_connecting: bool = False,
) -> Practice:
    return Practice(
        id=ident,
        theme=theme,
        title=ident.replace("-", " "),
        text=f"Do the {ident} practice, slowly.",
        seconds=seconds,
        needs_gap_minutes=needs_gap_minutes,
        setting=setting,
        while_connecting=while_connecting,
    )


def _prompts() -> tuple[ReflectionPrompt, ...]:
    return tuple(
        ReflectionPrompt(id=f"{theme.value}-{i}", theme=theme, text=f"{theme.value} question {i}?")
        for theme in PromptTheme
        for i in range(3)
    )


def _catalog(*practices: Practice) -> Catalog:
    return Catalog(practices=practices, prompts=_prompts())


# One practice per size, each just too big for the next smaller gap in the table below.
SIZED = _catalog(
    _practice("sigh", while_connecting=True),
    _practice("stand-up", theme=PracticeTheme.BODY, seconds=40, needs_gap_minutes=1),
    _practice("box-breath", seconds=90, needs_gap_minutes=3),
    _practice("walk-5", theme=PracticeTheme.WALK, seconds=300, needs_gap_minutes=10),
    _practice("walk-10", theme=PracticeTheme.WALK, seconds=600, needs_gap_minutes=20),
)


def _chosen_over_seeds(
    catalog: Catalog,
    *,
    gap: timedelta,
    seeds: int = 400,
    used_today: Sequence[str] = (),
    fewer: frozenset[PracticeTheme] = frozenset(),
    recent: tuple[str, ...] = (),
    feedback: dict[str, PracticeFeedback] | None = None,
    slot: int = 0,
) -> Counter[str]:
    return Counter(
        choose_practice(
            catalog,
            gap=gap,
            used_today=used_today,
            history=PracticeHistory(seed=seed, fewer=fewer, recent=recent, feedback=feedback or {}),
            slot=slot,
        ).id
        for seed in range(seeds)
    )


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (timedelta(0), {"sigh"}),
        (timedelta(seconds=45), {"sigh"}),
        (timedelta(minutes=3), {"stand-up", "box-breath"}),
        (timedelta(minutes=12), {"stand-up", "box-breath", "walk-5"}),
        (timedelta(minutes=30), {"stand-up", "box-breath", "walk-5", "walk-10"}),
    ],
)
def test_only_practices_that_fit_the_gap_are_chosen(gap: timedelta, expected: set[str]) -> None:
    # Exactly the fitting ones: nothing too long, and every fitting one gets its turn.
    # From a couple of minutes on, the 20-second "while connecting" one gives way.
    assert set(_chosen_over_seeds(SIZED, gap=gap)) == expected


@pytest.mark.parametrize(
    "gap",
    [timedelta(0), timedelta(seconds=45), timedelta(minutes=3), timedelta(minutes=12)],
)
def test_bundled_choices_fit_the_gap(gap: timedelta) -> None:
    chosen = [bundled().practice(ident) for ident in _chosen_over_seeds(bundled(), gap=gap)]
    assert all(p is not None and p.fits(gap) for p in chosen)
    if gap < timedelta(minutes=1):
        assert all(p is not None and p.while_connecting for p in chosen)


def test_no_repeat_of_a_practice_used_today_while_others_fit() -> None:
    catalog = _catalog(
        _practice("aa", while_connecting=True),
        _practice("bb", theme=PracticeTheme.EYES, while_connecting=True),
        _practice("cc", theme=PracticeTheme.BODY, while_connecting=True),
    )
    assert set(_chosen_over_seeds(catalog, gap=timedelta(0), used_today=["aa", "bb"])) == {"cc"}
    # With nothing else left, a repeat beats no reset at all.
    everything = ["aa", "bb", "cc"]
    assert set(_chosen_over_seeds(catalog, gap=timedelta(0), used_today=everything)) == {
        "aa",
        "bb",
        "cc",
    }


def test_themes_asked_for_fewer_of_are_avoided_while_others_fit() -> None:
    catalog = _catalog(
        _practice("breath", while_connecting=True),
        _practice("eyes", theme=PracticeTheme.EYES, while_connecting=True),
        _practice("body", theme=PracticeTheme.BODY, while_connecting=True),
    )
    fewer = frozenset({PracticeTheme.BREATHING, PracticeTheme.EYES})
    assert set(_chosen_over_seeds(catalog, gap=timedelta(0), fewer=fewer)) == {"body"}
    everything = frozenset(PracticeTheme)
    assert len(_chosen_over_seeds(catalog, gap=timedelta(0), fewer=everything)) == 3


def test_practices_sent_recently_are_avoided_while_others_fit() -> None:
    catalog = _catalog(*(_practice(f"p{i}", while_connecting=True) for i in range(6)))
    chosen = _chosen_over_seeds(catalog, gap=timedelta(0), recent=("p0", "p1"))
    assert set(chosen) == {"p2", "p3", "p4", "p5"}


def test_choice_is_deterministic_for_the_same_inputs() -> None:
    history = PracticeHistory(
        seed=42,
        recent=("walk-outside",),
        feedback={"box-breath": PracticeFeedback(helped=3, unhelpful=1)},
    )
    first = [
        choose_practice(
            bundled(), gap=timedelta(minutes=15), used_today=[], history=history, slot=slot
        )
        for slot in range(20)
    ]
    again = [
        choose_practice(
            bundled(), gap=timedelta(minutes=15), used_today=[], history=history, slot=slot
        )
        for slot in range(20)
    ]
    assert first == again


def test_choice_rotates_across_slots() -> None:
    chosen = {
        choose_practice(
            bundled(),
            gap=timedelta(minutes=15),
            used_today=[],
            history=PracticeHistory(seed=7),
            slot=slot,
        ).id
        for slot in range(30)
    }
    assert len(chosen) >= 8


def test_two_people_do_not_share_one_rotation() -> None:
    def rotation(seed: int) -> list[str]:
        return [
            choose_practice(
                bundled(),
                gap=timedelta(minutes=15),
                used_today=[],
                history=PracticeHistory(seed=seed),
                slot=slot,
            ).id
            for slot in range(10)
        ]

    assert rotation(1) != rotation(2)


def test_choice_rotates_across_days() -> None:
    # A week of four 15-minute gaps a day: "used today" resets each morning, "recent" grows.
    recent: list[str] = []
    days: list[list[str]] = []
    for day in range(7):
        today: list[str] = []
        for slot in range(4):
            practice = choose_practice(
                bundled(),
                gap=timedelta(minutes=15),
                used_today=today,
                history=PracticeHistory(seed=3, recent=tuple(recent)),
                slot=day * 64 + slot,  # as the planner numbers them
            )
            today.append(practice.id)
        recent.extend(today)
        days.append(today)
    for yesterday, today in pairwise(days):
        assert len(set(today)) == 4
        assert not set(today) & set(yesterday)
    assert len({ident for day in days for ident in day}) >= 14


def test_practices_rated_unhelpful_are_chosen_far_less_often() -> None:
    catalog = _catalog(*(_practice(f"p{i}", while_connecting=True) for i in range(5)))

    def times_chosen(feedback: PracticeFeedback) -> int:
        return _chosen_over_seeds(catalog, gap=timedelta(0), feedback={"p2": feedback})["p2"]

    liked = times_chosen(PracticeFeedback(helped=20))
    unrated = times_chosen(PracticeFeedback())
    disliked = times_chosen(PracticeFeedback(unhelpful=20))
    # 400 draws among 5: a fair share is 80.
    assert liked > unrated > disliked
    assert liked >= 10 * max(disliked, 1)
    assert disliked < 20
    # One 👎 does not bury a practice.
    assert times_chosen(PracticeFeedback(unhelpful=1)) >= 20


_ROOMY = _catalog(
    _practice("sip", theme=PracticeTheme.WATER, seconds=10, while_connecting=True),
    _practice("stretch", theme=PracticeTheme.BODY, seconds=60, needs_gap_minutes=2),
)

# Avoiding a repeat and a "fewer" theme outranks the wish for a longer practice in a gap
# of 2 minutes or more.


def test_a_roomy_gap_does_not_repeat_todays_practice_while_another_fits() -> None:
    chosen = _chosen_over_seeds(_ROOMY, gap=timedelta(minutes=3), used_today=["stretch"])
    assert set(chosen) == {"sip"}


def test_a_roomy_gap_avoids_a_fewer_theme_while_another_fits() -> None:
    fewer = frozenset({PracticeTheme.BODY})
    assert set(_chosen_over_seeds(_ROOMY, gap=timedelta(minutes=3), fewer=fewer)) == {"sip"}


_IDS = [p.id for p in bundled().practices]


@given(
    gap_seconds=st.integers(min_value=0, max_value=2 * 60 * 60),
    used_today=st.lists(st.sampled_from(_IDS), max_size=len(_IDS), unique=True),
    fewer=st.frozensets(st.sampled_from(list(PracticeTheme))),
    recent=st.lists(st.sampled_from(_IDS), max_size=40),
    seed=st.integers(min_value=0, max_value=2**32),
    slot=st.integers(min_value=0, max_value=10_000),
)
def test_the_chosen_practice_always_fits_and_respects_the_avoid_lists(
    *,
    gap_seconds: int,
    used_today: list[str],
    fewer: frozenset[PracticeTheme],
    recent: list[str],
    seed: int,
    slot: int,
) -> None:
    catalog = bundled()
    gap = timedelta(seconds=gap_seconds)
    history = PracticeHistory(seed=seed, fewer=fewer, recent=tuple(recent))
    chosen = choose_practice(catalog, gap=gap, used_today=used_today, history=history, slot=slot)
    assert chosen.fits(gap)
    # Compared within the chosen one's kind (a "while connecting" one or a longer one): which
    # kind wins a roomy gap is the selection's call, see the xfail tests below.
    fitting = [
        p
        for p in catalog.practices
        if p.fits(gap) and p.while_connecting == chosen.while_connecting
    ]
    fresh = [p for p in fitting if p.id not in used_today]
    if fresh:
        assert chosen.id not in used_today
    if any(p.theme not in fewer for p in fresh):
        assert chosen.theme not in fewer
    again = choose_practice(catalog, gap=gap, used_today=used_today, history=history, slot=slot)
    assert again == chosen


# --- Choosing the weekly prompts ----------------------------------------------------------


@given(
    week=st.integers(min_value=0, max_value=10_000), seed=st.integers(min_value=0, max_value=10**6)
)
def test_three_prompts_from_three_different_themes(week: int, seed: int) -> None:
    prompts = choose_prompts(bundled(), week=week, seed=seed)
    assert len(prompts) == 3
    assert len({p.theme for p in prompts}) == 3
    assert prompts == choose_prompts(bundled(), week=week, seed=seed)


def test_prompts_rotate_week_to_week() -> None:
    weeks = [{p.id for p in choose_prompts(bundled(), week=week)} for week in range(52)]
    for this_week, next_week in pairwise(weeks):
        assert this_week != next_week
    # Within a few months every question has come round.
    most_per_theme = max(Counter(p.theme for p in bundled().prompts).values())
    asked = set().union(*weeks[: len(PromptTheme) * most_per_theme])
    assert asked == {p.id for p in bundled().prompts}


def test_prompt_rotation_depends_on_the_person() -> None:
    first = [[p.id for p in choose_prompts(bundled(), week=week, seed=0)] for week in range(8)]
    other = [[p.id for p in choose_prompts(bundled(), week=week, seed=5)] for week in range(8)]
    assert first != other
