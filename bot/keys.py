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


# --- the due queue (bot/queue.py): one hash tag per shard, so each script stays in one slot --


def _shard(shard: int) -> str:
    return f"{PREFIX}:q:{{q{shard}}}"


def queue_at(shard: int) -> str:
    """Sorted set job id → send time (UTC epoch seconds): pending, not due yet."""
    return f"{_shard(shard)}:at"


def queue_ready(shard: int) -> str:
    """Sorted set job id → deadline: due, waiting to be claimed (closest deadline first)."""
    return f"{_shard(shard)}:ready"


def queue_leased(shard: int) -> str:
    """Sorted set job id → lease expiry: claimed by an instance that is sending it."""
    return f"{_shard(shard)}:leased"


def queue_jobs(shard: int) -> str:
    """Hash job id → JSON payload (team, user, nudge, at, deadline)."""
    return f"{_shard(shard)}:jobs"


def queue_owner(shard: int) -> str:
    """Hash job id → the lease token of the claim that holds it."""
    return f"{_shard(shard)}:owner"


def queue_person_prefix(shard: int) -> str:
    return f"{_shard(shard)}:p:"


def queue_person(shard: int, team: str, user: str) -> str:
    """Set of one person's pending job ids (what a re-plan replaces)."""
    return f"{queue_person_prefix(shard)}{team}:{user}"


def queue_done_prefix(shard: int) -> str:
    return f"{_shard(shard)}:done:"


def queue_done(shard: int, team: str, user: str) -> str:
    """Hash nudge key → ``sending:<expiry>`` / ``sent:<expiry>``: the idempotency record."""
    return f"{queue_done_prefix(shard)}{team}:{user}"


def counters() -> str:
    """Hash of delivery and sync counters (``baseline stats``)."""
    return f"{PREFIX}:stats"


def rate_bucket(team: str) -> str:
    """Hash: the workspace's token bucket for chat.postMessage (tokens, updated, paused until)."""
    return f"{PREFIX}:rate:{{{team}}}"


def day_starts(shard: int) -> str:
    """Sorted set ``<team>:<user>`` → the person's next local midnight (day-start re-plan)."""
    return f"{_shard(shard)}:daystart"


# --- calendar sync (bot/sync.py) -------------------------------------------------------------


def sync_state(team: str, user: str) -> str:
    """Small hash: the person's calendar-sync state (validators, content hash, failures)."""
    return f"{PREFIX}:{person_tag(team, user)}:sync"


def sync_schedule(shard: int) -> str:
    """Sorted set ``<team>:<user>`` → next calendar sync (UTC epoch seconds), one per shard;
    a claimed member's score is pushed to its lease expiry while it syncs."""
    return f"{PREFIX}:sync:{{s{shard}}}"


# --- live signals (bot/live.py) -----------------------------------------------------------


def live(team: str, user: str) -> str:
    """Hash: since when the person is in a huddle (``huddle``) or a status-marked meeting
    (``status``, and ``status:until``, the status's expiry), as UTC epoch seconds."""
    return f"{PREFIX}:{person_tag(team, user)}:live"


def dnd(team: str, user: str) -> str:
    """The person's dnd.info answer (JSON), cached for a few minutes."""
    return f"{PREFIX}:{person_tag(team, user)}:dnd"


def sync_email(team: str, user: str) -> str:
    """The person's encrypted e-mail address while a calendar is connected: the calendar
    parser drops the invitations they declined."""
    return f"{PREFIX}:{person_tag(team, user)}:email"


# --- team recovery windows and the team view (bot/windows.py, bot/team_view.py) ------------


def _channel_tag(team: str, channel: str) -> str:
    return f"{{c:{team}:{channel}}}"


def channel_windows(team: str, channel: str) -> str:
    """Hash window id → RecoveryWindow JSON: the channel's recovery windows."""
    return f"{PREFIX}:{_channel_tag(team, channel)}:windows"


def channel_members(team: str, channel: str) -> str:
    """Set of the user ids in a channel that has windows (from conversations.members and
    member join/leave events)."""
    return f"{PREFIX}:{_channel_tag(team, channel)}:members"


def member_channels(team: str, user: str) -> str:
    """Set of the channels with windows the person is in: what their re-plan subtracts.
    Outside the person's hash tag: it is Slack's membership list, not the person's data."""
    return f"{PREFIX}:wm:{{{team}}}:{user}"


def window_edges(shard: int) -> str:
    """Sorted set ``<team>:<channel>:<window id>`` → the window's next start, end or weekly
    digest (UTC epoch seconds); a claimed member is pushed to its lease expiry."""
    return f"{PREFIX}:we:{{e{shard}}}"


def window_announced(team: str, channel: str, window: str, day: str, edge: str) -> str:
    """SET NX marker: this edge of this occurrence was announced (exactly once)."""
    return f"{PREFIX}:{_channel_tag(team, channel)}:ann:{window}:{day}:{edge}"


def lead_group(team: str, handle: str) -> str:
    """JSON list of a user group's members (usergroups.users.list), cached for minutes."""
    return f"{PREFIX}:leads:{{{team}}}:{handle}"


def answered_groups(team: str, figure: str) -> str:
    """Hash digest → JSON list of hashed member ids: every group a team figure was shown
    for in this workspace (the differencing guard)."""
    return f"{PREFIX}:answered:{{{team}}}:{figure}"


# --- installations, many workspaces (bot/installations.py) -----------------------------------
# One hash tag per installed workspace (or per organisation, for an org-wide install), so all
# of an installation's keys sit in one Redis Cluster slot and go in one MULTI/EXEC.


def _workspace_tag(workspace: str) -> str:
    return f"{{w:{workspace}}}"


def installation_bot(workspace: str) -> str:
    """The workspace's bot installation (encrypted JSON: it holds the bot token)."""
    return f"{PREFIX}:{_workspace_tag(workspace)}:bot"


def installation_latest(workspace: str) -> str:
    """The workspace's latest installation (encrypted JSON: bot and installer tokens)."""
    return f"{PREFIX}:{_workspace_tag(workspace)}:installer"


def installation_of(workspace: str, user: str) -> str:
    """One installer's latest installation (encrypted JSON), for user-token revocation."""
    return f"{PREFIX}:{_workspace_tag(workspace)}:installer:{user}"


def installation_users(workspace: str) -> str:
    """Set of the user ids with an installation of their own (what uninstall deletes)."""
    return f"{PREFIX}:{_workspace_tag(workspace)}:users"


def oauth_state(state: str) -> str:
    """An OAuth ``state`` handed out by /slack/install: SET with expiry, consumed by GETDEL."""
    return f"{PREFIX}:oauth:state:{state}"


def workspace_pattern(team: str) -> str:
    """A SCAN pattern for every key that may belong to workspace ``team``: any key whose hash
    tag starts with the team id (``{p:T…``, ``{c:T…``, ``{T}``, ``{w:T}``, a queue shard's
    ``p:T:…``). It over-matches on purpose (other ids that contain this one); the caller
    sorts the keys out exactly."""
    escaped = _GLOB_SPECIAL.sub(r"\\\1", team)
    return f"{PREFIX}:*{escaped}[:}}]*"
