"""The demo's terminal: each DM, reply, modal, Home tab and file as readable text, as it
arrives, with the person's name and their local time; buttons are numbered so that
``--interactive`` can click them by number.

Slack's mrkdwn becomes plain text (bold only where the terminal shows colour).
"""

from __future__ import annotations

import html
import re
import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from bot.demo.simulator import Arrival, ArrivalKind, Button, Surface, SurfaceKind, buttons_of
from bot.demo.team import HOME_ZONE, TEAM_CHANNEL_NAME, Person

_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^<>]+)>")
_MENTION = re.compile(r"<([@#!])([^<>|]+)(?:\|([^<>]+))?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_BAR = "│ "
# Slack shows these shortcodes as emoji; the ones Baseline's texts use.
_EMOJI = {":herb:": "🌿", ":hourglass:": "⌛", ":warning:": "⚠️"}
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")
MAX_WIDTH = 100


class Style:
    """ANSI styles, or none (not a terminal, or NO_COLOR)."""

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def accent(self, text: str) -> str:
        return self._wrap("36", text)


class Terminal:
    """Prints what people see. ``me`` (interactive mode) is shown in full with numbered
    buttons; everyone else in one line. Without ``me``, everyone is shown in full."""

    def __init__(
        self,
        out: TextIO,
        team: Sequence[Person],
        *,
        me: Person | None = None,
        color: bool = False,
        width: int | None = None,
    ) -> None:
        self.out = out
        self.people = {p.user_id: p for p in team}
        self.team = list(team)
        self.me = me
        self.style = Style(color=color)
        self.width = min(width or shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)
        self.buttons: dict[int, Button] = {}
        self._next_number = 1
        self.prompt = ""  # shown again after each print in interactive mode
        self._prompt_shown = False
        self.quiet = False  # skip the one-line notes about other people (while setting up)

    # --- output -------------------------------------------------------------------------

    def write(self, lines: Iterable[str]) -> None:
        text = "\n".join(lines)
        if self._prompt_shown:
            # Over the prompt: the person may be half-way through typing.
            text = "\r" + text
        self.out.write(text + "\n")
        self._prompt_shown = False
        self.show_prompt()

    def show_prompt(self) -> None:
        """The prompt, at the end of the output, unless it is there already."""
        if self.prompt and not self._prompt_shown:
            self.out.write(self.prompt)
            self._prompt_shown = True
        self.out.flush()

    def line_typed(self) -> None:
        """The person pressed Enter: the prompt's line is theirs now."""
        self._prompt_shown = False

    def say(self, text: str) -> None:
        """A line from the demo itself (not from Baseline)."""
        self.write(self._wrapped(text, indent="· ", style=self.style.dim))

    def hint(self, text: str) -> None:
        self.write([self.style.accent(line) for line in self._wrapped(text, indent="  ")])

    def heading(self, text: str) -> None:
        self.write(["", self.style.bold(text)])

    def clock(self, now: datetime) -> None:
        """A line marking the hour, in every zone of the team."""
        seen: dict[str, str] = {}
        for zone, city in [(HOME_ZONE, "Berlin"), *((p.tz, p.city) for p in self.team)]:
            seen.setdefault(city, now.astimezone(zone).strftime("%H:%M"))
        stamp = " · ".join(f"{clock} {city}" for city, clock in seen.items())
        self.write(["", self.style.dim(f"──── {stamp} ────")])

    # --- arrivals -------------------------------------------------------------------------

    def show(self, arrival: Arrival) -> None:
        surface = arrival.surface
        recipient = self.people.get(surface.user or "")
        full = self.me is None or (recipient is not None and recipient == self.me)
        if surface.kind is SurfaceKind.CHANNEL:
            full = True
        if surface.kind is SurfaceKind.HOME and self.me is None:
            return  # nobody opens their Home tab in the non-interactive demo
        if not full:
            assert recipient is not None  # noqa: S101 - only a person's own surfaces are partial
            if self.quiet:
                return
            if arrival.kind is ArrivalKind.NEW and surface.kind is not SurfaceKind.MODAL:
                self.write([self.style.dim(self._one_line(arrival, recipient))])
            return
        self.write(self._render(arrival, recipient))

    def _one_line(self, arrival: Arrival, person: Person) -> str:
        local = arrival.at.astimezone(person.tz).strftime("%H:%M")
        what = {
            SurfaceKind.DM: "got a DM",
            SurfaceKind.REPLY: "got a reply",
            SurfaceKind.FILE: "got a file",
            SurfaceKind.HOME: "opened the Home tab",
        }.get(arrival.surface.kind, "saw something")
        text = plain(arrival.surface.text).splitlines()[0] if arrival.surface.text else ""
        return f"  {local} {person.city} · {person.first_name} {what}: {_shorten(text, 70)}"

    def _render(self, arrival: Arrival, person: Person | None) -> list[str]:
        surface = arrival.surface
        zone, where = (person.tz, person.city) if person is not None else (HOME_ZONE, "Berlin")
        local = arrival.at.astimezone(zone).strftime("%H:%M")
        who = person.first_name if person is not None else f"#{TEAM_CHANNEL_NAME}"
        title = f"{local} {where} · {who} · {_label(arrival)}"
        lines = ["", self.style.bold(title)]
        if arrival.kind is ArrivalKind.REMOVED:
            return lines
        lines += self._body(surface, numbered=self.me is not None and person == self.me)
        return lines

    def _body(self, surface: Surface, *, numbered: bool) -> list[str]:
        lines: list[str] = []
        if surface.kind is SurfaceKind.FILE:
            size = max(1, round(surface.file_size / 1024))
            lines += self._wrapped(f"📎 {surface.answers} ({surface.file_name}, {size} KB)")
            if surface.text:
                lines += self._wrapped(plain(surface.text))
            return lines
        if surface.view is not None and surface.kind is SurfaceKind.MODAL:
            title = _text_of(surface.view.get("title"))
            lines += self._wrapped(self.style.bold(f"[ {title} ]"))
        blocks = surface.blocks or ({"type": "section", "text": {"text": surface.text}},)
        buttons = iter(buttons_of(surface))
        for block in blocks:
            lines += self._block(block, buttons, numbered=numbered)
        if surface.kind is SurfaceKind.MODAL and surface.view is not None:
            submit = _text_of(surface.view.get("submit")) or "Submit"
            close = _text_of(surface.view.get("close")) or "Cancel"
            if numbered:
                lines += self._wrapped(
                    self.style.accent(
                        f'Type "submit" to fill it in and press {submit}, or "cancel" ({close}).'
                    )
                )
        return lines

    def _block(
        self, block: Mapping[str, Any], buttons: Iterable[Button], *, numbered: bool
    ) -> list[str]:
        kind = block.get("type")
        if kind == "header":
            return self._wrapped(self.style.bold(_text_of(block.get("text"))))
        if kind == "section":
            lines: list[str] = []
            if block.get("text"):
                lines += self._wrapped(plain(_text_of(block.get("text")), self.style))
            for item in block.get("fields") or ():
                lines += self._wrapped(plain(_text_of(item), self.style))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines += self._buttons(buttons, count=1, numbered=numbered)
            return lines
        if kind == "context":
            texts = [_text_of(e) for e in block.get("elements") or () if e.get("type") != "image"]
            return self._wrapped(plain("  ".join(t for t in texts if t)), style=self.style.dim)
        if kind == "divider":
            return [_BAR + self.style.dim("─" * 24)]
        if kind == "image":
            return self._wrapped(f"[image: {block.get('alt_text', '')}]")
        if kind == "actions":
            count = sum(1 for e in block.get("elements") or () if e.get("type") == "button")
            return self._buttons(buttons, count=count, numbered=numbered)
        if kind == "input":
            return self._wrapped(_input_line(block), style=self.style.dim)
        return []

    def _buttons(self, buttons: Iterable[Button], *, count: int, numbered: bool) -> list[str]:
        shown = []
        for button, _ in zip(buttons, range(count), strict=False):
            if numbered:
                number = self._next_number
                self._next_number += 1
                self.buttons[number] = button
                shown.append(f"[{number}] {button.label}")
            else:
                shown.append(f"[{button.label}]")
        # Whole buttons per line, measured before colouring (escape codes take no room).
        lines: list[list[str]] = []
        width = max(30, self.width - len(_BAR))
        for label in shown:
            if lines and len("   ".join([*lines[-1], label])) <= width:
                lines[-1].append(label)
            else:
                lines.append([label])
        style = self.style.accent if numbered else (lambda text: text)
        return [_BAR + "   ".join(style(label) for label in line) for line in lines]

    def _wrapped(self, text: str, *, indent: str = _BAR, style: Any = None) -> list[str]:
        width = max(30, self.width - len(indent))
        lines = []
        for paragraph in text.splitlines() or [""]:
            wrapped = textwrap.wrap(paragraph, width=width, break_long_words=False) or [""]
            lines += [indent + (style(line) if style else line) for line in wrapped]
        return lines


def _label(arrival: Arrival) -> str:
    surface = arrival.surface
    if arrival.kind is ArrivalKind.REMOVED:
        return "form closed" if surface.kind is SurfaceKind.MODAL else "message removed"
    updated = arrival.kind is ArrivalKind.UPDATED
    if surface.kind is SurfaceKind.DM:
        return "DM updated" if updated else "DM from Baseline"
    if surface.kind is SurfaceKind.REPLY:
        base = f"reply to {surface.answers}" if surface.answers else "only you can see this"
        return f"{base} (updated)" if updated else base
    if surface.kind is SurfaceKind.CHANNEL:
        return "message updated" if updated else "message from Baseline"
    if surface.kind is SurfaceKind.MODAL:
        return "form updated" if updated else "a form opens"
    if surface.kind is SurfaceKind.HOME:
        return "Home tab"
    return "file in your DM"


def _text_of(obj: object) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def _input_line(block: Mapping[str, Any]) -> str:
    label = _text_of(block.get("label"))
    optional = " (optional)" if block.get("optional") else ""
    element = block.get("element") or {}
    kind = element.get("type")
    if kind in ("radio_buttons", "static_select", "checkboxes"):
        options = " / ".join(_text_of(o.get("text")) for o in element.get("options") or ())
        chosen = element.get("initial_option") or {}
        picked = element.get("initial_options")
        if picked is not None:
            shown = ", ".join(_text_of(o.get("text")) for o in picked) or "none"
        else:
            shown = _text_of(chosen.get("text")) if chosen else ""
        current = f" = {shown}" if shown else ""
        return f"▸ {label}{optional}{current}  [{options}]"
    if kind == "timepicker":
        return f"▸ {label}{optional} = {element.get('initial_time') or '–'}"
    return f"▸ {label}{optional}"


def _shorten(text: str, width: int) -> str:
    return textwrap.shorten(text, width=width, placeholder="…") if text else ""


def plain(mrkdwn: str, style: Style | None = None) -> str:
    """Slack mrkdwn as terminal text: links show their label, *bold* is bold (or plain)."""
    text = _MENTION.sub(lambda m: ("#" if m[1] == "#" else "@") + (m[3] or m[2].lower()), mrkdwn)
    text = _LINK.sub(r"\2", text)
    text = _BARE_LINK.sub(r"\1", text)
    bold = style.bold if style is not None else (lambda t: t)
    text = _BOLD.sub(lambda m: bold(m[1]), text)
    text = _ITALIC.sub(r"\1", text)
    text = _SHORTCODE.sub(lambda m: _EMOJI.get(m[0], m[0]), text)
    return html.unescape(text)
