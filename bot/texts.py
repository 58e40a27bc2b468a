"""Every sentence Baseline says in Slack, in one place so the wording is read (and
translated) as a whole. ``bot.blocks`` only arranges these strings into Block Kit.

Functions return Slack mrkdwn unless their name ends in ``_label``/``_title`` or the
constant sits under "plain text" below; anything that comes from outside (catalog texts,
settings, the person's own input) is passed through :func:`escape` before it is mixed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from nudges.catalog import PracticeTheme
from nudges.density import DayShape
from nudges.feelings import FeelTrend, Weighed
from nudges.insights import Outcome, Signal, WeekSummary
from nudges.outlook import CalendarOutlook
from nudges.preferences import ReflectionTime
from nudges.team import ChainShare, FeelAverage, MeetingLoad, ResetCounts
from nudges.texts import clock, duration
from nudges.windows import Overlap, RecoveryWindow

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPARKS = "▁▂▃▄▅▆▇█"
# "<ics-url>" as mrkdwn: a bare <…> would be read as a link.
_ICS_URL = "&lt;ics-url&gt;"
# Free text from elsewhere (an error, a typo echoed back) is cut to this; a sentence, not a page.
_MAX_ECHO = 300
# A home tab lists at most this many stretches of meetings before saying "and N more".
_MAX_BLOCKS_LISTED = 8


# --- helpers -------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Make outside text safe inside mrkdwn: Slack reads ``<``, ``>`` and ``&`` as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _echo(text: str) -> str:
    """Outside free text, escaped and kept to one short line."""
    line = " ".join(text.split())
    if len(line) > _MAX_ECHO:
        line = line[: _MAX_ECHO - 1].rstrip() + "…"
    return escape(line)


def _sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop, unless it already ends in one."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def sparkline(values: Sequence[float], *, low: float, high: float) -> str:
    """Values between ``low`` and ``high`` as bars, lowest ▁ to highest █."""
    span = high - low
    top = len(_SPARKS) - 1
    return "".join(
        _SPARKS[max(0, min(top, round((v - low) / span * top)))] if span else _SPARKS[0]
        for v in values
    )


def local_clock(moment: datetime, tz: ZoneInfo) -> str:
    return clock(moment.astimezone(tz))


def day_label(day: date) -> str:
    """``Mon 23 Nov``."""
    return f"{_DAY_ABBR[day.weekday()]} {day.day} {_MONTH_ABBR[day.month - 1]}"


def when(moment: datetime, *, now: datetime, tz: ZoneInfo) -> str:
    """A moment as people say it, from ``now``: ``14:30``, ``tomorrow 09:00``, ``Mon 09:00``,
    ``Tue 1 Dec 09:00``."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    days = (local.date() - today).days
    if days == 0:
        return clock(local)
    if days == 1:
        return f"tomorrow {clock(local)}"
    if 1 < days < 7:
        return f"{_DAY_ABBR[local.weekday()]} {clock(local)}"
    year = f" {local.year}" if local.year != today.year else ""
    return f"{day_label(local.date())}{year} {clock(local)}"


def _seconds(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes, rest = divmod(seconds, 60)
    if rest == 0:
        return _plural(minutes, "minute")
    return f"about {_plural(round(seconds / 60), 'minute')}"


def _score(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


# --- plain text: buttons, titles, labels -------------------------------------------------------

DONE_BUTTON = "Done"
SNOOZE_BUTTON = "Snooze 10 min"
NOT_NOW_BUTTON = "Not now"
FEWER_BUTTON = "Fewer like this"
HELPED_BUTTON = "👍 It helped"
UNHELPFUL_BUTTON = "👎 Not really"
REFLECT_BUTTON = "Reflect on my week"
FORGET_BUTTON = "Delete everything"
FORGET_KEEP_BUTTON = "Keep my data"
FORGET_CONFIRM_TITLE = "Delete everything?"
FORGET_CONFIRM_TEXT = (
    "Your settings, calendar address, /feel logs, reflections and reset history will be "
    "gone for good."
)
FORGET_CONFIRM_YES = "Yes, delete it all"
FORGET_CONFIRM_NO = "No, keep it"
HOME_SAVE_BUTTON = "Save settings"

FEEL_MODAL_TITLE = "How are you doing?"
FEEL_MODAL_SUBMIT = "Log it"
REFLECTION_MODAL_TITLE = "Your week"
REFLECTION_MODAL_SUBMIT = "Save"
MODAL_CLOSE = "Cancel"

FEEL_SCORE_LABEL = "Right now I feel…"
FEEL_SCORES = {
    1: "1 · Running on empty",
    2: "2 · Low",
    3: "3 · Okay",
    4: "4 · Good",
    5: "5 · Full of energy",
}
FEEL_WEIGHED_LABEL = "What weighed most today?"
FEEL_WEIGHED_PLACEHOLDER = "Pick one, if you like"
WEIGHED_LABELS = {
    Weighed.MEETINGS: "Meetings",
    Weighed.WORKLOAD: "The amount of work",
    Weighed.PEOPLE: "People",
    Weighed.SLEEP: "Sleep",
    Weighed.OTHER: "Something else",
}
FEEL_NOTE_LABEL = "A few words"
FEEL_NOTE_PLACEHOLDER = "Anything you want to remember about today"
FEEL_NOTE_HINT = "Only you can ever read this."
FEEL_MODAL_PRIVACY = "Only you can see what you log here."

REFLECTION_MODAL_INTRO = (
    "A few minutes to look back on your week. Answer one question, all of them or none: "
    "only you will ever read your answers."
)
REFLECTION_ANSWER_PLACEHOLDER = "Write as much or as little as you like"

HOME_HEADER_TODAY = "Today"
HOME_HEADER_SETTINGS = "Your settings"
HOME_OPTED_IN_LABEL = "Baseline"
HOME_OPTED_IN_OPTION = "On: resets, heads-ups and a weekly reflection"
HOME_HEADS_UP_LABEL = "Heavy days"
HOME_HEADS_UP_OPTION = "A heads-up in the morning when a day looks heavy"
HOME_WORK_START_LABEL = "Working hours start"
HOME_WORK_END_LABEL = "Working hours end"
HOME_WORK_DAYS_LABEL = "Working days"
HOME_QUIET_START_LABEL = "Quiet hours start"
HOME_QUIET_END_LABEL = "Quiet hours end"
HOME_QUIET_HINT = (
    "No messages at all during quiet hours. To turn them off, use /baseline quiet off."
)
HOME_REFLECTION_DAY_LABEL = "Weekly reflection day"
HOME_REFLECTION_OFF = "No weekly reflection"
HOME_REFLECTION_TIME_LABEL = "Weekly reflection time"
HOME_PICK_TIME = "Pick a time"


# --- /baseline help and small replies ----------------------------------------------------------


def did_you_mean(suggestion: str) -> str:
    return f"Did you mean `/baseline {_echo(suggestion)}`?"


HELP_INTRO = (
    "*Baseline* helps you come back to baseline between meetings. Everything it knows "
    "about you is visible to you alone. Here is what you can tell it:"
)
HELP_SECTIONS = (
    "*Start and stop*\n"
    "`/baseline on` · start resets between meetings, heavy-day heads-ups and a weekly "
    "reflection\n"
    "`/baseline off` · stop all of them\n"
    "`/baseline status` · see what Baseline is set to do for you",
    "*Your calendar*\n"
    f"`/baseline calendar {_ICS_URL}` · connect a calendar by its secret iCal (ICS) address; "
    "only busy times are read\n"
    "`/baseline calendar off` · disconnect it",
    "*Your time*\n"
    "`/baseline hours 09:00-17:30 [mon-fri]` · your working hours, and days if you like\n"
    "`/baseline quiet 18:00-08:00` or `/baseline quiet off` · hours with no messages at all\n"
    "`/baseline pause 2h`, `pause until monday` or `pause until 2026-12-01` · take a break "
    "from Baseline\n"
    "`/baseline resume` · end a pause early\n"
    "`/baseline reflection fri 16:00` or `/baseline reflection off` · when your weekly "
    "reflection arrives",
    "*Your data*\n"
    "`/baseline week` · your own week, with a chart\n"
    "`/baseline export` · everything Baseline keeps about you\n"
    "`/baseline forget` · delete all of it",
    "*How you feel*\n"
    "`/feel 1-5 [words]` · log how you feel, e.g. `/feel 2 drained after four calls`; "
    "`/feel` on its own opens a short form",
    "*Your team*\n"
    "`/baseline window add wed 14:00-14:30 [name]` (also `mon-fri`, `daily`) · a recovery "
    "window for the channel, for leads; `window list`, `window remove N`\n"
    "`/baseline window dm on` or `off` · a short DM when a window of your channels starts\n"
    "`/baseline team` · the channel's team view, aggregates only, for leads\n"
    "`/baseline privacy` · exactly what a lead can and cannot see",
)
HELP_FALLBACK = "Baseline commands: /baseline on, off, status, calendar, hours, quiet, pause, …"


def feel_usage(problem: str) -> str:
    usage = (
        "To log how you feel, give a number from 1 (running on empty) to 5 (full of energy), "
        "and a few words if you like: `/feel 3` or `/feel 2 drained after four calls`. "
        "`/feel` on its own opens a short form."
    )
    said = _sentence(_echo(problem))
    return f"{said} {usage}" if said else usage


def feel_saved(score: int) -> str:
    return f"Thanks for checking in. Logged: *{score}* out of 5."


def feel_trend(trend: FeelTrend) -> str | None:
    """A line about the person's own recent logs, or None before there is anything to show."""
    parts = []
    if len(trend.recent) >= 2:
        parts.append(
            f"Your last {len(trend.recent)} logs: {sparkline(trend.recent, low=1, high=5)}"
        )
    if trend.this_week is not None and trend.last_week is not None:
        parts.append(
            f"this week {_score(trend.this_week)} on average, last week {_score(trend.last_week)}"
        )
    elif trend.this_week is not None:
        parts.append(f"this week {_score(trend.this_week)} on average")
    if not parts:
        return None
    return _sentence(" · ".join(parts))


ONLY_YOU = "Only you can see this."
STORAGE_UNAVAILABLE = (
    "Sorry, I couldn't save that just now, so nothing has changed. Please try again in a minute."
)


def confirmation(text: str) -> str:
    return f"✓ {_sentence(_echo(text))}"


SOMETHING_WENT_WRONG = "Something went wrong on my side. Please try again in a minute."
SLACK_UNAVAILABLE = (
    "Slack didn't let me send that to your DM just now. Please try again in a minute."
)


def error(text: str) -> str:
    return _sentence(_echo(text)) or SOMETHING_WENT_WRONG


# --- replies to /baseline subcommands (sent through blocks.confirmation / error_message) ---


UNKNOWN_COMMAND = "I didn't catch that. `/baseline help` lists everything I understand."
TURNED_ON = (
    "Baseline is on. Resets between meetings, heavy-day heads-ups and your weekly "
    "reflection will come as DMs from Baseline."
)
TURNED_OFF = (
    "Baseline is off: no more resets, heads-ups or reflections. What it kept stays until "
    "you use `/baseline forget`."
)
RESUMED = "Welcome back: your pause is over."
CALENDAR_REMOVED = "Calendar disconnected: its address and the busy times read from it are deleted."
NO_CALENDAR = "There was no calendar connected, so nothing changed."
EXPORT_TITLE = "Everything Baseline keeps about you"
EXPORT_SENT = "Done: a file with everything Baseline keeps about you is in your DM with Baseline."
EXPORT_COMMENT = "Everything Baseline keeps about you, as JSON. Only you received this file."


def not_yet(name: str) -> str:
    return f"`/baseline {_echo(name)}` isn't ready yet."


def hours_set(hours: str, days: str | None) -> str:
    return f"Working hours set to {hours}{'' if days is None else ', ' + days}."


def quiet_set(quiet: str | None) -> str:
    if quiet is None:
        return "Quiet hours are off."
    return f"Quiet hours set to {quiet}. No messages from Baseline then."


def paused(until: datetime, tz: ZoneInfo) -> str:
    local = until.astimezone(tz)
    return (
        f"Paused until {day_label(local.date())} {clock(local)}. "
        "`/baseline resume` ends the pause early."
    )


def reflection_set(reflection: ReflectionTime | None) -> str:
    if reflection is None:
        return "Weekly reflection turned off."
    return (
        f"Your weekly reflection will come on {reflection_time(reflection.weekday, reflection.at)}."
    )


def week_chart_title(first_day: date) -> str:
    return f"Your week from {day_label(first_day)}"


# --- form errors (plain text: Slack shows modal errors as they are) ----------------------------


FORM_BAD_TIME = "That doesn't look like a time. Pick one from the list."
FORM_SAME_TIMES = "Start and end can't be the same time."
FORM_NEED_BOTH = "Pick both a start and an end time, or neither."
FORM_NO_DAYS = "Pick at least one working day."
FEEL_PICK_SCORE = "Pick a number from 1 to 5."
FEEL_PICK_WEIGHED = "Pick one of the options, or leave it empty."


def note_too_long(limit: int) -> str:
    return f"That's a little long: keep it under {limit:,} characters, please."


# --- resets ------------------------------------------------------------------------------------


def reset_fallback(title: str) -> str:
    return f"A short reset: {escape(title)}"


def practice(title: str, text: str) -> str:
    return f"*{escape(title)}*\n{escape(text)}"


def practice_timing(seconds: int, *, while_connecting: bool, until: datetime, tz: ZoneInfo) -> str:
    parts = [f"Takes {_seconds(seconds)}"]
    if while_connecting:
        parts.append("fine to do as your next call connects")
    parts.append(f"useful until {local_clock(until, tz)}")
    return " · ".join(parts)


SNOOZE_FAILED = (
    "Sorry, I couldn't snooze that reset just now. It stays where it is: do it, skip it, or "
    "try Snooze again in a minute."
)
NICELY_DONE = "Nicely done."
DID_IT_HELP = "Did it help?"


def reset_done(title: str) -> str:
    return f"{NICELY_DONE} *{escape(title)}* is done. {DID_IT_HELP}"


THEME_PHRASES = {
    PracticeTheme.BREATHING: "breathing practices",
    PracticeTheme.EYES: "eye rests",
    PracticeTheme.BODY: "body practices",
    PracticeTheme.WALK: "short walks",
    PracticeTheme.WATER: "water breaks",
    PracticeTheme.CLOSE_THE_LOOP: "close-the-loop practices",
}


def reset_closed(
    title: str,
    theme: PracticeTheme,
    *,
    outcome: Outcome,
    helped: bool | None,
    snooze_until: datetime | None,
    tz: ZoneInfo,
) -> str:
    """The last word on a reset, once the person has answered it (or it has lapsed)."""
    name = f"*{escape(title)}*"
    if outcome is Outcome.DONE:
        if helped is True:
            return (
                f"{name} · done, and it helped. Practices that help you come up a bit more often."
            )
        if helped is False:
            return f"{name} · done. Thanks for saying it didn't help; this one will come up less."
        return f"{name} · done. Nicely done."
    if outcome is Outcome.SNOOZED:
        if snooze_until is None:
            return f"{name} · snoozed. It will come back in a few minutes."
        return f"{name} · snoozed until {local_clock(snooze_until, tz)}. It will come back then."
    if outcome is Outcome.NOT_NOW:
        return f"{name} · skipped this time. That's fine."
    if outcome is Outcome.FEWER:
        return f"{name} · got it: {THEME_PHRASES[theme]} will come less often from now on."
    return f"{name} · this one's moment has passed. Nothing to do."


# --- heavy day and the week ----------------------------------------------------------------


HEAVY_DAY_FOOTER = "Just for you. Heads-ups can be turned off on Baseline's Home tab."

WEEK_HEADER = "Your week"
REFLECTION_HEADER = "Your week, looking back"
REFLECTION_FALLBACK = "Your week is nearly done. A few minutes to look back, just for you."
REFLECTION_PROMPTS_INTRO = "A few questions, just for you:"
REFLECTION_FOOTER = "Only you can see this and your answers. Skip any question you like."
WEEK_FOOTER = "Only you can see this. It comes from your own calendar, resets and /feel logs."
SIGNAL_FOOTER = "A pattern in your own data, not a verdict about you."


def week_facts(summary: WeekSummary) -> str:
    """Meetings, resets and feel for the week, one line each."""
    if summary.meeting_minutes < 1:
        meetings = "none on your calendar"
    else:
        meetings = duration(summary.meeting_minutes)
        if summary.chains:
            meetings += (
                f", with {_plural(summary.chains, 'back-to-back chain')}; the longest "
                f"stretch was {duration(summary.longest_chain_minutes)}"
            )
        else:
            meetings += ", with no back-to-back chains"
    total = summary.resets_done + summary.resets_snoozed + summary.resets_skipped
    if total == 0:
        resets = "none this week"
    else:
        done = f"{summary.resets_done} done"
        if summary.helped:
            done += f" ({summary.helped} helped)"
        resets = f"{done}, {summary.resets_snoozed} snoozed, {summary.resets_skipped} skipped"
    if summary.feel_average is None:
        feel = "no /feel logs this week"
    else:
        feel = f"{_score(summary.feel_average)} out of 5 on average, from your /feel logs"
    return f"*Meetings:* {meetings}.\n*Resets:* {resets}.\n*How you felt:* {feel}."


def week_days(summary: WeekSummary) -> str | None:
    """One line per day that had meetings or a /feel log, or None if none did."""
    minutes = dict(summary.meeting_minutes_by_day)
    feel = dict(summary.feel_by_day)
    lines = []
    for day in sorted(set(minutes) | set(feel)):
        parts = []
        if minutes.get(day, 0.0) >= 1:
            parts.append(f"{duration(minutes[day])} of meetings")
        if day in feel:
            parts.append(f"felt {_score(feel[day])}")
        if parts:
            lines.append(f"`{day_label(day)}` " + " · ".join(parts))
    return "\n".join(lines) or None


_TREND_WORDS = {
    "up": "a little higher than",
    "down": "a little lower than",
    "steady": "about the same as",
}


def week_trend(trend: FeelTrend) -> str | None:
    if trend.this_week is None or trend.last_week is None:
        return None
    change = _TREND_WORDS[trend.direction]  # "up", "down" or "steady" once both exist
    # "Past 7 days", not "this week": the trend is rolling, the summary above is the
    # calendar week, and the two averages may differ.
    return (
        f"Over the past 7 days you averaged {_score(trend.this_week)}, {change} the 7 days "
        f"before ({_score(trend.last_week)})."
    )


REFLECTION_SAVED = (
    "Saved. Your answers are just for you; `/baseline export` brings them back any time."
)

SIGNALS = {
    Signal.OVERLOAD: (
        "Looking at your recent weeks, your lower-energy days tend to be your heaviest "
        "meeting days, and lighter days look better. That kind of tiredness usually eases "
        "with lighter days and real rest, so protecting a gap or two next week may help."
    ),
    Signal.MISMATCH: (
        "Looking at your recent weeks, your energy has been low on lighter days too, not only "
        "on the busy ones. It may be worth noticing which kinds of work drain you and which "
        "give something back: rest on its own may not be the whole answer."
    ),
}


def prompts(questions: Iterable[str]) -> str:
    listed = "\n".join(f"• {escape(question)}" for question in questions)
    return f"{REFLECTION_PROMPTS_INTRO}\n{listed}"


# --- support -----------------------------------------------------------------------------------


SUPPORT_FALLBACK = "A private note from Baseline, just for you."
SUPPORT_OPENING = (
    "You've logged a low score a few times in a row. That sounds like a lot to carry, "
    "and it's good that you're keeping track."
)
SUPPORT_FOOTER = "Only you can see this message. Nobody else has been told."


def support_offer(support_url: str | None) -> str:
    if support_url is None:
        return (
            "If it would help, talking it through with someone you trust can make things "
            "lighter. Your workspace admin can also add your organisation's support "
            "resources to Baseline, so they show up here."
        )
    # Inside <url|label> a "|" would end the address early.
    url = escape(support_url).replace("|", "%7C")
    return (
        "If you'd like to talk to someone, your organisation offers support here: "
        f"<{url}|support resources>. No pressure, it's there whenever you want it."
    )


# --- status --------------------------------------------------------------------------------


def status_heading(opted_in: bool) -> str:
    if opted_in:
        return "*Baseline is on for you.*"
    return "*Baseline is off for you.* Turn it on with `/baseline on`."


def reflection_time(weekday: int, at: time) -> str:
    return f"{DAY_NAMES[weekday]}s at {clock_time(at)}"


def clock_time(at: time) -> str:
    return f"{at:%H:%M}"


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


def status_lines(
    *,
    tz: str,
    hours: str,
    days: str,
    quiet: str | None,
    paused_until: str | None,
    reflection: str | None,
    resets: bool,
    heads_up: bool,
    calendar: str | None,
) -> str:
    lines = [
        f"*Time zone:* {escape(tz)}",
        f"*Working hours:* {hours}, {days}",
        f"*Quiet hours:* {quiet or 'none'}",
        f"*Paused:* until {paused_until}" if paused_until else "*Paused:* no",
        f"*Resets between meetings:* {on_off(resets)}",
        f"*Heavy-day heads-up:* {on_off(heads_up)}",
        f"*Weekly reflection:* {reflection or 'off'}",
        calendar_line(calendar),
    ]
    return "\n".join(lines)


def calendar_line(calendar: str | None) -> str:
    if calendar is None:
        return f"*Calendar:* not connected. Connect one with `/baseline calendar {_ICS_URL}`."
    return (
        f"*Calendar:* {escape(calendar)}. To change it, use `/baseline calendar {_ICS_URL}`; "
        "`/baseline calendar off` disconnects it."
    )


STATUS_FALLBACK = "Your Baseline settings"
STATUS_FOOTER = "Change anything on Baseline's Home tab, or see `/baseline help`."


# --- forget --------------------------------------------------------------------------------


FORGET_QUESTION = (
    "This deletes everything Baseline keeps about you: your settings, calendar address, "
    "/feel logs, reflections and reset history. It can't be undone. If you'd like a copy "
    "first, use `/baseline export`."
)


def forgotten(count: int) -> str:
    if count == 0:
        return "There was nothing stored about you, so there was nothing to delete."
    return (
        f"Done: everything Baseline kept about you is deleted ({_plural(count, 'record')}). "
        "If you use Baseline again, it starts from scratch."
    )


FORGET_CANCELLED = "Nothing was deleted. Everything stays as it was."


# --- App Home ------------------------------------------------------------------------------


def home_today(day: date) -> str:
    return f"{HOME_HEADER_TODAY}, {day_label(day)}"


def home_shape(shape: DayShape | None, *, calendar: str | None, tz: ZoneInfo) -> str:
    if shape is None:
        if calendar is None:
            return (
                "Connect a calendar to see the shape of your day here: "
                f"`/baseline calendar {_ICS_URL}`."
            )
        return "Today's calendar hasn't been read yet. Check back in a few minutes."
    if not shape.meetings:
        return "No meetings today. Nothing to recover from, so Baseline stays quiet."
    chains = shape.chains
    summary = f"{_plural(len(shape.meetings), 'meeting')}, {duration(shape.meeting_minutes)} in all"
    if chains:
        summary += (
            f"; {_plural(len(chains), 'back-to-back chain')}, the longest "
            f"{duration(shape.longest_chain_minutes)}"
        )
    lines = [summary + "."]
    for block in shape.blocks[:_MAX_BLOCKS_LISTED]:
        span = f"{local_clock(block.start, tz)}–{local_clock(block.end, tz)}"
        if block.is_back_to_back:
            lines.append(f"• `{span}` back-to-back, {len(block.meetings)} meetings")
        else:
            lines.append(f"• `{span}` one meeting")
    hidden = len(shape.blocks) - _MAX_BLOCKS_LISTED
    if hidden > 0:
        lines.append(f"• and {hidden} more")
    return "\n".join(lines)


def home_load(load: Sequence[tuple[datetime, float]], tz: ZoneInfo) -> str | None:
    if not load:
        return None
    bars = sparkline([value for _, value in load], low=0.0, high=1.0)
    peak_at, _ = max(load, key=lambda point: point[1])
    return (
        f"Load {local_clock(load[0][0], tz)} {bars} {local_clock(load[-1][0], tz)} "
        f"· highest around {local_clock(peak_at, tz)}"
    )


def home_resets(count: int) -> str:
    if count == 0:
        return "No resets yet today."
    return f"Resets so far today: {count}."


def home_zone(tz: ZoneInfo) -> str:
    return f"Times are in your time zone, {escape(tz.key)}."


def home_paused(until: str) -> str:
    return f"Paused until {until}. `/baseline resume` ends the pause early."


def field_error(message: str) -> str:
    return f"⚠️ {_sentence(_echo(message))}"


HOME_FOOTER = (
    "Only you can see this page. `/baseline export` shows everything Baseline keeps about "
    "you; `/baseline forget` deletes it."
)


HOME_UNAVAILABLE = (
    ":hourglass: Couldn't load your settings just now, so nothing has changed. "
    "Open this tab again in a minute."
)
FORM_BAD_DAY = "Pick a day from the list, or Off."


# --- calendar sync (bot/sync.py) -------------------------------------------------------------


def _day_phrase(moment: datetime, *, now: datetime, tz: ZoneInfo) -> str:
    """``today``, ``tomorrow``, ``Tuesday``, or ``next Monday`` (a week on)."""
    days = (moment.astimezone(tz).date() - now.astimezone(tz).date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    name = DAY_NAMES[moment.astimezone(tz).weekday()]
    return f"next {name}" if days >= 7 else name


def calendar_outlook(outlook: CalendarOutlook, *, now: datetime, tz: ZoneInfo) -> str:
    """``23 meetings in the next 7 days; the next back-to-back chain is Tuesday 10:00–12:30.``"""
    meetings = (
        f"{_plural(outlook.meetings, 'meeting')} in the next {_plural(outlook.days, 'day')}"
        if outlook.meetings
        else f"No meetings in the next {_plural(outlook.days, 'day')}"
    )
    chain = outlook.next_chain
    if chain is None:
        if not outlook.meetings:
            return meetings + "."
        return f"{meetings}, and no back-to-back chains."
    span = f"{local_clock(chain.start, tz)}–{local_clock(chain.end, tz)}"
    return (
        f"{meetings}; the next back-to-back chain is "
        f"{_day_phrase(chain.start, now=now, tz=tz)} {span}."
    )


def calendar_connected(
    masked: str, outlook: CalendarOutlook, *, now: datetime, tz: ZoneInfo
) -> str:
    return f"✓ Calendar connected: {escape(masked)}. {calendar_outlook(outlook, now=now, tz=tz)}"


def calendar_sync_note(every_minutes: float, idle_minutes: float) -> str:
    return (
        "Baseline reads only when you're busy, never titles or names. It checks for changes "
        f"every {duration(every_minutes)} in your working hours and every "
        f"{duration(idle_minutes)} outside them."
    )


def calendar_not_connected(reason: str, *, previous_kept: bool) -> str:
    kept = " Your calendar connected before stays connected." if previous_kept else ""
    return f"Couldn't connect that calendar: {_echo(reason)}. Nothing was saved.{kept}"


def calendar_not_read_yet(masked: str, reason: str, *, retry_minutes: float) -> str:
    return (
        f"Saved {escape(masked)}, but it couldn't be read just now: {_echo(reason)}. "
        f"Baseline tries again in about {duration(retry_minutes)}; if it keeps failing, "
        "you'll get one DM saying so. `/baseline calendar off` removes it."
    )


# A reason, worded like the fetcher's (lower-case start, no full stop): a parse worker died.
CALENDAR_PARSER_FAILED = "the calendar could not be read just now: Baseline will try again later"
CALENDAR_BROKEN_FALLBACK = "Baseline can't read your calendar any more."


def calendar_broken(reason: str) -> str:
    return f":warning: Baseline can't read your calendar any more: {_echo(reason)}."


CALENDAR_BROKEN_FIX = (
    "Until it can, resets follow what it read last, which gets out of date. To fix it, copy "
    f"your calendar's secret iCal address again and send `/baseline calendar {_ICS_URL}`, "
    "or disconnect it with `/baseline calendar off`."
)
CALENDAR_BROKEN_FOOTER = (
    "Baseline keeps trying and sends one more message when it works again, nothing in between."
)
CALENDAR_RECOVERED = (
    "Your calendar works again: Baseline has just read it, and resets follow your meetings again."
)


# --- team recovery windows, the team view and privacy (bot/listeners/team.py) --------------


def window_label(window: RecoveryWindow) -> str:
    """``Wed 14:00–14:30 · Focus hour`` in the window's own (the lead's) zone."""
    hours = f"{window.hours.start:%H:%M}–{window.hours.end:%H:%M}"
    days = "daily" if len(window.days.days) == 7 else _days(window.days.days)
    name = f" · {_echo(window.name)}" if window.name else ""
    return f"{days} {hours}{name}"


def _days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{_DAY_ABBR[ordered[0]]}–{_DAY_ABBR[ordered[-1]]}"
    return ", ".join(_DAY_ABBR[d] for d in ordered)


def window_in_your_time(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """``next: Wed 26 Nov 08:00–08:30 your time (America/New_York)``."""
    local = start.astimezone(tz)
    return (
        f"next: {day_label(local.date())} {local_clock(start, tz)}–{local_clock(end, tz)} "
        f"your time ({escape(tz.key)})"
    )


def window_list(
    listed: Sequence[tuple[RecoveryWindow, datetime, datetime]], *, tz: ZoneInfo
) -> str:
    """One numbered line per window: its own time and zone, then the next one in yours."""
    return "\n".join(
        f"*{number}.* {window_label(window)} ({escape(window.tz.key)}) · "
        f"{window_in_your_time(start, end, tz)}"
        for number, (window, start, end) in enumerate(listed, start=1)
    )


def lines(*parts: str) -> str:
    return "\n".join(parts)


def window_added(window: RecoveryWindow) -> str:
    return (
        f"✓ Recovery window added: *{window_label(window)}*, in {escape(window.tz.key)} time "
        "(yours). Members who use Baseline get no resets inside it, and I'll say in this "
        "channel when it starts and ends."
    )


def window_overlap(report: Overlap | None, *, minimum: int) -> str:
    if report is None:
        return (
            f"Too few members have a calendar connected to report meetings over it (it takes "
            f"at least {minimum})."
        )
    return (
        f"Of the {report.with_calendar} members with a calendar connected, "
        f"{_plural(report.booked, 'has', 'have')} a meeting booked over it in the next 7 days."
    )


WINDOW_IN_DM = "Recovery windows belong to a team channel: run this in the channel itself."
WINDOW_NONE = "This channel has no recovery windows yet. `/baseline window add wed 14:00-14:30`"
WINDOW_LIST_HEADER = "Recovery windows in this channel"
WINDOW_LIST_FOOTER = (
    "Times in the lead's zone, and when each one next comes round in yours. "
    "`/baseline window remove N` removes one."
)
WINDOW_TOO_MANY = "This channel already has 10 recovery windows; remove one first."
WINDOW_CHANNEL_UNREADABLE = (
    "I couldn't read this channel's members: add Baseline to the channel "
    "(`/invite @Baseline`) and try again."
)
NOT_A_LEAD = (
    "Sorry, only workspace admins, this channel's creator and the team leads your admins "
    "named can do that. Anyone can see what leads are shown with `/baseline privacy`."
)


def window_removed(window: RecoveryWindow) -> str:
    return f"Recovery window removed: {window_label(window)}."


def window_not_found(number: int) -> str:
    return f"There is no window {number} here; `/baseline window list` shows their numbers."


def window_dm_set(on: bool) -> str:
    if on:
        return "You'll get a short DM when a recovery window in one of your channels starts."
    return "No more DMs when a recovery window starts."


def window_started(window: RecoveryWindow) -> str:
    name = f" ({_echo(window.name)})" if window.name else ""
    return (
        f":herb: The recovery window{name} starts now, until {window.hours.end:%H:%M} "
        f"{escape(window.tz.key)} time: no meetings, no pings. Step away if you can."
    )


def window_ended(window: RecoveryWindow) -> str:
    name = f" ({_echo(window.name)})" if window.name else ""
    return f"The recovery window{name} is over. Welcome back."


def window_start_dm(window: RecoveryWindow, *, channel: str, end: datetime, tz: ZoneInfo) -> str:
    return (
        f":herb: Your team's recovery window in <#{channel}> starts now, until "
        f"{local_clock(end, tz)} your time. No resets from me until then; just take the time."
    )


def window_digest(window: RecoveryWindow, *, channel: str, overlap: str) -> str:
    return f"Your recovery window in <#{channel}>, *{window_label(window)}*, this week: {overlap}"


WINDOW_DIGEST_FOOTER = "Only counts, never names. You get this because you set the window."

TEAM_HEADER = "Team view"
TOO_FEW = "too few to show"
TEAM_IN_DM = "The team view is for a team channel: run `/baseline team` in the channel."


def team_intro(members: int, minimum: int) -> str:
    return (
        f"Aggregates over this channel's {members} members, last 7 days. Each figure shows only "
        f"when at least {minimum} people contribute to it; never a name or one person's value."
    )


def team_meetings(load: MeetingLoad | None) -> str:
    if load is None:
        return f"*Meeting hours per day* (people with a calendar connected): {TOO_FEW}"
    return (
        f"*Meeting hours per day* ({load.people} people with a calendar connected): "
        f"a quarter under {load.q1:g} h, half under {load.median:g} h, "
        f"three quarters under {load.q3:g} h"
    )


def team_chains(share: ChainShare | None) -> str:
    if share is None:
        return f"*Back-to-back chains over 2 hours*: {TOO_FEW}"
    return (
        f"*Back-to-back chains over 2 hours*: about {share.percent}% of the "
        f"{share.people} people with a calendar had at least one"
    )


def team_resets(counts: ResetCounts | None) -> str:
    if counts is None:
        return f"*Resets* (people who got any): {TOO_FEW}"
    return (
        f"*Resets* ({counts.people} people who got any): {counts.taken} taken, "
        f"{counts.skipped} skipped"
    )


def team_feel(feel: FeelAverage | None) -> str:
    if feel is None:
        return f"*How people feel* (people who logged both weeks): {TOO_FEW}"
    direction = (
        "about the same as"
        if abs(feel.this_week - feel.last_week) < 0.2
        else "up from"
        if feel.this_week > feel.last_week
        else "down from"
    )
    return (
        f"*How people feel* ({feel.people} people who logged both weeks): "
        f"{_score(feel.this_week)} on average, {direction} {_score(feel.last_week)} the week before"
    )


TEAM_HELD_BACK = (
    "Some figures are held back because this group differs by too few people from a group "
    "already shown in this workspace: comparing the two would single people out."
)
TEAM_FOOTER = "Only you can see this. `/baseline privacy` shows anyone exactly what leads see."

PRIVACY_HEADER = "What a team lead can see"
PRIVACY_CAN = (
    "*A lead can see*, for a channel's members, and only as totals or bands over at least "
    "{minimum} people: meeting hours per day (quartiles, to the half hour), the share with a "
    "back-to-back chain over 2 hours (to 10%), resets taken and skipped, and the average "
    "of how people feel this week against last week. For a recovery window: how many members "
    "with a calendar have a meeting over it."
)
PRIVACY_CANNOT = (
    "*A lead can never see* your name next to any figure, your own meetings, calendar, "
    "resets, feel logs or notes, your reflections, or any figure about fewer than {minimum} "
    "people. Groups that differ from one already shown by fewer than {minimum} people are "
    "refused, so comparing two channels can't single anyone out."
)
PRIVACY_HERE = "What a lead of this channel sees right now:"
PRIVACY_IN_DM = "Run `/baseline privacy` in a team channel to see its current figures."
