"""Every Redis key Baseline writes, in one place.

Per-person keys share the hash tag ``{p:<team>:<user>}`` so all of a person's keys sit in
one Redis Cluster slot: multi-key operations (MULTI/EXEC, forget) never go CROSSSLOT, and
``forget`` can find them all by one pattern.
"""

from __future__ import annotations

import re

PREFIX = "bl"
# The characters SCAN's MATCH treats specially; a backslash escapes the next character.
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def person_tag(team: str, user: str) -> str:
    return f"{{p:{team}:{user}}}"


def profile(team: str, user: str) -> str:
    """JSON Profile (opt-in, preferences, time zone)."""
    return f"{PREFIX}:{person_tag(team, user)}:profile"


def feelings(team: str, user: str) -> str:
    """Sorted set of encrypted FeelEntry JSON, scored by the log's UTC timestamp."""
    return f"{PREFIX}:{person_tag(team, user)}:feel"


def outcomes(team: str, user: str) -> str:
    """Sorted set of OutcomeRecord JSON (what the person did with each nudge), by timestamp."""
    return f"{PREFIX}:{person_tag(team, user)}:outcomes"


def ratings(team: str, user: str) -> str:
    """Hash ``<practice id>:helped`` / ``<practice id>:unhelpful`` → count (👍 / 👎)."""
    return f"{PREFIX}:{person_tag(team, user)}:ratings"


def fewer(team: str, user: str) -> str:
    """Set of practice themes the person asked for fewer of."""
    return f"{PREFIX}:{person_tag(team, user)}:fewer"


def reflections(team: str, user: str) -> str:
    """Hash ISO week → encrypted JSON of the week's reflection answers."""
    return f"{PREFIX}:{person_tag(team, user)}:reflections"


def calendar(team: str, user: str) -> str:
    """Encrypted ICS address (a password: never stored or logged in clear)."""
    return f"{PREFIX}:{person_tag(team, user)}:calendar"


def busy(team: str, user: str) -> str:
    """Encrypted JSON of the person's busy intervals, as last read from their calendar."""
    return f"{PREFIX}:{person_tag(team, user)}:busy"


def dm_channel(team: str, user: str) -> str:
    """The person's DM channel id (conversations.open is rate-limited, so it is cached)."""
    return f"{PREFIX}:{person_tag(team, user)}:dm"


def sent_nudges(team: str, user: str) -> str:
    """Hash nudge key → JSON of the sent nudge (channel, ts, practice), for button clicks."""
    return f"{PREFIX}:{person_tag(team, user)}:sent"


def support_offered(team: str, user: str) -> str:
    """Marker that support resources were offered for the current low streak."""
    return f"{PREFIX}:{person_tag(team, user)}:support"


def person_prefix(team: str, user: str) -> str:
    """What every key of one person starts with."""
    return f"{PREFIX}:{person_tag(team, user)}:"


def person_pattern(team: str, user: str) -> str:
    """A SCAN pattern that matches every key of one person (used by forget and export).

    Glob characters in the ids (``*?[]`` and the escape ``\\`` itself) are escaped, so the
    pattern matches this person's keys literally. It can still match a key of an id that
    extends this one past the tag's ``}`` (user ``U}:x``); :func:`is_person_key` tells them apart.
    """
    return _GLOB_SPECIAL.sub(r"\\\1", person_prefix(team, user)) + "*"


def is_person_key(team: str, user: str, key: str) -> bool:
    """Whether ``key`` is one of this person's keys (not one of a longer id's)."""
    prefix = person_prefix(team, user)
    return key.startswith(prefix) and "}" not in key[len(prefix) :]


def event_seen(event_id: str) -> str:
    """Dedupe marker for Events API retries (SET NX EX)."""
    return f"{PREFIX}:event:{event_id}"
