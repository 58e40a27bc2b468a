"""Baseline's one Settings object, read from the environment (prefix ``BASELINE_``).

Nested values use ``__``: ``BASELINE_PLANNING__MAX_RESETS_PER_DAY=4``. Nothing reads the
environment at import time; call :func:`load_settings` (or build ``Settings(...)`` in tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from nudges.calendar import CalendarLimits
from nudges.density import LoadModel
from nudges.preferences import PlanningPolicy


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it in one line."""


class Settings(BaseSettings):
    """Every knob of Baseline, with the defaults it ships with."""

    model_config = SettingsConfigDict(
        env_prefix="BASELINE_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    planning: PlanningPolicy = Field(
        default_factory=PlanningPolicy,
        description="The planner's rules: chain gap, spacing, daily cap, heavy-day thresholds.",
    )
    calendar: CalendarLimits = Field(
        default_factory=CalendarLimits,
        description="Bounds on one calendar feed: bytes (default 5 MB) and events (25,000).",
    )
    calendar_allow_private: bool = Field(
        default=False,
        description=(
            "Fetch calendar addresses that point into private networks (localhost, 10.x, …). "
            "Only for local development and tests: it opens the bot's own network to anyone "
            "who can run /baseline calendar."
        ),
    )
    calendar_timeout_seconds: float = Field(
        default=10, gt=0, le=60, description="One calendar fetch, redirects and body included."
    )
    calendar_max_redirects: int = Field(
        default=3, ge=0, le=10, description="Redirects followed when fetching a calendar."
    )
    calendar_sync_minutes: float = Field(
        default=10,
        gt=0,
        le=24 * 60,
        description="How often a calendar is re-read in working hours.",
    )
    calendar_idle_sync_minutes: float = Field(
        default=60,
        gt=0,
        le=24 * 60,
        description="How often a calendar is re-read outside working hours (and while opted out).",
    )
    calendar_sync_concurrency: int = Field(
        default=64, ge=1, le=1024, description="Calendars one instance fetches at the same time."
    )
    calendar_parse_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description=(
            "Processes that parse fetched calendars, so a big feed never stalls the bot's event "
            "loop; 0 parses in the bot's own process (tests, tiny installs)."
        ),
    )
    load_model: LoadModel = Field(
        default_factory=LoadModel,
        description="Time constants of the recovery-load curve (docs/science.md).",
    )
    catalog_path: Path | None = Field(
        default=None,
        description="An organisation's own catalog TOML; the bundled config/catalog.toml if unset.",
    )

    # Slack and Redis use the names Slack's own tooling and most hosts use, without prefix.
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"),
        description="An xapp- token: when set, `baseline run` uses Socket Mode.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"),
        description="Web API base URL; point it at a Slack-compatible test server.",
    )
    redis_url: str = Field(
        default="redis://localhost:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "redis_url"),
    )
    redis_cluster: bool = Field(
        default=False,
        description=(
            "REDIS_URL names one node of a Redis Cluster (any node; the client finds the "
            "rest). Every key of one person, one queue shard or one workspace bucket shares a "
            "hash tag, so no command crosses slots."
        ),
    )
    slack_client_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_CLIENT_ID", "slack_client_id"),
        description=(
            "With SLACK_CLIENT_SECRET: serve many workspaces (HTTP mode), each installed "
            "through /slack/install; SLACK_BOT_TOKEN is then not used."
        ),
    )
    slack_client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_CLIENT_SECRET", "slack_client_secret"),
        description="Basic Information → App Credentials → Client Secret (with SLACK_CLIENT_ID).",
    )
    port: int = Field(default=3000, ge=1, le=65535, validation_alias=AliasChoices("PORT", "port"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        validation_alias=AliasChoices("LOG_LEVEL", "log_level"),
        description="Baseline's own log level; libraries stay at INFO or above (bot/logs.py).",
    )
    log_format: Literal["plain", "json"] = Field(
        default="plain",
        validation_alias=AliasChoices("LOG_FORMAT", "log_format"),
        description="plain lines for a terminal, or one JSON object per line for a collector.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key(s) for secrets at rest, comma-separated, newest first "
            "(`baseline keygen` prints one); older keys still decrypt, so keys can rotate."
        ),
    )
    retention_days: int = Field(
        default=180, ge=1, le=3650, description="How long feel logs and nudge outcomes are kept."
    )
    support_url: str | None = Field(
        default=None,
        description="The organisation's support resources, offered privately after low logs.",
    )
    redis_timeout_seconds: float = Field(
        default=0.8,
        gt=0,
        le=2.0,
        description="Per Redis call; short, so a reply still fits Slack's 3 seconds.",
    )

    slack_rate: float = Field(
        default=10.0,
        gt=0,
        le=1000,
        description=(
            "Nudge DMs per second per workspace, shared by all instances (a token bucket in "
            "Redis). Slack's own limit for chat.postMessage is unpublished; 429s are honoured."
        ),
    )
    queue_shards: int = Field(
        default=16,
        ge=1,
        le=1024,
        description=(
            "Shards of the due queue (one Redis Cluster slot each). Every instance must use "
            "the same number; changing it strands pending nudges until the next re-plan."
        ),
    )
    delivery_concurrency: int = Field(
        default=16, ge=1, le=256, description="Nudges one instance sends at the same time."
    )
    delivery_lease_seconds: float = Field(
        default=30,
        ge=2,
        le=600,
        description="How long a claimed nudge is held before another instance may take it.",
    )
    worker: bool = Field(
        default=True,
        description="Run delivery, day-start planning and calendar sync in this instance.",
    )
    team_min_group: int = Field(
        default=5,
        ge=5,
        le=1000,
        description=(
            "Fewest people a team figure (or a window's meeting overlap) is shown for; "
            "never below 5."
        ),
    )
    window_leads: str = Field(
        default="",
        description=(
            "Besides workspace admins and a channel's creator, who may set recovery windows "
            "and see the team view: comma-separated user ids and/or one user group handle "
            "(@team-leads)."
        ),
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url if url.endswith("/") else url + "/"

    @field_validator("encryption_key")
    @classmethod
    def _valid_fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Blank entries are skipped, as fernet_keys() skips them; no key at all is "unset".
        keys = [] if value is None else _split_keys(value.get_secret_value())
        if not keys:
            return None
        for key in keys:
            try:
                Fernet(key.encode())
            except ValueError as exc:
                raise ValueError(
                    "is not a Fernet key (44 url-safe base64 characters; "
                    "run `baseline keygen` for a new one)"
                ) from exc
        return value

    def fernet_keys(self) -> list[str]:
        if self.encryption_key is None:
            return []
        return _split_keys(self.encryption_key.get_secret_value())

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr() and str() show every setting; a password in REDIS_URL is not shown.
        for name, value in super().__repr_args__():
            yield name, _hide_credentials(value) if name == "redis_url" else value

    @property
    def oauth(self) -> bool:
        """Many workspaces: both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set."""
        return _given(self.slack_client_id) and _given(self.slack_client_secret)

    def require_bot(self) -> None:
        """Stop start-up with one line naming the first missing setting the bot needs.

        One workspace needs SLACK_BOT_TOKEN; many (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET,
        HTTP mode only) do not: each workspace's token comes from its install.
        """
        self._require_oauth_pair()
        needed: list[tuple[str, SecretStr | None]] = [
            ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            ("BASELINE_ENCRYPTION_KEY", self.encryption_key),
        ]
        if not self.oauth:
            needed.insert(0, ("SLACK_BOT_TOKEN", self.slack_bot_token))
        missing = [name for name, value in needed if not _given(value)]
        if missing:
            raise SettingsError(f"setting {missing[0]} is missing")
        if (
            not self.oauth
            and self.slack_bot_token is not None
            and not self.slack_bot_token.get_secret_value().startswith("xoxb-")
        ):
            raise SettingsError("setting SLACK_BOT_TOKEN is invalid: a bot token starts with xoxb-")
        app_token = self.slack_app_token
        if app_token is not None and not app_token.get_secret_value().startswith("xapp-"):
            raise SettingsError(
                "setting SLACK_APP_TOKEN is invalid: an app token starts with xapp-"
            )

    def _require_oauth_pair(self) -> None:
        has_id, has_secret = _given(self.slack_client_id), _given(self.slack_client_secret)
        if has_id and not has_secret:
            raise SettingsError("setting SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it")
        if has_secret and not has_id:
            raise SettingsError("setting SLACK_CLIENT_ID is missing: SLACK_CLIENT_SECRET needs it")
        if has_id and _given(self.slack_app_token):
            # Installing needs the /slack/install and redirect pages: there is no HTTP server
            # in Socket Mode (and Slack does not list Socket Mode apps for distribution).
            raise SettingsError(
                "setting SLACK_APP_TOKEN is invalid: many workspaces (SLACK_CLIENT_ID) need "
                "HTTP mode, not Socket Mode"
            )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and keyword overrides), or a one-line SettingsError.

    The error is raised ``from None``: pydantic's own error quotes the value it refused, and a
    refused value can be a secret (one typo in a list of encryption keys).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings takes field kwargs
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _env_name("__".join(str(part) for part in first["loc"]))
        message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
        raise SettingsError(f"setting {name} is invalid: {message}") from None
    except SourceError as exc:
        # A nested setting given whole, as JSON that does not parse (BASELINE_PLANNING='{').
        field = re.search(r'field "([^"]+)"', str(exc))
        name = _env_name(field[1]) if field else "BASELINE_*"
        raise SettingsError(f"setting {name} is invalid: not valid JSON") from None


_UNPREFIXED = ("SLACK_", "REDIS_URL", "PORT", "LOG_")
# Baseline's own settings whose names happen to start like Slack's.
_PREFIXED = ("SLACK_RATE",)


def _env_name(field: str) -> str:
    name = field.upper()
    if name.startswith(_UNPREFIXED) and not name.startswith(_PREFIXED):
        return name
    return "BASELINE_" + name


def _given(value: str | SecretStr | None) -> bool:
    """Set and not blank (an env file's ``NAME=`` counts as unset)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and bool(value.strip())


def _split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _hide_credentials(url: object) -> object:
    """``redis://user:secret@host:6379/0`` → ``redis://***@host:6379/0``."""
    if not isinstance(url, str):
        return url
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", r"\1***@", url, flags=re.IGNORECASE)
