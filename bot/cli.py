"""The ``baseline`` command line: ``run`` the bot, ``demo`` it without Slack, ``preview`` a
calendar, and the operator's tools (``manifest``, ``keygen``, ``rekey``, ``stats``,
``forget-workspace``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_services
from bot.clock import SystemClock
from bot.demo.run import DemoError, options_from_args, run_in_terminal
from bot.installations import forget_workspace
from bot.logs import configure_logging
from bot.manifest import render_manifest
from bot.preview import plan_as_json, plan_as_text, working_window
from bot.queue import DueQueue
from bot.rekey import Rekeyer, RekeyReport
from bot.serve import build_store, serve
from bot.store import TRANSIENT_ERRORS, connect_redis
from bot.vault import Vault
from config.catalog import CatalogError, load_catalog
from config.settings import Settings, SettingsError, load_settings
from nudges.calendar import CalendarError, busy_intervals
from nudges.clock import ClockRange
from nudges.density import recovery_load
from nudges.planner import plan_day
from nudges.preferences import Preferences

TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,30}")  # a team id, or an org-wide install's enterprise id
EXIT_USAGE = 2
MAX_PREVIEW_DAYS = 31
# Far enough from date.min and date.max that the padding around the window cannot overflow.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage block.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="baseline",
        description="Baseline: well-timed recovery between meetings, in Slack.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    preview = commands.add_parser(
        "preview",
        help="show a day's meetings, chains, load and planned nudges from an ICS file",
        description=(
            "Read a calendar (.ics) and print the day as Baseline sees it: meetings, "
            "back-to-back chains, the recovery-load curve and every nudge it would send."
        ),
    )
    preview.add_argument("ics", type=Path, metavar="FILE.ics", help="an iCalendar file")
    preview.add_argument(
        "--date", dest="day", metavar="YYYY-MM-DD", help="the day to plan (default: today in --tz)"
    )
    preview.add_argument(
        "--tz", required=True, metavar="ZONE", help="IANA time zone, e.g. Europe/Berlin"
    )
    preview.add_argument(
        "--email", metavar="ADDR", help="your address, to skip invitations you declined"
    )
    preview.add_argument(
        "--hours",
        default="09:00-18:00",
        metavar="HH:MM-HH:MM",
        help="working hours (default 09:00-18:00)",
    )
    preview.add_argument("--quiet", metavar="HH:MM-HH:MM", help="quiet hours: no nudges at all")
    preview.add_argument(
        "--days",
        type=int,
        default=1,
        metavar="N",
        help=f"plan N days from --date (1-{MAX_PREVIEW_DAYS})",
    )
    preview.add_argument(
        "--json", action="store_true", help="print JSON (an array when --days > 1)"
    )
    commands.add_parser(
        "run",
        help="run the Slack bot (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT)",
        description=(
            "Run Baseline. Needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and "
            "BASELINE_ENCRYPTION_KEY; REDIS_URL defaults to redis://localhost:6379/0."
        ),
    )
    commands.add_parser(
        "keygen",
        help="print a new encryption key for BASELINE_ENCRYPTION_KEY",
        description=(
            "Print a new Fernet key. To rotate, put the new key first: "
            "BASELINE_ENCRYPTION_KEY=new,old (old data still decrypts)."
        ),
    )
    commands.add_parser(
        "rekey",
        help="re-encrypt stored data under the newest key (key rotation, step 4)",
        description=(
            "Rewrite every encrypted value still under an older key with the first key of "
            "BASELINE_ENCRYPTION_KEY (new,old). Safe while the bot runs and safe to repeat. "
            "Exits 1 if some value opens with none of the keys: then keep the old keys. "
            "The whole procedure: docs/operations.md, 'Key rotation'."
        ),
    )
    forget = commands.add_parser(
        "forget-workspace",
        help="delete everything Baseline keeps about one workspace (as uninstalling does)",
        description=(
            "What app_uninstalled does, by hand: the installation, every person's data, "
            "their planned nudges and the channels' recovery windows of one workspace. "
            "Asks for the workspace's name first unless --yes is given."
        ),
    )
    forget.add_argument("team", help="the workspace's team id (T…)")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    stats = commands.add_parser(
        "stats",
        help="print delivery and sync counters and the queue's depth (reads REDIS_URL)",
        description=(
            "Counters shared by every instance since the Redis was new: nudges planned, "
            "sent, dropped by reason, expired, deduplicated, Slack 429s, calendar syncs; "
            "and what is waiting in the due queue now."
        ),
    )
    stats.add_argument("--json", action="store_true", help="print JSON")
    demo = commands.add_parser(
        "demo",
        help="try Baseline with no Slack: a sample team's day, simulated, in the terminal",
        description=(
            "Run the real bot against a Slack simulator with a sample team of five and their "
            "calendars, on a fast clock, and print the DMs each person gets as they arrive. "
            "Uses REDIS_URL when it is set, else an in-process store."
        ),
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="be one of the team: type /feel 3 tired, /baseline week, or a button's number",
    )
    demo.add_argument(
        "--speed",
        type=float,
        metavar="N",
        help="simulated minutes per real second (default 8; 1 with --interactive)",
    )
    span = demo.add_mutually_exclusive_group()
    span.add_argument(
        "--hours", type=float, metavar="H", help="how much of the day to play (default 12)"
    )
    span.add_argument("--until", metavar="HH:MM", help="play until this time, Berlin time")
    demo.add_argument(
        "--as",
        dest="as_name",
        metavar="NAME",
        help="who you are with --interactive: Maya (default), Jonas, Sam, Ines or Leo",
    )
    manifest = commands.add_parser(
        "manifest",
        help="print the Slack app manifest, ready to paste into api.slack.com/apps",
        description="Print the Slack app manifest with the request URLs filled in.",
    )
    target = manifest.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--url", metavar="https://HOST", help="where Baseline is reachable (HTTP mode)"
    )
    target.add_argument(
        "--socket-mode", action="store_true", help="for Socket Mode (no public URL)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "preview":
            print(preview(args, load_settings()))
        elif args.command == "keygen":
            print(Vault.new_key())
        elif args.command == "manifest":
            try:
                print(render_manifest(args.url, socket_mode=args.socket_mode), end="")
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
        elif args.command == "stats":
            print(asyncio.run(stats_report(load_settings(), as_json=args.json)))
        elif args.command == "rekey":
            report = asyncio.run(rekey(load_settings()))
            print(rekey_text(report))
            return 1 if report.undecryptable else 0
        elif args.command == "forget-workspace":
            if not args.yes:
                confirm_forget(args.team)
            print(asyncio.run(forget_workspace_now(load_settings(), args.team)))
        elif args.command == "demo":
            environment = load_settings()
            try:
                options = options_from_args(
                    interactive=args.interactive,
                    speed=args.speed,
                    hours=args.hours,
                    until=args.until,
                    as_name=args.as_name,
                    environment=environment,
                )
                # Only warnings: the terminal is the demo's own output.
                configure_logging(environment.model_copy(update={"log_level": "WARNING"}))
                run_event_loop(run_in_terminal(options))
            except DemoError as exc:
                raise UsageError(str(exc)) from None
        elif args.command == "run":
            settings = load_settings()
            settings.require_bot()
            configure_logging(settings)
            run_event_loop(serve(settings))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return 0
    except KeyboardInterrupt:
        return 0
    except (UsageError, CalendarError, CatalogError, SettingsError) as exc:
        print(f"baseline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left (`baseline preview ... | head`): stop quietly, and point stdout
        # at /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


async def stats_report(settings: Settings, *, as_json: bool) -> str:
    """``baseline stats``: the shared counters and the queue's depth, from Redis."""
    redis = connect_redis(settings, timeout=settings.redis_timeout_seconds * 5)
    try:
        queue = DueQueue(redis, shards=settings.queue_shards)
        counters = await queue.counters.read()
        depth = await queue.depth()
    except TRANSIENT_ERRORS as exc:
        raise UsageError(unreachable(exc)) from None
    finally:
        await redis.aclose()
    queued = {
        "scheduled": depth.scheduled,
        "ready": depth.ready,
        "leased": depth.leased,
        "oldest_due": None if depth.oldest_due is None else depth.oldest_due.isoformat(),
    }
    if as_json:
        return json.dumps({"counters": counters, "queue": queued}, indent=2)
    width = max((len(name) for name in counters), default=0)
    lines = ["Counters (all instances):"]
    lines += [f"  {name:<{width}}  {value:>10,}" for name, value in counters.items()] or [
        "  none yet"
    ]
    lines.append("Queue now:")
    lines += [f"  {name:<10}  {value}" for name, value in queued.items()]
    return "\n".join(lines)


async def rekey(settings: Settings) -> RekeyReport:
    """``baseline rekey``: one pass of :class:`~bot.rekey.Rekeyer` over REDIS_URL."""
    keys = settings.fernet_keys()
    if not keys:
        raise UsageError("setting BASELINE_ENCRYPTION_KEY is missing: give it as new,old")
    if len(keys) == 1:
        # Harmless, but almost surely a mistake: with one key there is nothing to rotate from.
        print(
            "baseline: note: one key given, so nothing can be under an older one", file=sys.stderr
        )
    redis = connect_redis(settings, timeout=settings.redis_timeout_seconds * 5)
    try:
        return await Rekeyer(redis, Vault(keys)).run()
    except TRANSIENT_ERRORS as exc:
        raise UsageError(unreachable(exc)) from None
    finally:
        await redis.aclose()


def unreachable(exc: BaseException) -> str:
    return f"Redis at REDIS_URL could not be reached ({type(exc).__name__})"


def rekey_text(report: RekeyReport) -> str:
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(report.by_type.items()))
    rows = [
        ("Keys scanned", report.keys_scanned, ""),
        ("Re-encrypted", report.reencrypted, f"  ({kinds})" if kinds else ""),
        ("Already under the newest key", report.already_current, ""),
        ("Changed meanwhile (left as written)", report.changed_meanwhile, ""),
        ("Could not decrypt with any key", report.undecryptable, ""),
    ]
    lines = [f"{name + ':':<37}{count:>10,}{extra}" for name, count, extra in rows]
    if report.undecryptable:
        lines.append(
            "Some values open with none of the configured keys: keep every old key you still "
            "have, and do not drop any."
        )
    elif report.reencrypted == 0:
        lines.append("Everything is under the newest key: older keys can be dropped.")
    else:
        lines.append("Run it once more; when nothing is re-encrypted, older keys can be dropped.")
    return "\n".join(lines)


def confirm_forget(team: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError("forget-workspace deletes data for good: add --yes to confirm")
    answer = input(f"Delete everything Baseline keeps about workspace {team}? Type its id: ")
    if answer.strip() != team:
        raise UsageError("not confirmed; nothing was deleted")


async def forget_workspace_now(settings: Settings, team: str) -> str:
    """``baseline forget-workspace``: :func:`bot.installations.forget_workspace` by hand."""
    if not TEAM_ID.fullmatch(team):
        raise UsageError(f"{team!r} is not a team id (T followed by letters and digits)")
    if not settings.fernet_keys():
        raise UsageError("setting BASELINE_ENCRYPTION_KEY is missing")
    store = build_store(settings)
    # No Slack call is made: a placeholder client keeps single-workspace settings valid
    # without SLACK_BOT_TOKEN.
    services = build_services(
        settings, store=store, clock=SystemClock(), client=AsyncWebClient(token=None)
    )
    try:
        gone = await forget_workspace(services, team)
    except TRANSIENT_ERRORS as exc:
        raise UsageError(unreachable(exc)) from None
    finally:
        await store.redis.aclose()
    return (
        f"Workspace {team} forgotten: {gone.people} people, {gone.channels} channels, "
        f"{gone.keys} keys deleted."
    )


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the bot on uvloop where it is installed (a faster event loop), else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional, platform-specific
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def preview(args: argparse.Namespace, settings: Settings) -> str:
    tz = _zone(args.tz)
    first = _day(args.day) if args.day else datetime.now(tz).date()
    if not 1 <= args.days <= MAX_PREVIEW_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_PREVIEW_DAYS}")
    if first < EARLIEST_DAY or first + timedelta(days=args.days - 1) > LATEST_DAY:
        raise UsageError(f"--date must be between {EARLIEST_DAY} and {LATEST_DAY}")
    hours = _clock_range("--hours", args.hours)
    quiet = _clock_range("--quiet", args.quiet) if args.quiet else None
    raw = _read_feed(args.ics, settings.calendar.max_bytes)
    last = first + timedelta(days=args.days - 1)
    # One more day, so a chain at the end of the last day knows when the next meeting starts.
    busy = busy_intervals(
        raw,
        first_day=first,
        last_day=last + timedelta(days=1),
        tz=tz,
        email=args.email,
        limits=settings.calendar,
    )
    catalog = load_catalog(settings.catalog_path)
    preferences = Preferences(tz=tz, working_hours=hours, quiet_hours=quiet)
    # A preview shows the whole day, so "now" is the start of the first day.
    now = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    seconds = {p.id: p.seconds for p in catalog.practices}
    outputs: list[object] = []
    for offset in range(args.days):
        day = first + timedelta(days=offset)
        plan = plan_day(
            day, busy, preferences=preferences, policy=settings.planning, catalog=catalog, now=now
        )
        start, end = working_window(day, tz, hours)
        load = recovery_load(busy, start=start, end=end, model=settings.load_model)
        if args.json:
            outputs.append(plan_as_json(plan, tz=tz, load=load))
        else:
            outputs.append(
                plan_as_text(plan, tz=tz, load=load, hours=str(hours), practice_seconds=seconds)
            )
    if args.json:
        return json.dumps(outputs[0] if args.days == 1 else outputs, ensure_ascii=False, indent=2)
    return "\n\n".join(str(o) for o in outputs)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe" is a folder
        raise UsageError(
            f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"
        ) from exc


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--date {text!r} is not a date like 2026-11-23") from exc


def _clock_range(flag: str, text: str) -> ClockRange:
    try:
        return ClockRange.parse(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r} is not a time range like 09:00-17:30") from exc


def _read_feed(path: Path, max_bytes: int) -> bytes:
    """Read at most one byte past the limit, so a huge file costs no memory to refuse."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a directory, not an .ics file") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from exc
    if len(raw) > max_bytes:
        size = path.stat().st_size  # 0 for a pipe or a device: then say only the limit
        amount = f"{size / 1e6:.1f} MB; " if size > max_bytes else ""
        raise CalendarError(
            f"the calendar is too big ({amount}the limit is {max_bytes / 1e6:.1f} MB)"
        )
    return raw


if __name__ == "__main__":
    sys.exit(main())
