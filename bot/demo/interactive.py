"""``baseline demo --interactive``: the person at the keyboard is one of the sample team.

Slash commands go to the bot as signed requests, a number clicks that numbered button, and
a form the bot opens is filled in field by field. The clock keeps running meanwhile, so
resets arrive between commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiohttp

from bot.demo.simulator import (
    Ack,
    Button,
    JsonObject,
    SlackSimulator,
    Surface,
    buttons_of,
)
from bot.demo.team import HOME_ZONE, TEAM_CHANNEL, TEAM_CHANNEL_NAME, Person
from bot.demo.terminal import Terminal, plain

logger = logging.getLogger(__name__)

# /baseline subcommands that are about a channel: typed in the team's channel.
CHANNEL_SUBCOMMANDS = frozenset({"window", "team", "privacy"})
SLASH_COMMANDS = frozenset({"/feel", "/baseline"})
QUIT_WORDS = frozenset({"quit", "exit", "q", "bye"})
YES_WORDS = frozenset({"yes", "y"})


def help_text(me: Person, *, weekday: str) -> str:
    lead = (
        f"\n  /baseline window add {weekday} 15:00-15:30 Quiet half hour"
        f"\n                       a recovery window for #{TEAM_CHANNEL_NAME} (you lead it)"
        f"\n  /baseline team       the team view, from aggregates only"
        if me.lead
        else ""
    )
    return (
        f"You are {me.first_name} ({me.city}). What you can type:\n"
        "  /feel 3 tired        log how you feel, 1 to 5, words optional\n"
        "  /feel                the one-tap form (then: submit)\n"
        "  /baseline week       your week so far, with a chart\n"
        "  /baseline status     what Baseline is set to do for you\n"
        "  /baseline help       every /baseline command" + lead + "\n"
        "  3                    click the button numbered [3]\n"
        "  submit / cancel      fill in and send the open form, or close it\n"
        "  home                 open Baseline's Home tab\n"
        "  now                  the time, in each of the team's cities\n"
        "  quit                 end the demo (Ctrl-D or Ctrl-C work too)"
    )


@dataclass
class _Field:
    block_id: str
    action_id: str
    kind: str
    label: str
    optional: bool
    options: list[JsonObject] = field(default_factory=list)


@dataclass
class _Form:
    modal: Surface
    fields: list[_Field]
    values: dict[str, dict[str, JsonObject]] = field(default_factory=dict)
    index: int = 0


class Console:
    """Reads what the person types, one line at a time (``handle``)."""

    def __init__(
        self, simulator: SlackSimulator, terminal: Terminal, me: Person, *, weekday: str
    ) -> None:
        self.simulator = simulator
        self.terminal = terminal
        self.me = me
        self.weekday = weekday
        self._form: _Form | None = None
        self._confirming: Button | None = None

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False when the person wants to stop."""
        try:
            return await self._handle(line)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # The bot's HTTP endpoint did not answer: say so, and keep the demo going.
            logger.warning("a request to the bot failed: %s", type(exc).__name__)
            self.terminal.hint("That didn't reach Baseline just now; try again in a moment.")
            return True

    async def _handle(self, line: str) -> bool:
        text = line.strip()
        if self._form is not None:
            await self._answer(text)
            return True
        if self._confirming is not None:
            button, self._confirming = self._confirming, None
            if text.lower() in YES_WORDS:
                await self._click(button)
            else:
                self.terminal.hint("Left as it was.")
            return True
        word = text.lower()
        if not text:
            return True
        if word in QUIT_WORDS:
            return False
        if word in ("help", "?", "h"):
            self.terminal.hint(help_text(self.me, weekday=self.weekday))
        elif word == "now":
            self._now()
        elif word == "home":
            await self._checked(await self.simulator.open_home(self.me.user_id))
        elif word == "submit":
            self._start_form()
        elif word == "cancel":
            self._cancel()
        elif text.isdigit():
            await self._number(int(text))
        elif text.startswith("/"):
            await self._command(text)
        else:
            self.terminal.hint(
                "I didn't catch that. Type a command like /feel 3 tired, "
                "a button's number, or help."
            )
        return True

    async def _command(self, text: str) -> None:
        command, _, rest = text.partition(" ")
        command = command.lower()
        if command not in SLASH_COMMANDS:
            self.terminal.hint(
                f"Baseline answers /feel and /baseline; {command} isn't one of them."
            )
            return
        rest = rest.strip()
        subcommand = rest.split()[0].lower() if rest else ""
        channel = (
            TEAM_CHANNEL if command == "/baseline" and subcommand in CHANNEL_SUBCOMMANDS else None
        )
        if channel is not None:
            self.terminal.say(f"(sent from #{TEAM_CHANNEL_NAME}: it is about the channel)")
        await self._checked(
            await self.simulator.command(self.me.user_id, command, rest, channel=channel)
        )

    async def _number(self, number: int) -> None:
        button = self.terminal.buttons.get(number)
        if button is None:
            self.terminal.hint(f"There is no button [{number}]. Buttons show their number.")
            return
        surface = self.simulator.surface(button.surface_key)
        if surface is None or button not in buttons_of(surface):
            self.terminal.hint(
                f"Button [{number}] is gone: that message has changed since. "
                "Use a number shown later."
            )
            return
        if button.confirm is not None:
            self._confirming = button
            title = plain(_text(button.confirm.get("title")))
            question = plain(_text(button.confirm.get("text")))
            self.terminal.hint(f"{title} {question}\nType yes to go ahead, anything else to stop.")
            return
        await self._click(button)

    async def _click(self, button: Button) -> None:
        await self._checked(await self.simulator.click(self.me.user_id, button))

    async def _checked(self, ack: Ack) -> None:
        if ack.status != 200:
            self.terminal.hint(
                "That didn't reach Baseline just now; try again in a moment."
                if ack.status == 0
                else f"Baseline didn't take that (HTTP {ack.status})."
            )

    def _now(self) -> None:
        now = self.simulator.now()
        cities: dict[str, str] = {"Berlin": now.astimezone(HOME_ZONE).strftime("%a %H:%M")}
        for person in self.terminal.team:
            cities.setdefault(person.city, now.astimezone(person.tz).strftime("%a %H:%M"))
        self.terminal.hint(" · ".join(f"{clock} {city}" for city, clock in cities.items()))

    # --- forms ----------------------------------------------------------------------------

    def _start_form(self) -> None:
        modal = self.simulator.open_modal(self.me.user_id)
        if modal is None or modal.view is None:
            self.terminal.hint("No form is open. /feel on its own opens one.")
            return
        fields = _fields(modal.view)
        if not fields:
            self.terminal.hint("This form has nothing to fill in.")
            return
        self._form = _Form(modal=modal, fields=fields)
        self._ask()

    def _cancel(self) -> None:
        modal = self.simulator.open_modal(self.me.user_id)
        if modal is None:
            self.terminal.hint("No form is open.")
            return
        self.simulator.close(modal)

    def _ask(self) -> None:
        form = self._form
        assert form is not None  # noqa: S101 - only called while filling a form
        asked = form.fields[form.index]
        skip = " (Enter to skip)" if asked.optional else ""
        if asked.options:
            choices = "  ".join(
                _choice(n, _text(o.get("text"))) for n, o in enumerate(asked.options, start=1)
            )
            how = "a number, or several with commas" if asked.kind == "checkboxes" else "a number"
            self.terminal.hint(f"{asked.label}{skip}\n{choices}\n(type {how})")
        elif asked.kind == "timepicker":
            self.terminal.hint(f"{asked.label}{skip} (a time like 09:30)")
        else:
            self.terminal.hint(f"{asked.label}{skip}")

    async def _answer(self, text: str) -> None:
        form = self._form
        assert form is not None  # noqa: S101 - only called while filling a form
        asked = form.fields[form.index]
        if text.lower() == "cancel":
            self._form = None
            self._cancel()
            return
        if not text and not asked.optional:
            self.terminal.hint("This one is needed.")
            self._ask()
            return
        if text:
            value = _value(asked, text)
            if value is None:
                self.terminal.hint("That isn't one of the choices.")
                self._ask()
                return
            form.values[asked.block_id] = {asked.action_id: value}
        form.index += 1
        if form.index < len(form.fields):
            self._ask()
            return
        self._form = None
        ack = await self.simulator.submit(self.me.user_id, form.modal, form.values)
        await self._checked(ack)
        errors = ack.body.get("errors") if ack.body.get("response_action") == "errors" else None
        if isinstance(errors, dict):
            lines = [f"✗ {plain(str(message))}" for message in errors.values()]
            self.terminal.hint("\n".join([*lines, 'The form is still open: "submit" to retry.']))


def _choice(number: int, label: str) -> str:
    # Some labels carry their number already ("3 · Okay").
    return label if label.startswith(f"{number} ") else f"{number} {label}"


def _fields(view: dict[str, Any]) -> list[_Field]:
    fields = []
    for block in view.get("blocks") or ():
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        fields.append(
            _Field(
                block_id=str(block.get("block_id", "")),
                action_id=str(element.get("action_id", "")),
                kind=str(element.get("type", "")),
                label=_text(block.get("label")),
                optional=bool(block.get("optional")),
                options=list(element.get("options") or ()),
            )
        )
    return fields


def _value(asked: _Field, text: str) -> JsonObject | None:
    """What Slack puts in ``state.values`` for this answer; None when it is not a choice."""
    if asked.kind in ("radio_buttons", "static_select"):
        option = _option(asked.options, text)
        return None if option is None else {"type": asked.kind, "selected_option": option}
    if asked.kind == "checkboxes":
        picked = [_option(asked.options, part.strip()) for part in text.split(",")]
        if any(p is None for p in picked):
            return None
        return {"type": asked.kind, "selected_options": picked}
    if asked.kind == "timepicker":
        return {"type": asked.kind, "selected_time": text}
    return {"type": asked.kind, "value": text}


def _option(options: list[JsonObject], text: str) -> JsonObject | None:
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    for option in options:
        if text.lower() in (
            str(option.get("value", "")).lower(),
            _text(option.get("text")).lower(),
        ):
            return option
    return None


def _text(obj: object) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


async def stdin_lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Lines typed on standard input, without blocking the event loop; ends at end of input.

    The descriptor is watched, not switched to non-blocking mode: on a terminal it is the
    same open file as standard output, which must stay blocking for large prints.
    """
    stream = stream or sys.stdin
    loop = asyncio.get_running_loop()
    fd = stream.fileno()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)
        chunks.put_nowait(chunk)

    try:
        loop.add_reader(fd, readable)
    except (PermissionError, ValueError, NotImplementedError, OSError):
        # A regular file cannot be watched; reading one never waits for anybody.
        for line in stream:
            yield line
        return
    pending = b""
    try:
        while True:
            chunk = await chunks.get()
            if not chunk:
                if pending:
                    yield pending.decode("utf-8", errors="replace")
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                yield line.decode("utf-8", errors="replace")
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)
