"""The Block Kit builders: snapshots of every message and view, Slack's limits on all of
them (with the largest inputs the models allow), and the details listeners rely on
(action ids, button values, times in the person's zone, nothing private echoed back)."""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.views import View

from bot import blocks
from bot.blocks import Message
from bot.models import Profile
from nudges import texts as nudge_texts
from nudges.catalog import Practice, PracticeTheme, PromptTheme, ReflectionPrompt, Setting
from nudges.clock import BusyInterval, ClockRange, Weekdays
from nudges.density import describe_day, recovery_load
from nudges.feelings import FeelEntry, FeelTrend, Weighed
from nudges.insights import Outcome, Signal, WeekSummary
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences, ReflectionTime

SNAPSHOTS = Path(__file__).parent / "snapshots"
BERLIN = ZoneInfo("Europe/Berlin")
# Monday 23 November 2026, 11:00 in Berlin (CET, UTC+1).
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)

# --- fixed inputs ----------------------------------------------------------------------------

BREATH = Practice(
    id="long-exhale",
    theme=PracticeTheme.BREATHING,
    title="Three long exhales",
    text=(
        "While the next call connects: breathe in through your nose for a count of four, "
        "then out slowly for six. Three rounds."
    ),
    seconds=30,
    needs_gap_minutes=0,
    setting=Setting.ANYWHERE,
    while_connecting=True,
)
WALK = Practice(
    id="hallway-loop",
    theme=PracticeTheme.WALK,
    title="Hallway loop",
    text="Stand up, walk to the far end of the floor & back. Look out of a window on the way.",
    seconds=300,
    needs_gap_minutes=10,
    setting=Setting.AWAY,
)
# The largest practice the catalog accepts.
LONGEST = Practice(
    id="l" * 41,
    theme=PracticeTheme.CLOSE_THE_LOOP,
    title="T" * 60,
    text="<x> & " * 46 + "done",
    seconds=15 * 60,
    needs_gap_minutes=60,
    setting=Setting.DESK,
)

RESET = Nudge(
    kind=NudgeKind.RESET,
    key="reset:2026-11-23T10:30:00+00:00",
    at=datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
    expires_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),  # 12:00 in Berlin
    text=BREATH.text,
    practice=BREATH.id,
)
HEAVY = Nudge(
    kind=NudgeKind.HEAVY_DAY,
    key="heavy_day:2026-11-23",
    at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    expires_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    text=nudge_texts.heavy_day(
        meeting_minutes=330,
        longest_start=datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN),
        longest_end=datetime(2026, 11, 23, 13, 30, tzinfo=BERLIN),
        slot=(
            datetime(2026, 11, 23, 13, 30, tzinfo=BERLIN),
            datetime(2026, 11, 23, 14, 15, tzinfo=BERLIN),
        ),
    ),
)
REFLECTION = Nudge(
    kind=NudgeKind.REFLECTION,
    key="reflection:2026-W48",
    at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    expires_at=datetime(2026, 11, 27, 17, 0, tzinfo=UTC),
    text="Your week is nearly done.",
    prompts=("progress-moved", "regulation-reactive", "pattern-drain"),
)
PROMPTS = [
    ReflectionPrompt(
        id="progress-moved",
        theme=PromptTheme.PROGRESS,
        text="What moved forward this week because of you, even a little?",
    ),
    ReflectionPrompt(
        id="regulation-reactive",
        theme=PromptTheme.REGULATION,
        text="When did you feel most reactive this week? What happened just before it?",
    ),
    ReflectionPrompt(
        id="pattern-drain",
        theme=PromptTheme.PATTERN,
        text="Which kind of work gave you energy this week, and which kind drained you?",
    ),
]
WEEK_DAYS = [date(2026, 11, 23) + timedelta(days=i) for i in range(5)]
SUMMARY = WeekSummary(
    first_day=date(2026, 11, 23),
    meeting_minutes_by_day=tuple(zip(WEEK_DAYS, (330.0, 120.0, 45.0, 270.0, 0.0), strict=True)),
    meeting_minutes=765.0,
    chains=4,
    longest_chain_minutes=210.0,
    resets_done=6,
    resets_snoozed=2,
    resets_skipped=1,
    helped=4,
    feel_by_day=((WEEK_DAYS[0], 2.0), (WEEK_DAYS[1], 3.5), (WEEK_DAYS[3], 2.5)),
    feel_average=2.7,
    signal=None,
)
QUIET_WEEK = WeekSummary(
    first_day=date(2026, 11, 23),
    meeting_minutes_by_day=(),
    meeting_minutes=0.0,
    chains=0,
    longest_chain_minutes=0.0,
    resets_done=0,
    resets_snoozed=0,
    resets_skipped=0,
    helped=0,
    feel_by_day=(),
    feel_average=None,
    signal=None,
)
TREND = FeelTrend(this_week=3.2, last_week=2.6, recent=(1, 2, 3, 3, 4, 2, 5))
NEW_TREND = FeelTrend(this_week=None, last_week=None, recent=())
SECRET_NOTE = "my manager shouted at me again"
ENTRY = FeelEntry(at=NOW, score=3, weighed=Weighed.MEETINGS, note=SECRET_NOTE)

PROFILE = Profile(
    opted_in=True,
    tz_from_slack=True,
    preferences=Preferences(
        tz=BERLIN,
        working_hours=ClockRange(start=time(9, 0), end=time(17, 30)),
        working_days=Weekdays(days=frozenset({0, 1, 2, 3})),
        quiet_hours=ClockRange(start=time(18, 0), end=time(8, 0)),
        paused_until=datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        reflection=ReflectionTime(weekday=4, at=time(16, 0)),
        heavy_day_heads_up=False,
    ),
)
NEW_PROFILE = Profile()
CALENDAR = "https://calendar.google.com/…/basic.ics"


def _busy(*spans: tuple[str, str]) -> list[BusyInterval]:
    def at(clock: str) -> datetime:
        hour, minute = map(int, clock.split(":"))
        return datetime.combine(DAY, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)

    return [BusyInterval(start=at(a), end=at(b)) for a, b in spans]


BUSY = _busy(
    ("09:00", "09:30"),
    ("10:00", "11:00"),
    ("11:00", "12:00"),
    ("12:05", "13:30"),
    ("15:00", "16:00"),
)
SHAPE = describe_day(
    BUSY,
    day=DAY,
    tz=BERLIN,
    working_hours=PROFILE.preferences.working_hours,
    working_days=PROFILE.preferences.working_days,
    chain_gap=timedelta(minutes=10),
)
LOAD = [
    (p.at, p.load)
    for p in recovery_load(
        BUSY,
        start=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        end=datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
        step=timedelta(minutes=30),
    )
]
EMPTY_SHAPE = describe_day(
    [],
    day=DAY,
    tz=BERLIN,
    working_hours=PROFILE.preferences.working_hours,
    working_days=PROFILE.preferences.working_days,
    chain_gap=timedelta(minutes=10),
)


def _home(**changes: Any) -> View:
    arguments: dict[str, Any] = {
        "profile": PROFILE,
        "shape": SHAPE,
        "load": LOAD,
        "resets_today": 2,
        "calendar": CALENDAR,
        "errors": None,
        "now": NOW,
    }
    arguments.update(changes)
    return blocks.home_view(**arguments)


Built = Message | View

# Every builder with fixed inputs: the name is the snapshot file's name.
CASES: dict[str, Callable[[], Built]] = {
    "help": blocks.help_message,
    "help_suggestion": lambda: blocks.help_message("pause"),
    "feel_usage": lambda: blocks.feel_usage("9 is not between 1 and 5"),
    "feel_saved": lambda: blocks.feel_saved(ENTRY, TREND),
    "feel_saved_first": lambda: blocks.feel_saved(ENTRY, NEW_TREND),
    "feel_modal": blocks.feel_modal,
    "storage_unavailable": blocks.storage_unavailable,
    "reset_dm": lambda: blocks.reset_dm(RESET, BREATH, tz=BERLIN),
    "reset_dm_walk": lambda: blocks.reset_dm(RESET, WALK, tz=BERLIN),
    "reset_after_done": lambda: blocks.reset_after_done(RESET, BREATH),
    "reset_closed_helped": lambda: blocks.reset_closed(
        BREATH, outcome=Outcome.DONE, helped=True, snooze_until=None, tz=BERLIN
    ),
    "reset_closed_unhelpful": lambda: blocks.reset_closed(
        BREATH, outcome=Outcome.DONE, helped=False, snooze_until=None, tz=BERLIN
    ),
    "reset_closed_snoozed": lambda: blocks.reset_closed(
        BREATH,
        outcome=Outcome.SNOOZED,
        helped=None,
        snooze_until=datetime(2026, 11, 23, 10, 40, tzinfo=UTC),
        tz=BERLIN,
    ),
    "reset_closed_not_now": lambda: blocks.reset_closed(
        BREATH, outcome=Outcome.NOT_NOW, helped=None, snooze_until=None, tz=BERLIN
    ),
    "reset_closed_fewer": lambda: blocks.reset_closed(
        WALK, outcome=Outcome.FEWER, helped=None, snooze_until=None, tz=BERLIN
    ),
    "reset_closed_expired": lambda: blocks.reset_closed(
        BREATH, outcome=Outcome.EXPIRED, helped=None, snooze_until=None, tz=BERLIN
    ),
    "heavy_day_dm": lambda: blocks.heavy_day_dm(HEAVY),
    "reflection_dm": lambda: blocks.reflection_dm(REFLECTION, SUMMARY, PROMPTS, tz=BERLIN),
    "reflection_dm_overload": lambda: blocks.reflection_dm(
        REFLECTION, SUMMARY.model_copy(update={"signal": Signal.OVERLOAD}), PROMPTS, tz=BERLIN
    ),
    "reflection_dm_mismatch": lambda: blocks.reflection_dm(
        REFLECTION, SUMMARY.model_copy(update={"signal": Signal.MISMATCH}), PROMPTS, tz=BERLIN
    ),
    "reflection_dm_quiet_week": lambda: blocks.reflection_dm(
        REFLECTION, QUIET_WEEK, PROMPTS, tz=BERLIN
    ),
    "reflection_modal": lambda: blocks.reflection_modal(PROMPTS, week="2026-W48"),
    "reflection_saved": blocks.reflection_saved,
    "support_dm": lambda: blocks.support_dm("https://intranet.example.com/support?team=a&b=c"),
    "support_dm_no_url": lambda: blocks.support_dm(None),
    "status": lambda: blocks.status_message(
        PROFILE,
        calendar=CALENDAR,
        paused_until=PROFILE.preferences.paused_until,
        now=NOW,
    ),
    "status_new": lambda: blocks.status_message(
        NEW_PROFILE, calendar=None, paused_until=None, now=NOW
    ),
    "week": lambda: blocks.week_message(SUMMARY, TREND, tz=BERLIN),
    "week_quiet": lambda: blocks.week_message(QUIET_WEEK, NEW_TREND, tz=BERLIN),
    "forget_confirm": blocks.forget_confirm,
    "forgotten": lambda: blocks.forgotten(7),
    "forgotten_nothing": lambda: blocks.forgotten(0),
    "forget_cancelled": blocks.forget_cancelled,
    "confirmation": lambda: blocks.confirmation("Paused until Mon 09:00"),
    "error": lambda: blocks.error_message("That time has already passed"),
    "home": _home,
    "home_errors": lambda: _home(
        errors={
            "work_end": "Start and end can't be the same time.",
            "quiet_start": "Pick both a start and an end time, or neither.",
            "elsewhere": "Something else went wrong",
        }
    ),
    "home_new": lambda: _home(
        profile=NEW_PROFILE, shape=None, load=[], resets_today=0, calendar=None
    ),
    "home_no_meetings": lambda: _home(shape=EMPTY_SHAPE, load=[], resets_today=0),
}

# The form fields of the App Home, in order (bot/listeners/home.py reads these block ids).
HOME_FIELDS = (
    "opted_in",
    "work_start",
    "work_end",
    "work_days",
    "quiet_start",
    "quiet_end",
    "reflection_day",
    "reflection_time",
    "heads_up",
)


# The biggest inputs the models allow, to prove the limits hold at the edges.
MANY_MEETINGS = [
    BusyInterval(
        start=datetime(2026, 11, 23, 7, 0, tzinfo=UTC) + timedelta(minutes=20 * i),
        end=datetime(2026, 11, 23, 7, 10, tzinfo=UTC) + timedelta(minutes=20 * i),
    )
    for i in range(40)
]
LONG_PROMPTS = [
    ReflectionPrompt(id=f"p{i}-" + "x" * 36, theme=PromptTheme.CAPACITY, text="Why? " * 60)
    for i in range(20)
]
STRESS: dict[str, Callable[[], Built]] = {
    "longest_practice": lambda: blocks.reset_dm(
        RESET.model_copy(update={"key": "k" * 2000}), LONGEST, tz=BERLIN
    ),
    "longest_practice_done": lambda: blocks.reset_after_done(
        RESET.model_copy(update={"key": "k" * 2000}), LONGEST
    ),
    "longest_practice_closed": lambda: blocks.reset_closed(
        LONGEST, outcome=Outcome.FEWER, helped=None, snooze_until=None, tz=BERLIN
    ),
    "long_prompts_dm": lambda: blocks.reflection_dm(
        REFLECTION, SUMMARY, LONG_PROMPTS[:3], tz=BERLIN
    ),
    "long_prompts_modal": lambda: blocks.reflection_modal(LONG_PROMPTS, week="2026-W48"),
    "long_metadata_modal": lambda: blocks.reflection_modal(PROMPTS, week="w" * 3000),
    "huge_error": lambda: blocks.error_message("<!channel> & " * 2000),
    "huge_confirmation": lambda: blocks.confirmation("x" * 10_000),
    "huge_usage": lambda: blocks.feel_usage("y" * 10_000),
    "huge_suggestion": lambda: blocks.help_message("z" * 10_000),
    "busy_home": lambda: _home(
        shape=describe_day(
            MANY_MEETINGS,
            day=DAY,
            tz=BERLIN,
            working_hours=PROFILE.preferences.working_hours,
            working_days=PROFILE.preferences.working_days,
            chain_gap=timedelta(minutes=5),
        ),
        load=[(NOW + timedelta(minutes=15 * i), (i % 9) / 8) for i in range(96)],
        errors={
            **dict.fromkeys(HOME_FIELDS, "⚠ " + "bad " * 200),
            "unknown": "<script> & " * 100,
        },
    ),
}


def payload(built: Built) -> dict[str, Any]:
    return built.to_dict()


# --- snapshots -------------------------------------------------------------------------------


def assert_snapshot(name: str, data: Any, *, directory: Path = SNAPSHOTS) -> None:
    """Compare ``data`` as JSON with ``directory/name.json``.

    ``UPDATE_SNAPSHOTS=1`` writes the file (new or changed); without it a missing or
    different snapshot fails, so a snapshot is never created silently.
    """
    rendered = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path = directory / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}; create it with UPDATE_SNAPSHOTS=1 and review it")
    expected = path.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"{path.name} (snapshot)",
                tofile=f"{path.name} (now)",
            )
        )
        pytest.fail(f"{path.name} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_snapshot(name: str) -> None:
    assert_snapshot(name, payload(CASES[name]()))


def test_every_snapshot_belongs_to_a_case() -> None:
    files = {path.stem for path in SNAPSHOTS.glob("*.json")}
    assert files == set(CASES)


class TestSnapshotHelper:
    def test_missing_snapshot_fails_without_update(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
        with pytest.raises(pytest.fail.Exception, match=r"no snapshot new\.json"):
            assert_snapshot("new", {"a": 1}, directory=tmp_path)
        assert not (tmp_path / "new.json").exists()

    def test_update_creates_the_snapshot(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")
        assert_snapshot("new", {"a": "ü"}, directory=tmp_path)
        assert (tmp_path / "new.json").read_text(encoding="utf-8") == '{\n  "a": "ü"\n}\n'

    def test_difference_fails_with_a_diff(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
        (tmp_path / "old.json").write_text('{\n  "a": 1\n}\n', encoding="utf-8")
        assert_snapshot("old", {"a": 1}, directory=tmp_path)
        with pytest.raises(pytest.fail.Exception, match=r'\+  "a": 2'):
            assert_snapshot("old", {"a": 2}, directory=tmp_path)


# --- Slack's limits --------------------------------------------------------------------------

# In mrkdwn, "<" and ">" only ever frame a link we built: a bare one is read as a mention
# or a link, so outside text must arrive escaped.
OUR_LINK = re.compile(r"<https?://[^<>\s|]+\|[^<>]+>")


def assert_escaped(mrkdwn: str) -> None:
    bare = OUR_LINK.sub("", mrkdwn)
    assert "<" not in bare, mrkdwn
    assert ">" not in bare, mrkdwn


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def check_limits(built: Built) -> None:
    """Slack's documented limits (shared/docs/slack-facts.md) on a serialised message/view."""
    data = payload(built)
    if isinstance(built, View):
        assert 1 <= len(data["blocks"]) <= 100
        for key in ("title", "submit", "close"):
            if key in data:
                assert 1 <= len(data[key]["text"]) <= 24, key
        assert len(data.get("private_metadata", "")) <= 3000
    else:
        assert 1 <= len(data["blocks"]) <= 50
        assert 1 <= len(data["text"]) <= 3000
        assert_escaped(data["text"])
    block_ids = [b["block_id"] for b in data["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), block_ids
    for block in data["blocks"]:
        action_ids = [n["action_id"] for n in _walk(block) if "action_id" in n]
        assert len(action_ids) == len(set(action_ids)), action_ids
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    for node in _walk(data):
        for key in ("action_id", "block_id", "callback_id"):
            if key in node:
                assert 1 <= len(node[key]) <= 255, key
        if node.get("type") == "button":
            assert len(node.get("value", "")) <= 2000
            assert len(node["text"]["text"]) <= 75
        if node.get("type") in ("mrkdwn", "plain_text"):
            assert 1 <= len(node["text"]) <= 3000
        if node.get("type") == "mrkdwn":
            assert_escaped(node["text"])


@pytest.mark.parametrize("name", sorted(CASES) + sorted(STRESS))
def test_within_slack_limits(name: str) -> None:
    check_limits({**CASES, **STRESS}[name]())


def test_a_button_value_over_2000_characters_is_refused() -> None:
    with pytest.raises(SlackObjectFormationError, match="value"):
        blocks.reset_dm(RESET.model_copy(update={"key": "k" * 2001}), BREATH, tz=BERLIN)


def test_a_message_over_50_blocks_is_refused() -> None:
    section = SectionBlock(text="hi")
    Message(text="ok", blocks=[section] * 50)
    with pytest.raises(SlackObjectFormationError, match="50"):
        Message(text="ok", blocks=[section] * 51)


def test_private_metadata_over_3000_characters_is_refused() -> None:
    with pytest.raises(SlackObjectFormationError, match="private_metadata"):
        blocks.reflection_modal(PROMPTS, week="w" * 3001)


@given(st.text(max_size=4000))
def test_outside_text_always_makes_a_valid_message(text: str) -> None:
    for built in (
        blocks.confirmation(text),
        blocks.error_message(text),
        blocks.feel_usage(text),
        blocks.help_message(text),
        blocks.support_dm("https://example.com/" + "".join(text.split())[:100]),
    ):
        check_limits(built)


def test_blocks_module_holds_no_user_visible_words() -> None:
    """House rule: every sentence lives in bot/texts.py; blocks.py holds ids and types only
    (and the developer-facing messages of the errors it raises)."""
    tree = ast.parse(Path(blocks.__file__).read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            skipped.update(id(inner) for inner in ast.walk(node))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))  # a docstring
    words = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and not re.fullmatch(r"[a-z0-9_:]*", node.value)
    ]
    assert words == []


# --- what listeners rely on ------------------------------------------------------------------


def _texts(built: Built) -> str:
    """Every piece of visible text, joined, to search in."""
    data = payload(built)
    found = [n["text"] for n in _walk(data) if isinstance(n.get("text"), str)]
    return "\n".join(found)


def _block(built: Built, block_id: str) -> dict[str, Any]:
    data = payload(built)
    return next(b for b in data["blocks"] if b.get("block_id") == block_id)


def _buttons(built: Built) -> list[dict[str, Any]]:
    return [n for n in _walk(payload(built)) if n.get("type") == "button"]


class TestHelp:
    @pytest.mark.parametrize(
        "command",
        [
            "/baseline on",
            "/baseline off",
            "/baseline calendar &lt;ics-url&gt;",
            "/baseline calendar off",
            "/baseline hours 09:00-17:30 [mon-fri]",
            "/baseline quiet 18:00-08:00",
            "/baseline quiet off",
            "/baseline pause 2h",
            "pause until monday",
            "pause until 2026-12-01",
            "/baseline resume",
            "/baseline reflection fri 16:00",
            "/baseline reflection off",
            "/baseline week",
            "/baseline export",
            "/baseline forget",
            "/baseline status",
            "/feel 1-5 [words]",
        ],
    )
    def test_lists_every_subcommand(self, command: str) -> None:
        assert f"`{command}`" in _texts(blocks.help_message())

    def test_a_suggestion_comes_first(self) -> None:
        message = blocks.help_message("pause")
        first = payload(message)["blocks"][0]["text"]["text"]
        assert first == "Did you mean `/baseline pause`?"
        assert message.text == first

    def test_no_suggestion_no_question(self) -> None:
        assert "Did you mean" not in _texts(blocks.help_message())


class TestFeel:
    def test_saved_never_echoes_the_note(self) -> None:
        dumped = json.dumps(payload(blocks.feel_saved(ENTRY, TREND)), ensure_ascii=False)
        assert "shouted" not in dumped
        assert SECRET_NOTE not in dumped

    def test_saved_shows_the_score_the_trend_and_privacy(self) -> None:
        text = _texts(blocks.feel_saved(ENTRY, TREND))
        assert "*3* out of 5" in text
        assert "▁▃▅▅▆▃█" in text
        assert "3.2" in text
        assert "2.6" in text
        assert "Only you can see this" in text

    def test_saved_without_history_has_no_trend(self) -> None:
        text = _texts(blocks.feel_saved(ENTRY, NEW_TREND))
        assert "▁" not in text
        assert "average" not in text

    def test_usage_says_what_was_wrong_first(self) -> None:
        text = payload(blocks.feel_usage("9 is not between 1 and 5"))["text"]
        assert text.startswith("9 is not between 1 and 5. ")
        assert "`/feel 3`" in text

    def test_modal_fields(self) -> None:
        view = payload(blocks.feel_modal())
        assert view["callback_id"] == "feel_modal"
        assert view["submit"]["text"] == "Log it"
        by_id = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
        assert list(by_id) == ["score", "weighed", "note"]
        assert by_id["score"]["element"]["action_id"] == "score"
        assert [o["value"] for o in by_id["score"]["element"]["options"]] == list("12345")
        assert not by_id["score"].get("optional", False)
        assert by_id["weighed"]["optional"] is True
        assert [o["value"] for o in by_id["weighed"]["element"]["options"]] == [
            w.value for w in Weighed
        ]
        note = by_id["note"]
        assert note["optional"] is True
        assert note["element"] == {
            **note["element"],
            "action_id": "note",
            "multiline": True,
            "max_length": 500,
        }


class TestResets:
    def test_dm_buttons_carry_the_nudge_key(self) -> None:
        actions = _block(blocks.reset_dm(RESET, BREATH, tz=BERLIN), "reset")
        assert [e["action_id"] for e in actions["elements"]] == [
            "reset_done",
            "reset_snooze",
            "reset_not_now",
            "reset_fewer",
        ]
        assert {e["value"] for e in actions["elements"]} == {RESET.key}
        labels = [e["text"]["text"] for e in actions["elements"]]
        assert "Snooze 10 min" in labels
        assert "Fewer like this" in labels

    def test_dm_shows_time_in_the_persons_zone(self) -> None:
        text = _texts(blocks.reset_dm(RESET, BREATH, tz=BERLIN))
        assert "useful until 12:00" in text  # 11:00 UTC
        text = _texts(blocks.reset_dm(RESET, BREATH, tz=ZoneInfo("America/New_York")))
        assert "until 06:00" in text

    def test_dm_shows_title_text_and_duration(self) -> None:
        text = _texts(blocks.reset_dm(RESET, WALK, tz=BERLIN))
        assert "*Hallway loop*" in text
        assert "floor &amp; back" in text
        assert "5 minutes" in text

    def test_after_done_asks_whether_it_helped(self) -> None:
        message = blocks.reset_after_done(RESET, BREATH)
        assert "Nicely done" in _texts(message)
        assert "Did it help?" in _texts(message)
        buttons = _buttons(message)
        assert [b["action_id"] for b in buttons] == ["reset_helped", "reset_unhelpful"]
        assert {b["value"] for b in buttons} == {RESET.key}

    @pytest.mark.parametrize("outcome", list(Outcome))
    @pytest.mark.parametrize("helped", [True, False, None])
    def test_closed_has_no_buttons(self, outcome: Outcome, helped: bool | None) -> None:
        message = blocks.reset_closed(
            BREATH, outcome=outcome, helped=helped, snooze_until=None, tz=BERLIN
        )
        assert _buttons(message) == []
        assert "Three long exhales" in _texts(message)

    def test_closed_snooze_in_the_persons_zone(self) -> None:
        message = blocks.reset_closed(
            BREATH,
            outcome=Outcome.SNOOZED,
            helped=None,
            snooze_until=datetime(2026, 11, 23, 10, 40, tzinfo=UTC),
            tz=BERLIN,
        )
        assert "snoozed until 11:40" in _texts(message)

    def test_closed_fewer_names_the_theme(self) -> None:
        message = blocks.reset_closed(
            WALK, outcome=Outcome.FEWER, helped=None, snooze_until=None, tz=BERLIN
        )
        assert "short walks will come less often" in _texts(message)

    def test_closed_answers_differ_by_outcome(self) -> None:
        def text(outcome: Outcome, helped: bool | None) -> str:
            return _texts(
                blocks.reset_closed(
                    BREATH, outcome=outcome, helped=helped, snooze_until=NOW, tz=BERLIN
                )
            )

        answers = {
            text(Outcome.DONE, True),
            text(Outcome.DONE, False),
            text(Outcome.DONE, None),
            text(Outcome.SNOOZED, None),
            text(Outcome.NOT_NOW, None),
            text(Outcome.FEWER, None),
            text(Outcome.EXPIRED, None),
        }
        assert len(answers) == 7


class TestWeek:
    def test_reflection_button_opens_this_weeks_modal(self) -> None:
        message = blocks.reflection_dm(REFLECTION, SUMMARY, PROMPTS, tz=BERLIN)
        [button] = _buttons(message)
        assert button["action_id"] == "reflect_open"
        assert button["value"] == "2026-W48"

    def test_reflection_summarises_the_week(self) -> None:
        text = _texts(blocks.reflection_dm(REFLECTION, SUMMARY, PROMPTS, tz=BERLIN))
        assert "12 h 45 min" in text
        assert "4 back-to-back chains" in text
        assert "3 h 30 min" in text
        assert "6 done (4 helped), 2 snoozed, 1 skipped" in text
        assert "2.7 out of 5" in text
        for prompt in PROMPTS:
            assert prompt.text in text

    @pytest.mark.parametrize(
        ("signal", "words"),
        [
            (Signal.OVERLOAD, "lighter days and real rest"),
            (Signal.MISMATCH, "rest on its own may not be the whole answer"),
        ],
    )
    def test_reflection_signal_is_one_gentle_sentence(self, signal: Signal, words: str) -> None:
        summary = SUMMARY.model_copy(update={"signal": signal})
        text = _texts(blocks.reflection_dm(REFLECTION, summary, PROMPTS, tz=BERLIN))
        assert words in text
        assert "not a verdict" in text

    def test_reflection_without_signal_says_nothing_about_patterns(self) -> None:
        text = _texts(blocks.reflection_dm(REFLECTION, SUMMARY, PROMPTS, tz=BERLIN))
        assert "verdict" not in text
        assert "rest" not in text

    def test_reflection_modal(self) -> None:
        view = payload(blocks.reflection_modal(PROMPTS, week="2026-W48"))
        assert view["callback_id"] == "reflection_modal"
        assert view["private_metadata"] == "2026-W48"
        assert view["submit"]["text"] == "Save"
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert [b["block_id"] for b in inputs] == [p.id for p in PROMPTS]
        assert [b["label"]["text"] for b in inputs] == [p.text for p in PROMPTS]
        for block in inputs:
            assert block["optional"] is True
            assert block["element"]["action_id"] == "answer"
            assert block["element"]["multiline"] is True
            assert block["element"]["max_length"] == 2000

    def test_week_message_lists_days(self) -> None:
        text = _texts(blocks.week_message(SUMMARY, TREND, tz=BERLIN))
        assert "`Mon 23 Nov` 5 h 30 min of meetings · felt 2" in text
        assert "`Wed 25 Nov` 45 min of meetings" in text
        assert "Fri 27 Nov" not in text  # no meetings, no log
        assert "averaged 3.2, a little higher than the 7 days before (2.6)" in text


class TestSupport:
    def test_with_a_link(self) -> None:
        text = _texts(blocks.support_dm("https://intranet.example.com/support?a=1&b=2"))
        assert "<https://intranet.example.com/support?a=1&amp;b=2|support resources>" in text
        assert "Nobody else has been told" in text

    def test_a_pipe_cannot_cut_the_link(self) -> None:
        text = _texts(blocks.support_dm("https://example.com/a|b"))
        assert "<https://example.com/a%7Cb|support resources>" in text

    def test_without_a_link(self) -> None:
        text = _texts(blocks.support_dm(None))
        assert "someone you trust" in text
        assert "admin" in text
        assert "http" not in text


class TestStatus:
    def test_shows_every_setting_in_the_persons_zone(self) -> None:
        text = _texts(
            blocks.status_message(
                PROFILE, calendar=CALENDAR, paused_until=PROFILE.preferences.paused_until, now=NOW
            )
        )
        assert "Baseline is on for you" in text
        assert "Europe/Berlin" in text
        assert "09:00-17:30, mon-thu" in text
        assert "18:00-08:00" in text
        assert "until tomorrow 09:00" in text  # 08:00 UTC
        assert "Fridays at 16:00" in text
        assert "*Heavy-day heads-up:* off" in text
        assert CALENDAR in text

    def test_a_pause_that_has_ended_is_not_shown(self) -> None:
        text = _texts(
            blocks.status_message(
                PROFILE, calendar=None, paused_until=NOW - timedelta(minutes=1), now=NOW
            )
        )
        assert "*Paused:* no" in text
        assert "not connected" in text

    @pytest.mark.parametrize(
        ("until", "shown"),
        [
            (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "16:30"),
            (datetime(2026, 11, 27, 8, 0, tzinfo=UTC), "Fri 09:00"),
            (datetime(2026, 12, 1, 8, 0, tzinfo=UTC), "Tue 1 Dec 09:00"),
            (datetime(2027, 1, 4, 8, 0, tzinfo=UTC), "Mon 4 Jan 2027 09:00"),
        ],
    )
    def test_pause_end_as_people_say_it(self, until: datetime, shown: str) -> None:
        text = _texts(blocks.status_message(PROFILE, calendar=None, paused_until=until, now=NOW))
        assert f"*Paused:* until {shown}\n" in text

    def test_off(self) -> None:
        text = _texts(blocks.status_message(NEW_PROFILE, calendar=None, paused_until=None, now=NOW))
        assert "Baseline is off for you" in text
        assert "`/baseline on`" in text


class TestForget:
    def test_confirm_is_dangerous_and_asks_twice(self) -> None:
        delete, keep = _buttons(blocks.forget_confirm())
        assert delete["action_id"] == "forget_confirm"
        assert delete["style"] == "danger"
        assert delete["confirm"]["style"] == "danger"
        assert keep["action_id"] == "forget_cancel"

    def test_forgotten_counts(self) -> None:
        assert "7 records" in _texts(blocks.forgotten(7))
        assert "1 record)" in _texts(blocks.forgotten(1))
        assert "nothing to delete" in _texts(blocks.forgotten(0))


class TestHome:
    def test_is_a_home_view_with_a_save_button(self) -> None:
        view = payload(_home())
        assert view["type"] == "home"
        assert "submit" not in view
        [save] = _buttons(_home())
        assert save["action_id"] == "home_save"

    def test_every_preference_is_an_input_named_by_its_block(self) -> None:
        inputs = [b for b in payload(_home())["blocks"] if b["type"] == "input"]
        assert [b["block_id"] for b in inputs] == list(HOME_FIELDS)
        for block in inputs:
            assert block["element"]["action_id"] == block["block_id"]
        kinds = {b["block_id"]: b["element"]["type"] for b in inputs}
        assert kinds == {
            "opted_in": "checkboxes",
            "work_start": "timepicker",
            "work_end": "timepicker",
            "work_days": "checkboxes",
            "quiet_start": "timepicker",
            "quiet_end": "timepicker",
            "reflection_day": "static_select",
            "reflection_time": "timepicker",
            "heads_up": "checkboxes",
        }

    def test_initial_values_come_from_the_profile(self) -> None:
        inputs = {
            b["block_id"]: b["element"] for b in payload(_home())["blocks"] if b["type"] == "input"
        }
        assert [o["value"] for o in inputs["opted_in"]["initial_options"]] == ["on"]
        assert "initial_options" not in inputs["heads_up"]
        assert inputs["work_start"]["initial_time"] == "09:00"
        assert inputs["work_end"]["initial_time"] == "17:30"
        assert [o["value"] for o in inputs["work_days"]["initial_options"]] == list("0123")
        assert inputs["quiet_start"]["initial_time"] == "18:00"
        assert inputs["quiet_end"]["initial_time"] == "08:00"
        assert inputs["reflection_day"]["initial_option"]["value"] == "4"
        assert inputs["reflection_time"]["initial_time"] == "16:00"
        assert inputs["work_start"]["timezone"] == "Europe/Berlin"

    def test_defaults_for_a_new_person(self) -> None:
        inputs = {
            b["block_id"]: b["element"]
            for b in payload(_home(profile=NEW_PROFILE))["blocks"]
            if b["type"] == "input"
        }
        assert "initial_options" not in inputs["opted_in"]
        assert "initial_time" not in inputs["quiet_start"]
        assert [o["value"] for o in inputs["heads_up"]["initial_options"]] == ["on"]
        no_reflection = Profile(preferences=Preferences(reflection=None))
        inputs = {
            b["block_id"]: b["element"]
            for b in payload(_home(profile=no_reflection))["blocks"]
            if b["type"] == "input"
        }
        assert inputs["reflection_day"]["initial_option"]["value"] == "off"
        assert "initial_time" not in inputs["reflection_time"]

    def test_errors_sit_right_under_their_field(self) -> None:
        view = _home(errors={"work_end": "Start and end can't be the same time.", "x": "Odd"})
        data = payload(view)["blocks"]
        index = next(i for i, b in enumerate(data) if b.get("block_id") == "work_end")
        after = data[index + 1]
        assert after["type"] == "context"
        assert after["elements"][0]["text"] == "⚠️ Start and end can't be the same time."
        # An error for a block that is not on the form is still shown, by the button.
        save = next(i for i, b in enumerate(data) if b.get("block_id") == "home_save")
        assert data[save - 1]["elements"][0]["text"] == "⚠️ Odd."

    def test_todays_shape_in_the_persons_zone(self) -> None:
        text = _texts(_home())
        assert "Mon 23 Nov" in text
        assert "5 meetings, 4 h 55 min in all" in text
        assert "`10:00–13:30` back-to-back, 3 meetings" in text
        assert "Resets so far today: 2" in text
        assert re.search(r"Load 09:00 [▁-█]{18} 17:30", text)
        assert "Paused until tomorrow 09:00" in text
        assert CALENDAR in text
        assert "/baseline calendar &lt;ics-url&gt;" in text

    def test_without_a_calendar(self) -> None:
        text = _texts(_home(profile=NEW_PROFILE, shape=None, load=[], calendar=None))
        assert "Connect a calendar" in text
        assert "Load" not in text
