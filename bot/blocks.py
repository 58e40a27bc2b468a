"""Pure Block Kit builders: every message, modal and Home tab Baseline shows.

Built from ``slack_sdk.models`` so Slack's limits are checked when a builder runs, not when
Slack rejects the call; the words come from ``bot.texts``. Action and block ids here are
the contract with the listeners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    InputInteractiveElement,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot import texts
from bot.models import Profile
from bot.team_view import TeamFigures
from nudges.catalog import Practice, ReflectionPrompt
from nudges.density import DayShape
from nudges.feelings import MAX_NOTE, FeelEntry, FeelTrend, Weighed
from nudges.insights import Outcome, WeekSummary
from nudges.outlook import CalendarOutlook
from nudges.planner import Nudge
from nudges.windows import RecoveryWindow, in_zone

# Slack's limits that slack_sdk does not check for messages (views check their own).
MAX_MESSAGE_BLOCKS = 50
MAX_TEXT = 3000
MAX_ANSWER = 2000

# Values of the Home tab's choices, read back by the listener that saves the form
# (bot/listeners/home.py): a ticked box is "on", a weekday is its ISO number (0 = Monday).
CHECKED = "on"
REFLECTION_OFF = "off"


@dataclass(frozen=True)
class Message:
    """A message body for chat.postMessage / chat.update / respond: fallback text + blocks.

    Construction validates every block (slack_sdk's checks) and the message-wide limits,
    so a builder that would produce something Slack rejects fails where it is called.
    """

    text: str
    blocks: list[Block]
    _block_dicts: list[dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip() or len(self.text) > MAX_TEXT:
            raise SlackObjectFormationError(f"message text must be 1 to {MAX_TEXT} characters")
        if not 0 < len(self.blocks) <= MAX_MESSAGE_BLOCKS:
            raise SlackObjectFormationError(
                f"a message holds 1 to {MAX_MESSAGE_BLOCKS} blocks, not {len(self.blocks)}"
            )
        _check_block_ids(self.blocks)
        # Serialising runs slack_sdk's validation; done once here, reused by every send.
        object.__setattr__(self, "_block_dicts", [_dict_of(block) for block in self.blocks])

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self._block_dicts}


def _check_block_ids(blocks: Sequence[Block]) -> None:
    ids = [block.block_id for block in blocks if block.block_id is not None]
    if len(ids) != len(set(ids)):
        raise SlackObjectFormationError(f"block_ids must be unique: {ids}")


def _view(view: View) -> View:
    """``view`` after the checks slack_sdk runs on serialising, plus unique block ids."""
    _check_block_ids(view.blocks or [])
    view.to_dict()
    return view


# --- small parts -----------------------------------------------------------------------------


# Text-only sections and context lines repeat across messages ("only you can see this",
# the saved-score line, …). slack_sdk validates by walking dir() of every object, about
# 60 µs a block, so these two builders are memoised: the same text gives the same block
# object, and Message keeps each block's validated dict on it (see _dict_of). Nothing
# mutates a block after building it.
@lru_cache(maxsize=2048)
def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


@lru_cache(maxsize=2048)
def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


_VALIDATED = "_baseline_validated_dict"


def _dict_of(block: Block) -> dict[str, Any]:
    """``block.to_dict()`` (which validates), computed once per block object."""
    cached: dict[str, Any] | None = getattr(block, _VALIDATED, None)
    if cached is None:
        cached = block.to_dict()
        setattr(block, _VALIDATED, cached)
    return cached


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text, emoji=True))


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)


def _button(
    text: str, action_id: str, *, value: str | None = None, style: str | None = None
) -> ButtonElement:
    return ButtonElement(text=_plain(text), action_id=action_id, value=value, style=style)


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=_plain(text))


def _one_line(text: str) -> Message:
    return Message(text=text, blocks=[_section(text)])


# --- /baseline and /feel replies -------------------------------------------------------------


def help_message(suggestion: str | None = None) -> Message:
    """``/baseline help``: every subcommand, one line each; a guess first after a typo."""
    blocks: list[Block] = [_section(texts.HELP_INTRO)]
    blocks.extend(_section(part) for part in texts.HELP_SECTIONS)
    if suggestion is None or not suggestion.strip():
        return Message(text=texts.HELP_FALLBACK, blocks=blocks)
    question = texts.did_you_mean(suggestion)
    return Message(text=question, blocks=[_section(question), *blocks])


def feel_usage(problem: str) -> Message:
    return _one_line(texts.feel_usage(problem))


def feel_saved(entry: FeelEntry, trend: FeelTrend) -> Message:
    """Thanks and the person's own small trend. The note is never echoed back."""
    saved = texts.feel_saved(entry.score)
    blocks: list[Block] = [_section(saved)]
    trend_line = texts.feel_trend(trend)
    if trend_line is not None:
        blocks.append(_context(trend_line))
    blocks.append(_context(texts.ONLY_YOU))
    return Message(text=saved, blocks=blocks)


def feel_modal() -> View:
    """The one-tap /feel form: a score, optionally what weighed most and a private note."""
    scores = [_option(str(score), label) for score, label in texts.FEEL_SCORES.items()]
    weighed = [_option(w.value, texts.WEIGHED_LABELS[w]) for w in Weighed]
    return _view(
        View(
            type="modal",
            callback_id="feel_modal",
            title=texts.FEEL_MODAL_TITLE,
            submit=texts.FEEL_MODAL_SUBMIT,
            close=texts.MODAL_CLOSE,
            blocks=[
                InputBlock(
                    block_id="score",
                    label=_plain(texts.FEEL_SCORE_LABEL),
                    element=RadioButtonsElement(action_id="score", options=scores),
                ),
                InputBlock(
                    block_id="weighed",
                    label=_plain(texts.FEEL_WEIGHED_LABEL),
                    element=StaticSelectElement(
                        action_id="weighed",
                        placeholder=_plain(texts.FEEL_WEIGHED_PLACEHOLDER),
                        options=weighed,
                    ),
                    optional=True,
                ),
                InputBlock(
                    block_id="note",
                    label=_plain(texts.FEEL_NOTE_LABEL),
                    hint=_plain(texts.FEEL_NOTE_HINT),
                    element=PlainTextInputElement(
                        action_id="note",
                        multiline=True,
                        max_length=MAX_NOTE,
                        placeholder=_plain(texts.FEEL_NOTE_PLACEHOLDER),
                    ),
                    optional=True,
                ),
                _context(texts.FEEL_MODAL_PRIVACY),
            ],
        )
    )


def storage_unavailable() -> Message:
    return _one_line(texts.STORAGE_UNAVAILABLE)


def confirmation(text: str) -> Message:
    """A one-line ephemeral confirmation, e.g. "Paused until Mon 09:00"."""
    return _one_line(texts.confirmation(text))


def error_message(text: str) -> Message:
    return _one_line(texts.error(text))


# --- resets ----------------------------------------------------------------------------------


def reset_dm(nudge: Nudge, practice: Practice, *, tz: ZoneInfo) -> Message:
    """A reset between meetings: the practice, how long it takes, until when it is useful."""
    timing = texts.practice_timing(
        practice.seconds,
        while_connecting=practice.while_connecting,
        until=nudge.expires_at,
        tz=tz,
    )
    return Message(
        text=texts.reset_fallback(practice.title),
        blocks=[
            _section(texts.practice(practice.title, practice.text)),
            _context(timing),
            ActionsBlock(
                block_id="reset",
                elements=[
                    _button(texts.DONE_BUTTON, "reset_done", value=nudge.key, style="primary"),
                    _button(texts.SNOOZE_BUTTON, "reset_snooze", value=nudge.key),
                    _button(texts.NOT_NOW_BUTTON, "reset_not_now", value=nudge.key),
                    _button(texts.FEWER_BUTTON, "reset_fewer", value=nudge.key),
                ],
            ),
        ],
    )


def reset_after_done(nudge: Nudge, practice: Practice) -> Message:
    """The reset, updated in place after "Done": a thank-you and "did it help?"."""
    done = texts.reset_done(practice.title)
    return Message(
        text=done,
        blocks=[
            _section(done),
            ActionsBlock(
                block_id="reset_feedback",
                elements=[
                    _button(texts.HELPED_BUTTON, "reset_helped", value=nudge.key),
                    _button(texts.UNHELPFUL_BUTTON, "reset_unhelpful", value=nudge.key),
                ],
            ),
        ],
    )


def reset_closed(
    practice: Practice,
    *,
    outcome: Outcome,
    helped: bool | None,
    snooze_until: datetime | None,
    tz: ZoneInfo,
) -> Message:
    """The reset's final state, without buttons, once the person has answered it."""
    return _one_line(
        texts.reset_closed(
            practice.title,
            practice.theme,
            outcome=outcome,
            helped=helped,
            snooze_until=snooze_until,
            tz=tz,
        )
    )


# --- heavy day, the week, reflection ---------------------------------------------------------


def heavy_day_dm(nudge: Nudge) -> Message:
    """The morning heads-up; ``nudge.text`` is already written in the person's zone."""
    text = texts.escape(nudge.text)
    return Message(text=text, blocks=[_section(text), _context(texts.HEAVY_DAY_FOOTER)])


def reflection_dm(
    nudge: Nudge, summary: WeekSummary, prompts: list[ReflectionPrompt], *, tz: ZoneInfo
) -> Message:
    """The weekly reflection: the week from the person's own data, a gentle word on the
    pattern when there is one, the questions, and a button to answer them.

    ``tz`` is unused: a WeekSummary holds local dates and durations only.
    """
    blocks: list[Block] = [
        _header(texts.REFLECTION_HEADER),
        _section(texts.week_facts(summary)),
    ]
    if summary.signal is not None:
        blocks.append(_section(texts.SIGNALS[summary.signal]))
        blocks.append(_context(texts.SIGNAL_FOOTER))
    if prompts:
        blocks.append(_section(texts.prompts(p.text for p in prompts)))
    blocks.append(
        ActionsBlock(
            block_id="reflect",
            elements=[
                _button(
                    texts.REFLECT_BUTTON,
                    "reflect_open",
                    value=week_key(nudge),
                    style="primary",
                )
            ],
        )
    )
    blocks.append(_context(texts.REFLECTION_FOOTER))
    return Message(text=texts.REFLECTION_FALLBACK, blocks=blocks)


def week_key(nudge: Nudge) -> str:
    """The ISO week a reflection nudge belongs to (``2026-W48``), from its planner key."""
    return nudge.key.removeprefix("reflection:")


def reflection_modal(prompts: list[ReflectionPrompt], *, week: str) -> View:
    """One optional answer per prompt; ``week`` travels in private_metadata."""
    blocks: list[Block] = [_section(texts.REFLECTION_MODAL_INTRO)]
    blocks.extend(
        InputBlock(
            block_id=prompt.id,
            label=_plain(prompt.text),
            element=PlainTextInputElement(
                action_id="answer",
                multiline=True,
                max_length=MAX_ANSWER,
                placeholder=_plain(texts.REFLECTION_ANSWER_PLACEHOLDER),
            ),
            optional=True,
        )
        for prompt in prompts
    )
    return _view(
        View(
            type="modal",
            callback_id="reflection_modal",
            title=texts.REFLECTION_MODAL_TITLE,
            submit=texts.REFLECTION_MODAL_SUBMIT,
            close=texts.MODAL_CLOSE,
            private_metadata=week,
            blocks=blocks,
        )
    )


def reflection_saved() -> Message:
    return _one_line(texts.REFLECTION_SAVED)


def week_message(summary: WeekSummary, trend: FeelTrend, *, tz: ZoneInfo) -> Message:
    """``/baseline week`` as text (the chart is uploaded separately).

    ``tz`` is unused: a WeekSummary holds local dates and durations only.
    """
    blocks: list[Block] = [_header(texts.WEEK_HEADER), _section(texts.week_facts(summary))]
    days = texts.week_days(summary)
    if days is not None:
        blocks.append(_section(days))
    comparison = texts.week_trend(trend)
    if comparison is not None:
        blocks.append(_context(comparison))
    blocks.append(_context(texts.WEEK_FOOTER))
    return Message(text=texts.WEEK_HEADER, blocks=blocks)


def support_dm(support_url: str | None) -> Message:
    """A private, quiet offer of support after several low logs in a row."""
    return Message(
        text=texts.SUPPORT_FALLBACK,
        blocks=[
            _section(texts.SUPPORT_OPENING),
            _section(texts.support_offer(support_url)),
            _context(texts.SUPPORT_FOOTER),
        ],
    )


# --- status and forget -----------------------------------------------------------------------


def status_message(
    profile: Profile, *, calendar: str | None, paused_until: datetime | None, now: datetime
) -> Message:
    """``/baseline status``: what Baseline is set to do for this person (the settings)."""
    prefs = profile.preferences
    tz = prefs.tz
    paused = (
        texts.when(paused_until, now=now, tz=tz)
        if paused_until is not None and paused_until > now
        else None
    )
    reflection = (
        None
        if prefs.reflection is None
        else texts.reflection_time(prefs.reflection.weekday, prefs.reflection.at)
    )
    lines = texts.status_lines(
        tz=tz.key,
        hours=str(prefs.working_hours),
        days=str(prefs.working_days),
        quiet=None if prefs.quiet_hours is None else str(prefs.quiet_hours),
        paused_until=paused,
        reflection=reflection,
        resets=prefs.resets,
        heads_up=prefs.heavy_day_heads_up,
        calendar=calendar,
    )
    return Message(
        text=texts.STATUS_FALLBACK,
        blocks=[
            _section(texts.status_heading(profile.opted_in)),
            _section(lines),
            _context(texts.STATUS_FOOTER),
        ],
    )


def forget_confirm() -> Message:
    """Are you sure? Delete (danger, with Slack's own confirm dialog) or keep."""
    delete = _button(texts.FORGET_BUTTON, "forget_confirm", style="danger")
    delete.confirm = ConfirmObject(
        title=_plain(texts.FORGET_CONFIRM_TITLE),
        text=_plain(texts.FORGET_CONFIRM_TEXT),
        confirm=_plain(texts.FORGET_CONFIRM_YES),
        deny=_plain(texts.FORGET_CONFIRM_NO),
        style="danger",
    )
    return Message(
        text=texts.FORGET_QUESTION,
        blocks=[
            _section(texts.FORGET_QUESTION),
            ActionsBlock(
                block_id="forget",
                elements=[delete, _button(texts.FORGET_KEEP_BUTTON, "forget_cancel")],
            ),
        ],
    )


def forgotten(count: int) -> Message:
    return _one_line(texts.forgotten(count))


def forget_cancelled() -> Message:
    return _one_line(texts.FORGET_CANCELLED)


# --- App Home --------------------------------------------------------------------------------


def home_unavailable() -> View:
    """The Home tab when stored settings cannot be read: no form, so nothing can overwrite
    the person's real settings with defaults."""
    return _view(View(type="home", blocks=[_section(texts.HOME_UNAVAILABLE)]))


def home_view(
    *,
    profile: Profile,
    shape: DayShape | None,
    load: list[tuple[datetime, float]],
    resets_today: int,
    calendar: str | None,
    errors: dict[str, str] | None = None,
    now: datetime,
) -> View:
    """App Home: today's shape, then every preference as a form saved by ``home_save``.

    Each input's action_id equals its block_id. ``errors`` (block_id → message) are shown
    right under their field; an error for a block not on the form is shown by the button,
    so no message is lost.
    """
    prefs = profile.preferences
    tz = prefs.tz
    errors = errors or {}
    blocks: list[Block] = [
        _header(texts.home_today(now.astimezone(tz).date())),
        _section(texts.home_shape(shape, calendar=calendar, tz=tz)),
    ]
    load_line = texts.home_load(load, tz)
    if load_line is not None:
        blocks.append(_context(load_line))
    blocks.append(_context(texts.home_resets(resets_today)))
    blocks.append(DividerBlock())
    blocks.append(_header(texts.HOME_HEADER_SETTINGS))
    blocks.append(_context(texts.home_zone(tz)))
    if prefs.paused_until is not None and prefs.paused_until > now:
        blocks.append(_context(texts.home_paused(texts.when(prefs.paused_until, now=now, tz=tz))))
    blocks.append(_section(texts.calendar_line(calendar)))
    placed: set[str] = set()

    def field(
        block_id: str,
        label: str,
        element: InputInteractiveElement,
        *,
        optional: bool = False,
        hint: str | None = None,
    ) -> None:
        blocks.append(
            InputBlock(
                block_id=block_id,
                label=_plain(label),
                element=element,
                optional=optional,
                hint=None if hint is None else _plain(hint),
            )
        )
        placed.add(block_id)
        if block_id in errors:
            blocks.append(_context(texts.field_error(errors[block_id])))

    field(
        "opted_in",
        texts.HOME_OPTED_IN_LABEL,
        _checkbox("opted_in", texts.HOME_OPTED_IN_OPTION, checked=profile.opted_in),
        optional=True,
    )
    field(
        "work_start",
        texts.HOME_WORK_START_LABEL,
        _timepicker("work_start", prefs.working_hours.start, tz),
    )
    field(
        "work_end", texts.HOME_WORK_END_LABEL, _timepicker("work_end", prefs.working_hours.end, tz)
    )
    days = [_option(str(day), name) for day, name in enumerate(texts.DAY_NAMES)]
    field(
        "work_days",
        texts.HOME_WORK_DAYS_LABEL,
        CheckboxesElement(
            action_id="work_days",
            options=days,
            initial_options=[days[d] for d in sorted(prefs.working_days.days)],
        ),
    )
    quiet = prefs.quiet_hours
    field(
        "quiet_start",
        texts.HOME_QUIET_START_LABEL,
        _timepicker("quiet_start", None if quiet is None else quiet.start, tz),
        optional=True,
        hint=texts.HOME_QUIET_HINT,
    )
    field(
        "quiet_end",
        texts.HOME_QUIET_END_LABEL,
        _timepicker("quiet_end", None if quiet is None else quiet.end, tz),
        optional=True,
    )
    reflection = prefs.reflection
    reflection_days = [*days, _option(REFLECTION_OFF, texts.HOME_REFLECTION_OFF)]
    field(
        "reflection_day",
        texts.HOME_REFLECTION_DAY_LABEL,
        StaticSelectElement(
            action_id="reflection_day",
            options=reflection_days,
            initial_option=reflection_days[-1 if reflection is None else reflection.weekday],
        ),
    )
    field(
        "reflection_time",
        texts.HOME_REFLECTION_TIME_LABEL,
        _timepicker("reflection_time", None if reflection is None else reflection.at, tz),
        optional=True,
    )
    field(
        "heads_up",
        texts.HOME_HEADS_UP_LABEL,
        _checkbox("heads_up", texts.HOME_HEADS_UP_OPTION, checked=prefs.heavy_day_heads_up),
        optional=True,
    )
    blocks.extend(
        _context(texts.field_error(message))
        for block_id, message in errors.items()
        if block_id not in placed
    )
    blocks.append(
        ActionsBlock(
            block_id="home_save",
            elements=[_button(texts.HOME_SAVE_BUTTON, "home_save", style="primary")],
        )
    )
    blocks.append(_context(texts.HOME_FOOTER))
    return _view(View(type="home", blocks=blocks))


def _checkbox(action_id: str, text: str, *, checked: bool) -> CheckboxesElement:
    option = _option(CHECKED, text)
    return CheckboxesElement(
        action_id=action_id, options=[option], initial_options=[option] if checked else None
    )


def _timepicker(action_id: str, initial: time | None, tz: ZoneInfo) -> TimePickerElement:
    return TimePickerElement(
        action_id=action_id,
        initial_time=None if initial is None else texts.clock_time(initial),
        placeholder=_plain(texts.HOME_PICK_TIME),
        # Shown under the picker, so it is clear which zone the times are in.
        timezone=tz.key,
    )


# --- calendar sync (bot/sync.py) -------------------------------------------------------------


def calendar_connected(
    masked: str,
    outlook: CalendarOutlook,
    *,
    now: datetime,
    tz: ZoneInfo,
    every_minutes: float,
    idle_minutes: float,
) -> Message:
    """``/baseline calendar <url>`` worked: what the calendar holds for the next days."""
    text = texts.calendar_connected(masked, outlook, now=now, tz=tz)
    return Message(
        text=text,
        blocks=[_section(text), _context(texts.calendar_sync_note(every_minutes, idle_minutes))],
    )


def calendar_not_connected(reason: str, *, previous_kept: bool) -> Message:
    """The calendar could not be read for a reason the person can act on: nothing saved."""
    return _one_line(texts.calendar_not_connected(reason, previous_kept=previous_kept))


def calendar_not_read_yet(masked: str, reason: str, *, retry_minutes: float) -> Message:
    """Saved, but the server failed in a way that may pass: Baseline tries again."""
    return _one_line(texts.calendar_not_read_yet(masked, reason, retry_minutes=retry_minutes))


def calendar_broken_dm(reason: str) -> Message:
    """The one DM when a connected calendar stops working: why, and how to fix it."""
    return Message(
        text=texts.CALENDAR_BROKEN_FALLBACK,
        blocks=[
            _section(texts.calendar_broken(reason)),
            _section(texts.CALENDAR_BROKEN_FIX),
            _context(texts.CALENDAR_BROKEN_FOOTER),
        ],
    )


def calendar_recovered_dm() -> Message:
    """The one DM when it works again."""
    return _one_line(texts.CALENDAR_RECOVERED)


# --- team recovery windows, the team view and privacy ---------------------------------------


def window_added(window: RecoveryWindow, overlap: str) -> Message:
    added = texts.window_added(window)
    return Message(text=added, blocks=[_section(added), _context(overlap)])


def window_list(windows: Sequence[RecoveryWindow], *, tz: ZoneInfo, now: datetime) -> Message:
    """The channel's windows, numbered, each also in the reader's own zone."""
    if not windows:
        return _one_line(texts.WINDOW_NONE)
    listed = [(window, *in_zone(window, tz, now=now)) for window in windows]
    return Message(
        text=texts.WINDOW_LIST_HEADER,
        blocks=[
            _header(texts.WINDOW_LIST_HEADER),
            _section(texts.window_list(listed, tz=tz)),
            _context(texts.WINDOW_LIST_FOOTER),
        ],
    )


def window_started(window: RecoveryWindow) -> Message:
    return _one_line(texts.window_started(window))


def window_ended(window: RecoveryWindow) -> Message:
    return _one_line(texts.window_ended(window))


def window_start_dm(
    window: RecoveryWindow, *, channel: str, end: datetime, tz: ZoneInfo
) -> Message:
    return _one_line(texts.window_start_dm(window, channel=channel, end=end, tz=tz))


def window_digest(window: RecoveryWindow, *, channel: str, overlap: str) -> Message:
    line = texts.window_digest(window, channel=channel, overlap=overlap)
    return Message(text=line, blocks=[_section(line), _context(texts.WINDOW_DIGEST_FOOTER)])


def _team_lines(figures: TeamFigures, minimum: int) -> list[Block]:
    lines = texts.lines(
        texts.team_meetings(figures.meetings),
        texts.team_chains(figures.chains),
        texts.team_resets(figures.resets),
        texts.team_feel(figures.feel),
    )
    blocks: list[Block] = [
        _context(texts.team_intro(figures.members, minimum)),
        _section(lines),
    ]
    if figures.held_back:
        blocks.append(_context(texts.TEAM_HELD_BACK))
    return blocks


def team_view(figures: TeamFigures, *, minimum: int) -> Message:
    return Message(
        text=texts.TEAM_HEADER,
        blocks=[
            _header(texts.TEAM_HEADER),
            *_team_lines(figures, minimum),
            _context(texts.TEAM_FOOTER),
        ],
    )


def privacy_message(figures: TeamFigures | None, *, minimum: int) -> Message:
    blocks: list[Block] = [
        _header(texts.PRIVACY_HEADER),
        _section(texts.PRIVACY_CAN.format(minimum=minimum)),
        _section(texts.PRIVACY_CANNOT.format(minimum=minimum)),
    ]
    if figures is None:
        blocks.append(_context(texts.PRIVACY_IN_DM))
    else:
        blocks.append(_section(texts.PRIVACY_HERE))
        blocks.extend(_team_lines(figures, minimum))
    return Message(text=texts.PRIVACY_HEADER, blocks=blocks)
