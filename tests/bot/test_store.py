"""The Redis store against a real redis-server: every method, encryption at rest, retention,
forget, key rotation, an unreachable Redis, and MULTI/EXEC atomicity.

Every test that only needs a working Redis runs twice: on the single server and on the
three-node cluster (``any_redis``), so each store method is proven free of CROSSSLOT errors.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Connection, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from bot import keys
from bot.models import Profile, SentNudge
from bot.store import (
    RedisClient,
    Store,
    StoreUnavailableError,
    SyncInputs,
    SyncState,
    person_seed,
)
from bot.vault import Vault, VaultError
from nudges.catalog import PracticeFeedback, PracticeTheme
from nudges.clock import BusyInterval, ClockRange
from nudges.feelings import MAX_NOTE, FeelEntry, Weighed
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences, ReflectionTime
from tests.support.redis_server import RedisServer

KEY = "hD3t4l0l2l3o4tq3Q5cHh0ZxXx9xXb4T3p2E1n0a9mM="  # fixed valid Fernet keys
OLD_KEY = "q0xkdPZ8HUhS-2U1bOmwjUGAtRKs8VbUMPeDVDl2Yx0="
OTHER_KEY = "3rdNZ3cKrURY9MJ8mFSxg7fOqO2a93uC8rF1R3OkUOM="
TEAM = "T1"
USER = "U1"
OTHER = "U2"
RETENTION = timedelta(days=30)
T0 = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
EPOCH = datetime.fromtimestamp(0, tz=UTC)
URL = "https://calendar.example.com/private-5ecret-t0ken/basic.ics"


def make_store(redis: RedisClient, *keys_: str, retention: timedelta = RETENTION) -> Store:
    return Store(redis, Vault(list(keys_) or [KEY]), retention=retention)


# Runs the tests on the single Redis and on the cluster, in place of the shared `redis`.
@pytest.fixture(name="redis")
def single_and_cluster_redis(any_redis: RedisClient) -> RedisClient:
    return any_redis


# For the tests that cut connections of the single server's own pool: a cluster client keeps
# its connections per node, behind its own retry and re-discovery, which is not what they test.
single_redis_only = pytest.mark.parametrize("any_redis", ["single"], indirect=True)


@pytest.fixture
def store(redis: RedisClient) -> Store:
    return make_store(redis)


def feel(at: datetime, score: int = 3, note: str | None = None) -> FeelEntry:
    return FeelEntry(at=at, score=score, note=note)


def outcome(key: str, at: datetime, kind: Outcome = Outcome.DONE) -> OutcomeRecord:
    return OutcomeRecord(key=key, at=at, outcome=kind, practice="box-breathing", helped=True)


def sent_nudge(key: str, at: datetime = T0) -> SentNudge:
    nudge = Nudge(
        kind=NudgeKind.RESET,
        key=key,
        at=at,
        expires_at=at + timedelta(minutes=30),
        text="Two minutes: unclench your jaw.",
        practice="jaw",
    )
    return SentNudge(nudge=nudge, channel="D1", ts="1700000000.000100", sent_at=at)


async def all_keys(redis: RedisClient) -> list[bytes]:
    return sorted([k async for k in redis.scan_iter(match="*")])


async def keys_with(redis: RedisClient, text: str) -> list[bytes]:
    """Every key containing ``text`` literally (no glob: compared in Python)."""
    return [k for k in await all_keys(redis) if text.encode() in k]


async def dump(redis: RedisClient, found: Iterable[bytes]) -> dict[bytes, bytes | None]:
    return {k: await redis.dump(k) for k in found}


# --- profile ---------------------------------------------------------------------------------


async def test_profile_is_the_default_when_absent(store: Store, redis: RedisClient) -> None:
    assert await store.profile(TEAM, USER) == Profile()
    assert await all_keys(redis) == []  # reading does not create anything


async def test_profile_round_trips(store: Store) -> None:
    profile = Profile(
        opted_in=True,
        tz_from_slack=True,
        preferences=Preferences(
            tz=ZoneInfo("America/New_York"),
            working_hours=ClockRange(start=time(8), end=time(16, 30)),
            quiet_hours=ClockRange(start=time(22), end=time(7)),
            paused_until=T0 + timedelta(days=2),
            reflection=ReflectionTime(weekday=0, at=time(9, 15)),
            resets=False,
        ),
    )
    await store.save_profile(TEAM, USER, profile)

    assert await store.profile(TEAM, USER) == profile
    assert await store.profile(TEAM, OTHER) == Profile()


# --- feelings --------------------------------------------------------------------------------


async def test_feelings_come_back_in_time_order_from_since(store: Store) -> None:
    entries = [feel(T0 + timedelta(hours=h), score=1 + h % 5, note=f"n{h}") for h in range(6)]
    for entry in (entries[3], entries[0], entries[5], entries[1], entries[4], entries[2]):
        await store.log_feeling(TEAM, USER, entry)

    assert await store.feelings(TEAM, USER, since=EPOCH) == entries
    # `since` is inclusive: an entry logged exactly then is included.
    assert await store.feelings(TEAM, USER, since=entries[2].at) == entries[2:]
    assert await store.feelings(TEAM, USER, since=entries[5].at + timedelta(seconds=1)) == []
    assert await store.feelings(TEAM, OTHER, since=EPOCH) == []


async def test_feel_notes_are_encrypted_at_rest(store: Store, redis: RedisClient) -> None:
    await store.log_feeling(TEAM, USER, feel(T0, score=2, note="my manager Kim yelled"))

    [raw] = await redis.zrange(keys.feelings(TEAM, USER), 0, -1)
    assert isinstance(raw, bytes)
    assert b"Kim" not in raw
    assert b"score" not in raw  # the whole entry is sealed, not just the note
    assert json.loads(Vault([KEY]).open(raw))["note"] == "my manager Kim yelled"


async def test_old_feelings_are_dropped_on_the_next_write_and_the_key_expires(
    store: Store, redis: RedisClient
) -> None:
    now = T0 + timedelta(days=100)
    boundary = feel(now - RETENTION, score=4, note="exactly at the edge")
    too_old = feel(now - RETENTION - timedelta(seconds=1), score=1, note="too old")
    await store.log_feeling(TEAM, USER, too_old)
    await store.log_feeling(TEAM, USER, boundary)
    # Nothing is dropped until a write whose time puts them past retention.
    assert await store.feelings(TEAM, USER, since=EPOCH) == [too_old, boundary]

    latest = feel(now, score=5)
    await store.log_feeling(TEAM, USER, latest)

    assert await store.feelings(TEAM, USER, since=EPOCH) == [boundary, latest]
    assert await redis.zcard(keys.feelings(TEAM, USER)) == 2
    ttl = await redis.ttl(keys.feelings(TEAM, USER))
    assert RETENTION.total_seconds() - 86_400 < ttl <= RETENTION.total_seconds()


async def test_log_feeling_and_recent_reads_back_the_window_and_the_last_few(
    store: Store, redis: RedisClient
) -> None:
    earlier = [feel(T0 + timedelta(days=d), score=1 + d % 5, note=f"day {d}") for d in range(5)]
    for entry in earlier:
        await store.log_feeling(TEAM, USER, entry)
    await store.log_feeling(TEAM, OTHER, feel(T0 + timedelta(days=4, hours=1), note="other"))
    new = feel(T0 + timedelta(days=5), score=1, note="today")

    window, latest = await store.log_feeling_and_recent(
        TEAM, USER, new, since=T0 + timedelta(days=3)
    )

    # What a reply needs: times and scores, never the private notes.
    def bare(entries: list[FeelEntry]) -> list[FeelEntry]:
        return [e.model_copy(update={"note": None}) for e in entries]

    assert window == bare([*earlier[3:], new])
    assert latest == bare([*earlier[3:], new])  # the last three, oldest first
    assert all(e.note is None for e in window + latest)
    assert await store.feelings(TEAM, USER, since=EPOCH) == [*earlier, new]  # notes kept
    _, last_two = await store.log_feeling_and_recent(
        TEAM, USER, feel(T0 + timedelta(days=6)), since=EPOCH, last=2
    )
    assert last_two == bare([new, feel(T0 + timedelta(days=6))])
    # Retention applies as in log_feeling: the write drops what it puts past retention.
    far = feel(T0 + RETENTION + timedelta(days=4, hours=12), score=5)
    window, latest = await store.log_feeling_and_recent(TEAM, USER, far, since=EPOCH)
    assert window == bare([*earlier[5:], new, feel(T0 + timedelta(days=6)), far])
    assert latest == bare([new, feel(T0 + timedelta(days=6)), far])
    assert 0 < await redis.ttl(keys.feelings(TEAM, USER)) <= RETENTION.total_seconds()


class CountingVault(Vault):
    def __init__(self, keys_: list[str]) -> None:
        super().__init__(keys_)
        self.opened = 0

    def open(self, token: bytes) -> str:
        self.opened += 1
        return super().open(token)


async def test_each_stored_log_is_decrypted_once_per_process_and_the_cache_is_bounded(
    redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = CountingVault([Vault.new_key()])
    writer = Store(redis, vault, retention=RETENTION)
    for d in range(4):
        await writer.log_feeling(TEAM, USER, feel(T0 + timedelta(hours=d), note=f"n{d}"))
    reader = Store(redis, vault, retention=RETENTION)  # another process: nothing cached yet
    await reader.log_feeling_and_recent(TEAM, USER, feel(T0 + timedelta(hours=5)), since=EPOCH)
    assert vault.opened == 4  # the four older logs; never the one just written
    await reader.log_feeling_and_recent(TEAM, USER, feel(T0 + timedelta(hours=6)), since=EPOCH)
    assert vault.opened == 4  # all known now

    monkeypatch.setattr("bot.store.SCORE_CACHE_SIZE", 3)
    await reader.log_feeling_and_recent(TEAM, USER, feel(T0 + timedelta(hours=7)), since=EPOCH)
    assert len(reader._scores) == 3


FEEL_ENTRIES = st.builds(
    FeelEntry,
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
        ),
    ),
    score=st.integers(min_value=1, max_value=5),
    weighed=st.none() | st.sampled_from(Weighed),
    note=st.none() | st.text(max_size=MAX_NOTE),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(entry=FEEL_ENTRIES)
@example(entry=FeelEntry(at=T0, score=1, note="é" * MAX_NOTE))
@example(entry=FeelEntry(at=T0, score=5, note="👩🏽‍💻🙂\u200b\x00\n\"'\\{}%s" * 30))
async def test_any_feel_entry_round_trips_exactly(redis: RedisClient, entry: FeelEntry) -> None:
    store = make_store(redis)
    await redis.delete(keys.feelings(TEAM, USER))

    await store.log_feeling(TEAM, USER, entry)

    [back] = await store.feelings(TEAM, USER, since=entry.at)
    # Same JSON: same local time and offset, score, weighed and note, character for character.
    assert back.model_dump_json() == entry.model_dump_json()
    assert back.at.timestamp() == entry.at.timestamp()
    # (Not `back == entry`: Python's == between zones is False for a time in a DST fold.)
    assert back == entry.model_copy(update={"at": back.at})


# --- outcomes and ratings --------------------------------------------------------------------


async def test_outcomes_round_trip_in_order_with_since_and_retention(
    store: Store, redis: RedisClient
) -> None:
    first = outcome("2026-11-23:reset:1", T0, Outcome.SNOOZED)
    second = outcome("2026-11-23:reset:2", T0 + timedelta(hours=2), Outcome.NOT_NOW)
    await store.record_outcome(TEAM, USER, second)
    await store.record_outcome(TEAM, USER, first)

    assert await store.outcomes(TEAM, USER, since=EPOCH) == [first, second]
    assert await store.outcomes(TEAM, USER, since=second.at) == [second]
    assert await store.outcomes(TEAM, OTHER, since=EPOCH) == []

    later = outcome("2026-12-30:reset:1", T0 + RETENTION + timedelta(hours=1))
    await store.record_outcome(TEAM, USER, later)
    assert await store.outcomes(TEAM, USER, since=EPOCH) == [second, later]
    assert 0 < await redis.ttl(keys.outcomes(TEAM, USER)) <= RETENTION.total_seconds()


async def test_practice_history_counts_ratings_and_fewer_themes(store: Store) -> None:
    for helped in (True, True, False):
        await store.rate_practice(TEAM, USER, "box-breathing", helped=helped)
    await store.rate_practice(TEAM, USER, "walk:outside", helped=False)  # ids may hold ":"
    await store.ask_fewer(TEAM, USER, PracticeTheme.WALK)
    await store.ask_fewer(TEAM, USER, PracticeTheme.WALK)
    await store.ask_fewer(TEAM, USER, PracticeTheme.EYES)
    await store.rate_practice(TEAM, OTHER, "box-breathing", helped=False)

    history = await store.practice_history(TEAM, USER)

    assert dict(history.feedback) == {
        "box-breathing": PracticeFeedback(helped=2, unhelpful=1),
        "walk:outside": PracticeFeedback(helped=0, unhelpful=1),
    }
    assert history.fewer == frozenset({PracticeTheme.WALK, PracticeTheme.EYES})
    assert history.seed == person_seed(TEAM, USER)


async def test_practice_history_of_nobody_is_empty_and_skips_unknown_themes(
    store: Store, redis: RedisClient
) -> None:
    empty = await store.practice_history(TEAM, USER)
    assert dict(empty.feedback) == {}
    assert empty.fewer == frozenset()

    await redis.sadd(keys.fewer(TEAM, USER), b"a-theme-since-removed", b"body")
    assert (await store.practice_history(TEAM, USER)).fewer == {PracticeTheme.BODY}


def test_person_seed_is_stable_and_differs_between_people() -> None:
    # Pinned: the seed must not change between releases or processes (it is not hash()),
    # or everyone's practice rotation would reshuffle on a deploy.
    assert person_seed("T1", "U1") == 7_524_813_332_599_000_731
    assert person_seed("T1", "U1") == person_seed("T1", "U1")
    seeds = {person_seed(team, user) for team in ("T1", "T2") for user in ("U1", "U2", "U3")}
    assert len(seeds) == 6


# --- reflections, calendar, busy time --------------------------------------------------------


async def test_reflections_round_trip_encrypted_and_sorted_by_week(
    store: Store, redis: RedisClient
) -> None:
    later = {"progress": "shipped the thing", "capacity": "Fridays are for nobody 🙃"}
    earlier = {"regulation": "snapped at Jo in the 1:1"}
    await store.save_reflection(TEAM, USER, "2026-W48", later)
    await store.save_reflection(TEAM, USER, "2026-W47", earlier)

    back = await store.reflections(TEAM, USER)
    assert back == {"2026-W47": earlier, "2026-W48": later}
    assert list(back) == ["2026-W47", "2026-W48"]
    assert await store.reflections(TEAM, OTHER) == {}

    raw = await redis.hgetall(keys.reflections(TEAM, USER))
    for answer in ("shipped", "Jo in the", "Fridays", "progress", "regulation"):
        assert all(answer.encode() not in value for value in raw.values())
    assert 0 < await redis.ttl(keys.reflections(TEAM, USER)) <= RETENTION.total_seconds()


async def test_calendar_address_is_encrypted_and_can_be_cleared(
    store: Store, redis: RedisClient
) -> None:
    assert await store.calendar_url(TEAM, USER) is None
    assert await store.clear_calendar(TEAM, USER) is False

    await store.set_calendar(TEAM, USER, URL)

    assert await store.calendar_url(TEAM, USER) == URL
    raw = await redis.get(keys.calendar(TEAM, USER))
    assert raw is not None
    assert b"5ecret" not in raw
    assert b"calendar.example.com" not in raw
    assert await store.calendar_url(TEAM, OTHER) is None

    assert await store.clear_calendar(TEAM, USER) is True
    assert await store.calendar_url(TEAM, USER) is None


async def test_busy_intervals_round_trip_encrypted(store: Store, redis: RedisClient) -> None:
    assert await store.busy(TEAM, USER) == []
    busy = [
        BusyInterval(start=T0, end=T0 + timedelta(minutes=30)),
        BusyInterval(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2, seconds=1)),
    ]
    await store.save_busy(TEAM, USER, busy)

    assert await store.busy(TEAM, USER) == busy
    raw = await redis.get(keys.busy(TEAM, USER))
    assert raw is not None
    assert T0.isoformat().encode()[:10] not in raw
    assert 0 < await redis.ttl(keys.busy(TEAM, USER)) <= RETENTION.total_seconds()

    await store.save_busy(TEAM, USER, busy[1:])  # replaces, does not add
    assert await store.busy(TEAM, USER) == busy[1:]
    await store.save_busy(TEAM, USER, [])
    assert await store.busy(TEAM, USER) == []


# --- calendar sync state ---------------------------------------------------------------------


async def test_calendar_sync_state_round_trips_and_commits_only_under_its_generation(
    store: Store,
) -> None:
    busy = [BusyInterval(start=T0, end=T0 + timedelta(hours=1))]
    await store.save_profile(TEAM, USER, Profile(opted_in=True))
    await store.connect_calendar(
        TEAM, USER, url=URL, state=SyncState(generation="g1", etag="e1"),
        email="me@example.com", busy=busy,
    )  # fmt: skip

    # A batch of claimed syncs reads everyone in one round trip (on a cluster, every slot).
    inputs = await store.sync_inputs_many([(TEAM, USER), (TEAM, OTHER)])
    assert [i.url for i in inputs] == [URL, None]
    assert [i.state for i in inputs] == [SyncState(generation="g1", etag="e1"), SyncState()]
    assert [i.profile for i in inputs] == [Profile(opted_in=True), Profile()]
    assert await store.sync_inputs(TEAM, USER) == inputs[0]
    assert await store.sync_email(TEAM, USER) == "me@example.com"
    assert await store.busy(TEAM, USER) == busy

    later = [BusyInterval(start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3))]
    committed = SyncState(generation="g1", content_hash="h")
    assert await store.commit_sync(TEAM, USER, committed, busy=later)
    assert await store.sync_state(TEAM, USER) == committed  # the old ETag is gone
    assert await store.busy(TEAM, USER) == later
    # A sync that began under an earlier connection writes nothing.
    assert not await store.commit_sync(TEAM, USER, SyncState(generation="g0", failures=3))
    assert await store.sync_state(TEAM, USER) == committed

    assert await store.disconnect_calendar(TEAM, USER) is True
    assert await store.disconnect_calendar(TEAM, USER) is False
    assert await store.sync_inputs(TEAM, USER) == SyncInputs(
        url=None, state=SyncState(), profile=Profile(opted_in=True)
    )
    assert await store.sync_email(TEAM, USER) is None
    assert await store.person_keys(TEAM, USER) == [keys.profile(TEAM, USER).encode()]
    # Nothing commits once the calendar is gone.
    assert not await store.commit_sync(TEAM, USER, committed, busy=later)
    assert await store.busy(TEAM, USER) == []


# --- Slack plumbing --------------------------------------------------------------------------


async def test_dm_channel_is_cached_per_person(store: Store) -> None:
    assert await store.dm_channel(TEAM, USER) is None
    await store.remember_dm_channel(TEAM, USER, "D0123")
    assert await store.dm_channel(TEAM, USER) == "D0123"
    assert await store.dm_channel(TEAM, OTHER) is None


async def test_sent_nudges_are_kept_by_key_for_two_weeks(store: Store, redis: RedisClient) -> None:
    one, two = sent_nudge("2026-11-23:reset:1"), sent_nudge("2026-11-23:reset:2")
    await store.remember_sent(TEAM, USER, one)
    await store.remember_sent(TEAM, USER, two)

    assert await store.sent(TEAM, USER, one.key) == one
    assert await store.sent(TEAM, USER, two.key) == two
    assert await store.sent(TEAM, USER, "2026-11-23:reset:3") is None
    assert await store.sent(TEAM, OTHER, one.key) is None
    ttl = await redis.ttl(keys.sent_nudges(TEAM, USER))
    assert 13 * 86_400 < ttl <= 14 * 86_400


async def test_support_is_offered_once_until_cleared(store: Store) -> None:
    assert await store.offer_support_once(TEAM, USER) is True
    assert await store.offer_support_once(TEAM, USER) is False
    assert await store.offer_support_once(TEAM, USER) is False
    assert await store.offer_support_once(TEAM, OTHER) is True  # per person

    await store.clear_support(TEAM, USER)

    assert await store.offer_support_once(TEAM, USER) is True
    assert await store.offer_support_once(TEAM, USER) is False


async def test_first_delivery_is_true_once_per_event_id(store: Store, redis: RedisClient) -> None:
    assert await store.first_delivery("Ev01") is True
    assert await store.first_delivery("Ev01") is False  # Slack's retry of the same event
    assert await store.first_delivery("Ev02") is True
    assert await store.first_delivery("Ev03", ttl=timedelta(minutes=5)) is True
    assert 0 < await redis.ttl(keys.event_seen("Ev03")) <= 300
    assert 300 < await redis.ttl(keys.event_seen("Ev01")) <= 3600


# --- export and forget -----------------------------------------------------------------------


async def fill(store: Store, user: str, *, secret: str) -> None:
    """Write every kind of record the store keeps for ``user``."""
    await store.save_profile(TEAM, user, Profile(opted_in=True))
    await store.log_feeling(TEAM, user, feel(T0, score=2, note=f"{secret} note"))
    await store.record_outcome(TEAM, user, outcome(f"{secret}:reset:1", T0))
    await store.rate_practice(TEAM, user, f"{secret}-practice", helped=True)
    await store.ask_fewer(TEAM, user, PracticeTheme.WATER)
    await store.save_reflection(TEAM, user, "2026-W48", {"progress": f"{secret} answer"})
    await store.set_calendar(TEAM, user, f"https://{secret}.example.com/cal.ics")
    await store.save_busy(TEAM, user, [BusyInterval(start=T0, end=T0 + timedelta(hours=1))])
    await store.remember_dm_channel(TEAM, user, f"D{secret}")
    await store.remember_sent(TEAM, user, sent_nudge(f"{secret}:reset:2"))
    assert await store.offer_support_once(TEAM, user)


# Which part of the export holds what each of a person's keys stores.
EXPORTED_AS = {
    "profile": "profile",
    "feel": "feelings",
    "outcomes": "nudge_outcomes",
    "ratings": "practice_ratings",
    "fewer": "fewer_of",
    "reflections": "reflections",
    "calendar": "calendar",
    "busy": "busy",
    "dm": "dm_channel",
    "sent": "sent_nudges",
    "support": "support_offered",
}


async def test_export_is_complete_decrypted_and_only_this_person(
    store: Store, redis: RedisClient
) -> None:
    await fill(store, USER, secret="mine")
    await fill(store, OTHER, secret="theirs")

    data = await store.export(TEAM, USER)

    assert data == {
        "team": TEAM,
        "user": USER,
        "profile": Profile(opted_in=True).model_dump(mode="json"),
        "calendar": {"connected": True, "address": "https://mine.example.com/cal.ics"},
        "feelings": [feel(T0, score=2, note="mine note").model_dump(mode="json")],
        "nudge_outcomes": [outcome("mine:reset:1", T0).model_dump(mode="json")],
        "practice_ratings": {"mine-practice": {"helped": 1, "unhelpful": 0}},
        "fewer_of": ["water"],
        "reflections": {"2026-W48": {"progress": "mine answer"}},
        "busy": [{"start": "2026-11-23T07:30:00Z", "end": "2026-11-23T08:30:00Z"}],
        "sent_nudges": [sent_nudge("mine:reset:2").model_dump(mode="json")],
        "support_offered": True,
        "dm_channel": "Dmine",
        "calendar_email": None,
    }
    assert "theirs" not in json.dumps(data)
    # Complete: every key the person has is covered by a part of the export.
    prefix = keys.person_prefix(TEAM, USER).encode()
    names = {k.removeprefix(prefix).decode() for k in await keys_with(redis, "{p:T1:U1}")}
    assert names == set(EXPORTED_AS)
    assert all(data[EXPORTED_AS[name]] for name in names)


async def test_export_of_nobody_is_empty_and_writes_nothing(
    store: Store, redis: RedisClient
) -> None:
    data = await store.export(TEAM, USER)

    assert data["calendar"] == {"connected": False, "address": None}
    for part in ("feelings", "nudge_outcomes", "busy", "sent_nudges", "fewer_of"):
        assert data[part] == []
    assert data["support_offered"] is False
    assert data["dm_channel"] is None
    assert await all_keys(redis) == []


async def test_forget_deletes_every_key_of_the_person_and_nothing_else(
    store: Store, redis: RedisClient
) -> None:
    await fill(store, USER, secret="mine")
    await fill(store, OTHER, secret="theirs")
    await store.first_delivery("Ev01")
    others = [k for k in await all_keys(redis) if b"{p:T1:U1}" not in k]
    before = await dump(redis, others)

    deleted = await store.forget(TEAM, USER)

    assert deleted == len(EXPORTED_AS)
    assert await keys_with(redis, "{p:T1:U1}") == []
    assert await store.person_keys(TEAM, USER) == []
    assert await all_keys(redis) == sorted(others)
    assert await dump(redis, others) == before
    assert await store.forget(TEAM, USER) == 0  # nothing left: forgetting twice is fine


def person_keys_of(user: str) -> list[bytes]:
    """The keys `fill` writes for ``user``, named by the keys module (not by a pattern)."""
    named = (
        keys.profile, keys.feelings, keys.outcomes, keys.ratings, keys.fewer, keys.reflections,
        keys.calendar, keys.busy, keys.dm_channel, keys.sent_nudges, keys.support_offered,
    )  # fmt: skip
    return sorted(name(TEAM, user).encode() for name in named)


# Ids with SCAN glob characters next to the ids their patterns would match if unescaped.
GLOB_PEOPLE = ["U*", "U?", "U[1]", "U[12]", "U\\", "U\\*", "U}:x", "U", "U1", "U2", "UX", "Ua"]


@pytest.mark.parametrize("who", ["U*", "U?", "U[1]", "U[12]", "U\\", "U\\*", "U}:x", "U", "U1"])
async def test_forget_with_glob_characters_in_the_id_touches_only_that_person(
    store: Store, redis: RedisClient, who: str
) -> None:
    for user in GLOB_PEOPLE:
        await fill(store, user, secret=f"s{GLOB_PEOPLE.index(user)}")
    theirs = person_keys_of(who)
    others = [k for k in await all_keys(redis) if k not in theirs]
    assert len(others) == (len(GLOB_PEOPLE) - 1) * len(EXPORTED_AS)
    before = await dump(redis, others)

    assert sorted(await store.person_keys(TEAM, who)) == theirs
    deleted = await store.forget(TEAM, who)

    assert deleted == len(EXPORTED_AS)
    assert await all_keys(redis) == sorted(others)
    assert await dump(redis, others) == before


async def test_export_with_glob_characters_in_the_id_shows_only_that_person(
    store: Store,
) -> None:
    for user in GLOB_PEOPLE:
        await fill(store, user, secret=f"s{GLOB_PEOPLE.index(user)}x")

    data = await store.export(TEAM, "U*")

    assert data["dm_channel"] == "Ds0x"
    assert data["feelings"] == [feel(T0, score=2, note="s0x note").model_dump(mode="json")]
    assert "s1x" not in json.dumps(data)


# --- keys and rotation -----------------------------------------------------------------------


async def test_new_key_first_still_reads_data_written_under_the_old_key(redis: RedisClient) -> None:
    old = make_store(redis, OLD_KEY)
    await old.log_feeling(TEAM, USER, feel(T0, note="before rotation"))
    await old.set_calendar(TEAM, USER, URL)
    await old.save_reflection(TEAM, USER, "2026-W48", {"progress": "old key"})

    rotated = make_store(redis, KEY, OLD_KEY)

    assert await rotated.feelings(TEAM, USER, since=EPOCH) == [feel(T0, note="before rotation")]
    assert await rotated.calendar_url(TEAM, USER) == URL
    assert await rotated.reflections(TEAM, USER) == {"2026-W48": {"progress": "old key"}}
    # New writes use the new key only.
    await rotated.set_calendar(TEAM, USER, URL + "?v=2")
    assert await make_store(redis, KEY).calendar_url(TEAM, USER) == URL + "?v=2"
    with pytest.raises(VaultError):
        await old.calendar_url(TEAM, USER)


def test_rotate_re_encrypts_under_the_newest_key() -> None:
    token = Vault([OLD_KEY]).seal("https://calendar.example.com/secret.ics")

    rotated = Vault([KEY, OLD_KEY]).rotate(token)

    assert rotated != token
    assert Vault([KEY]).open(rotated) == "https://calendar.example.com/secret.ics"
    with pytest.raises(VaultError):
        Vault([OLD_KEY]).open(rotated)
    with pytest.raises(VaultError):
        Vault([KEY]).rotate(token)  # a token no configured key opens cannot be rotated


def test_vault_refuses_garbage_and_needs_a_key() -> None:
    with pytest.raises(VaultError):
        Vault([KEY]).open(b"not a fernet token")
    with pytest.raises(ValueError, match="at least one"):
        Vault([])
    assert Vault([Vault.new_key()]).seal("x") != Vault([Vault.new_key()]).seal("x")


async def test_data_under_an_unknown_key_raises_vault_error(redis: RedisClient) -> None:
    writer = make_store(redis, OTHER_KEY)
    await writer.log_feeling(TEAM, USER, feel(T0, note="sealed elsewhere"))
    await writer.set_calendar(TEAM, USER, URL)
    await writer.save_reflection(TEAM, USER, "2026-W48", {"progress": "x"})
    await writer.save_busy(TEAM, USER, [BusyInterval(start=T0, end=T0 + timedelta(hours=1))])
    reader = make_store(redis, KEY, OLD_KEY)

    with pytest.raises(VaultError):
        await reader.feelings(TEAM, USER, since=EPOCH)
    with pytest.raises(VaultError):
        await reader.calendar_url(TEAM, USER)
    with pytest.raises(VaultError):
        await reader.reflections(TEAM, USER)
    with pytest.raises(VaultError):
        await reader.busy(TEAM, USER)
    with pytest.raises(VaultError):
        await reader.export(TEAM, USER)


# --- Redis unavailable -----------------------------------------------------------------------

StoreCall = Callable[[Store], Awaitable[object]]

# One call per public Store method that talks to Redis.
CALLS: dict[str, StoreCall] = {
    "profile": lambda s: s.profile(TEAM, USER),
    "save_profile": lambda s: s.save_profile(TEAM, USER, Profile()),
    "log_feeling": lambda s: s.log_feeling(TEAM, USER, feel(T0)),
    "log_feeling_and_recent": lambda s: s.log_feeling_and_recent(TEAM, USER, feel(T0), since=T0),
    "feelings": lambda s: s.feelings(TEAM, USER, since=EPOCH),
    "record_outcome": lambda s: s.record_outcome(TEAM, USER, outcome("k", T0)),
    "outcomes": lambda s: s.outcomes(TEAM, USER, since=EPOCH),
    "rate_practice": lambda s: s.rate_practice(TEAM, USER, "p", helped=True),
    "ask_fewer": lambda s: s.ask_fewer(TEAM, USER, PracticeTheme.BODY),
    "practice_history": lambda s: s.practice_history(TEAM, USER),
    "save_reflection": lambda s: s.save_reflection(TEAM, USER, "2026-W48", {"a": "b"}),
    "reflections": lambda s: s.reflections(TEAM, USER),
    "set_calendar": lambda s: s.set_calendar(TEAM, USER, URL),
    "calendar_url": lambda s: s.calendar_url(TEAM, USER),
    "clear_calendar": lambda s: s.clear_calendar(TEAM, USER),
    "save_busy": lambda s: s.save_busy(TEAM, USER, []),
    "busy": lambda s: s.busy(TEAM, USER),
    "dm_channel": lambda s: s.dm_channel(TEAM, USER),
    "remember_dm_channel": lambda s: s.remember_dm_channel(TEAM, USER, "D1"),
    "remember_sent": lambda s: s.remember_sent(TEAM, USER, sent_nudge("k")),
    "sent": lambda s: s.sent(TEAM, USER, "k"),
    "offer_support_once": lambda s: s.offer_support_once(TEAM, USER),
    "clear_support": lambda s: s.clear_support(TEAM, USER),
    "first_delivery": lambda s: s.first_delivery("Ev01"),
    "export": lambda s: s.export(TEAM, USER),
    "person_keys": lambda s: s.person_keys(TEAM, USER),
    "forget": lambda s: s.forget(TEAM, USER),
    # Calendar sync state (bot/sync.py).
    "sync_inputs": lambda s: s.sync_inputs(TEAM, USER),
    "sync_inputs_many": lambda s: s.sync_inputs_many([(TEAM, USER)]),
    "sync_state": lambda s: s.sync_state(TEAM, USER),
    "sync_email": lambda s: s.sync_email(TEAM, USER),
    "connect_calendar": lambda s: s.connect_calendar(
        TEAM, USER, url=URL, state=SyncState(generation="g"), email=None, busy=[]
    ),
    "commit_sync": lambda s: s.commit_sync(TEAM, USER, SyncState(generation="g")),
    "disconnect_calendar": lambda s: s.disconnect_calendar(TEAM, USER),
}


def test_every_public_store_method_is_in_the_unavailable_table() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Store, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert public - {"ping"} == set(CALLS)


def unreachable_client(server: RedisServer) -> Redis:
    return Redis(
        host=server.host,
        port=server.port,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


async def test_every_method_raises_store_unavailable_while_redis_is_down(
    redis_server: RedisServer,
) -> None:
    client = unreachable_client(redis_server)
    store = make_store(client)
    assert await store.ping() is True
    redis_server.stop()
    try:
        assert await store.ping() is False
        for name, call in CALLS.items():
            with pytest.raises(StoreUnavailableError) as caught:
                await call(store)
            assert isinstance(caught.value.__cause__, RedisConnectionError | OSError), name
    finally:
        redis_server.start()
        await client.aclose()
    # And the store works again once Redis is back (same client, new connection).
    assert await store.ping() is True
    assert await store.profile(TEAM, USER) == Profile()


# --- atomic multi-key writes -----------------------------------------------------------------


def resp_commands(data: bytes) -> list[bytes]:
    """Split a RESP request (arrays of bulk strings) into its commands, each as sent."""
    commands, at = [], 0
    while at < len(data):
        start = at
        header_end = data.index(b"\r\n", at)
        count = int(data[at + 1 : header_end])
        at = header_end + 2
        for _ in range(count):
            length_end = data.index(b"\r\n", at)
            at = length_end + 2 + int(data[at + 1 : length_end]) + 2
        commands.append(data[start:at])
    return commands


class DropsBeforeLastCommand(Connection):
    """Sends every command of a pipeline but the last, waits until the server has answered
    them (so they are processed), then loses the connection: a write cut off mid-way."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if isinstance(command, str):
            command = command.encode()
        data = command if isinstance(command, bytes) else b"".join(command)
        commands = resp_commands(data)
        if len(commands) < 2:  # single commands (and the handshake) go through
            await super().send_packed_command(data, check_health)
            return
        await super().send_packed_command(b"".join(commands[:-1]), check_health)
        for _ in commands[:-1]:
            await self.read_response()
        await self.disconnect()
        raise RedisConnectionError("connection lost before the last command of a pipeline")


def cut_client(server: RedisServer) -> Redis:
    pool = ConnectionPool(
        connection_class=DropsBeforeLastCommand,
        host=server.host,
        port=server.port,
        socket_timeout=2.0,
    )
    return Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


def test_resp_commands_splits_a_packed_pipeline() -> None:
    packed = b"".join(Connection().pack_commands([("MULTI",), ("SET", "k", "a\r\nb"), ("EXEC",)]))
    assert resp_commands(packed) == [
        b"*1\r\n$5\r\nMULTI\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n",
        b"*1\r\n$4\r\nEXEC\r\n",
    ]


@single_redis_only
async def test_the_cut_connection_does_leave_half_a_plain_pipeline(
    redis_server: RedisServer, redis: RedisClient
) -> None:
    # The control: without MULTI/EXEC the same cut leaves a key without its TTL.
    async def plain_pipeline(client: Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd("half", {b"member": 1.0})
            pipe.expire("half", 60)
            await pipe.execute()

    client = cut_client(redis_server)
    try:
        with pytest.raises(RedisConnectionError):
            await plain_pipeline(client)
    finally:
        await client.aclose()
    assert await redis.zcard("half") == 1
    assert await redis.ttl("half") == -1


WRITES: dict[str, tuple[StoreCall, str]] = {
    "log_feeling": (lambda s: s.log_feeling(TEAM, USER, feel(T0)), keys.feelings(TEAM, USER)),
    "log_feeling_and_recent": (
        lambda s: s.log_feeling_and_recent(TEAM, USER, feel(T0), since=EPOCH),
        keys.feelings(TEAM, USER),
    ),
    "record_outcome": (
        lambda s: s.record_outcome(TEAM, USER, outcome("k", T0)),
        keys.outcomes(TEAM, USER),
    ),
    "save_reflection": (
        lambda s: s.save_reflection(TEAM, USER, "2026-W48", {"a": "b"}),
        keys.reflections(TEAM, USER),
    ),
    "remember_sent": (
        lambda s: s.remember_sent(TEAM, USER, sent_nudge("k")),
        keys.sent_nudges(TEAM, USER),
    ),
}


@single_redis_only
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_multi_key_write_cut_off_leaves_nothing_behind(
    redis_server: RedisServer, redis: RedisClient, write: str
) -> None:
    call, key = WRITES[write]
    client = cut_client(redis_server)
    try:
        with pytest.raises(StoreUnavailableError):
            await call(make_store(client))
    finally:
        await client.aclose()

    assert await all_keys(redis) == []
    # The same write on a working connection does write, with its TTL.
    await call(make_store(redis))
    assert await redis.exists(key) == 1
    assert await redis.ttl(key) > 0


@single_redis_only
async def test_old_entries_survive_a_cut_off_append(
    redis_server: RedisServer, redis: RedisClient
) -> None:
    # zadd + zremrangebyscore + expire: a cut-off write neither adds nor trims.
    old = feel(T0, note="kept")
    await make_store(redis).log_feeling(TEAM, USER, old)
    client = cut_client(redis_server)
    try:
        with pytest.raises(StoreUnavailableError):
            await make_store(client).log_feeling(TEAM, USER, feel(T0 + 2 * RETENTION))
    finally:
        await client.aclose()

    assert await make_store(redis).feelings(TEAM, USER, since=EPOCH) == [old]
