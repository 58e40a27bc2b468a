"""Settings from the environment: defaults, names, nested values, one-line errors naming the
variable, the bot's required settings, and secrets kept out of repr/str/tracebacks."""

from __future__ import annotations

import os
import traceback

import pytest

from config.settings import Settings, SettingsError, load_settings
from nudges.calendar import CalendarLimits
from nudges.density import LoadModel
from nudges.preferences import PlanningPolicy

KEY = "hD3t4l0l2l3o4tq3Q5cHh0ZxXx9xXb4T3p2E1n0a9mM="  # fixed valid Fernet keys
OLD_KEY = "q0xkdPZ8HUhS-2U1bOmwjUGAtRKs8VbUMPeDVDl2Yx0="
BOT_TOKEN = "xoxb-1111-2222-s3cr3tB0tT0ken"
SIGNING_SECRET = "s1gn1ngS3cr3tValue"
APP_TOKEN = "xapp-1-A111-333-s3cr3tAppT0ken"
REDIS_PASSWORD = "r3d1sPa55w0rd"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the machine running the tests."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("BASELINE_", "SLACK_")) or upper in ("REDIS_URL", "PORT"):
            monkeypatch.delenv(name)


def full_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f"{KEY},{OLD_KEY}")
    monkeypatch.setenv("REDIS_URL", f"redis://baseline:{REDIS_PASSWORD}@redis.internal:6380/2")


def test_defaults() -> None:
    settings = load_settings()

    assert settings.planning == PlanningPolicy()
    assert settings.calendar == CalendarLimits()
    assert settings.load_model == LoadModel()
    assert settings.catalog_path is None
    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.port == 3000
    assert settings.encryption_key is None
    assert settings.fernet_keys() == []
    assert settings.retention_days == 180
    assert settings.support_url is None
    assert settings.redis_timeout_seconds == 0.8


def test_slack_redis_and_port_use_their_usual_names_without_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full_env(monkeypatch)
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    monkeypatch.setenv("PORT", "8080")

    settings = load_settings()

    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == SIGNING_SECRET
    assert settings.slack_app_token is not None
    assert settings.slack_app_token.get_secret_value() == APP_TOKEN
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"  # a trailing slash added
    assert settings.redis_url == f"redis://baseline:{REDIS_PASSWORD}@redis.internal:6380/2"
    assert settings.port == 8080


def test_the_prefixed_names_of_unprefixed_settings_are_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASELINE_PORT", "8080")
    monkeypatch.setenv("BASELINE_REDIS_URL", "redis://elsewhere:1/0")
    monkeypatch.setenv("BASELINE_SLACK_BOT_TOKEN", BOT_TOKEN)

    settings = load_settings()

    assert settings.port == 3000
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.slack_bot_token is None


def test_prefixed_and_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASELINE_PLANNING__MAX_RESETS_PER_DAY", "4")
    monkeypatch.setenv("BASELINE_PLANNING__CHAIN_GAP_MINUTES", "5")
    monkeypatch.setenv("BASELINE_RETENTION_DAYS", "30")
    monkeypatch.setenv("BASELINE_REDIS_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("BASELINE_SUPPORT_URL", "https://intranet.example/support")
    monkeypatch.setenv("BASELINE_CATALOG_PATH", "/etc/baseline/catalog.toml")

    settings = load_settings()

    assert settings.planning == PlanningPolicy(max_resets_per_day=4, chain_gap_minutes=5)
    assert settings.retention_days == 30
    assert settings.redis_timeout_seconds == 1.5
    assert settings.support_url == "https://intranet.example/support"
    assert str(settings.catalog_path) == "/etc/baseline/catalog.toml"


def test_a_nested_setting_can_be_given_whole_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASELINE_PLANNING", '{"max_resets_per_day": 2}')
    assert load_settings().planning.max_resets_per_day == 2


def test_keyword_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    assert load_settings(port=9090).port == 9090


INVALID = [
    ("PORT", "abc", "setting PORT is invalid: Input should be a valid integer"),
    ("PORT", "0", "setting PORT is invalid: Input should be greater than or equal to 1"),
    ("PORT", "65536", "setting PORT is invalid: Input should be less than or equal to 65535"),
    ("BASELINE_ENCRYPTION_KEY", "not-a-key", "setting BASELINE_ENCRYPTION_KEY is invalid: is not"),
    (
        "BASELINE_ENCRYPTION_KEY",
        f"{KEY},{KEY[:-2]}",
        "setting BASELINE_ENCRYPTION_KEY is invalid: is not a Fernet key",
    ),
    ("SLACK_API_URL", "ftp://slack.example", "setting SLACK_API_URL is invalid: must be an http"),
    ("SLACK_API_URL", "slack.com/api", "setting SLACK_API_URL is invalid: must be an http(s) URL"),
    (
        "BASELINE_PLANNING__MAX_RESETS_PER_DAY",
        "many",
        "setting BASELINE_PLANNING__MAX_RESETS_PER_DAY is invalid: Input should be a valid integer",
    ),
    ("BASELINE_PLANNING", "{not json", "setting BASELINE_PLANNING is invalid: not valid JSON"),
    ("BASELINE_RETENTION_DAYS", "0", "setting BASELINE_RETENTION_DAYS is invalid: Input should"),
    (
        "BASELINE_REDIS_TIMEOUT_SECONDS",
        "5",
        "setting BASELINE_REDIS_TIMEOUT_SECONDS is invalid: Input should be less than or equal",
    ),
]


@pytest.mark.parametrize(("name", "value", "start"), INVALID)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, start: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(start)
    assert "\n" not in message
    if len(value) > 2:
        assert value not in message  # the value itself (a secret, perhaps) is not echoed


def test_a_bad_encryption_key_does_not_leak_the_good_ones_into_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f"{KEY},typo")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    printed = "".join(traceback.format_exception(caught.value))
    assert "BASELINE_ENCRYPTION_KEY" in printed
    assert not any(KEY[i : i + 8] in printed for i in range(len(KEY) - 8))


def test_fernet_keys_splits_a_comma_list_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f" {KEY} , {OLD_KEY},")
    assert load_settings().fernet_keys() == [KEY, OLD_KEY]
    assert Settings(encryption_key=KEY).fernet_keys() == [KEY]


@pytest.mark.parametrize("blank", ["", " ", ",", " , "])
def test_a_blank_encryption_key_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    full_env(monkeypatch)
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", blank)

    settings = load_settings()

    assert settings.encryption_key is None
    assert settings.fernet_keys() == []
    with pytest.raises(SettingsError, match=r"^setting BASELINE_ENCRYPTION_KEY is missing$"):
        settings.require_bot()


def test_require_bot_accepts_a_complete_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    full_env(monkeypatch)
    load_settings().require_bot()
    monkeypatch.delenv("SLACK_APP_TOKEN")  # optional: HTTP mode
    load_settings().require_bot()


@pytest.mark.parametrize(
    "missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "BASELINE_ENCRYPTION_KEY"]
)
@pytest.mark.parametrize("how", ["unset", "blank"])
def test_require_bot_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, missing: str, how: str
) -> None:
    full_env(monkeypatch)
    if how == "unset":
        monkeypatch.delenv(missing)
    else:
        monkeypatch.setenv(missing, "  ")
    settings = load_settings()

    with pytest.raises(SettingsError) as caught:
        settings.require_bot()

    assert str(caught.value) == f"setting {missing} is missing"


def test_require_bot_names_the_first_of_several_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"^setting SLACK_BOT_TOKEN is missing$"):
        load_settings().require_bot()
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with pytest.raises(SettingsError, match=r"^setting SLACK_SIGNING_SECRET is missing$"):
        load_settings().require_bot()


@pytest.mark.parametrize("token", ["xoxp-user-token", "xapp-1-app", "XOXB-upper", "bot-token"])
def test_require_bot_refuses_a_token_that_is_not_a_bot_token(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    full_env(monkeypatch)
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)

    with pytest.raises(SettingsError) as caught:
        load_settings().require_bot()

    assert str(caught.value) == "setting SLACK_BOT_TOKEN is invalid: a bot token starts with xoxb-"
    assert token not in str(caught.value)


def test_require_bot_refuses_an_app_token_that_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    full_env(monkeypatch)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")

    with pytest.raises(SettingsError, match=r"^setting SLACK_APP_TOKEN is invalid: "):
        load_settings().require_bot()


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    full_env(monkeypatch)
    settings = load_settings()

    for shown in (repr(settings), str(settings)):
        for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, KEY, OLD_KEY, REDIS_PASSWORD):
            assert secret not in shown
        assert "redis.internal:6380/2" in shown  # the rest of the address still shows
        assert "PlanningPolicy(" in shown
    assert settings.redis_url.endswith(f":{REDIS_PASSWORD}@redis.internal:6380/2")


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{REDIS_PASSWORD}@h:6379/0",
        f"rediss://default:{REDIS_PASSWORD}@h:6379/0",
        f"redis://{REDIS_PASSWORD}@h",
        f"REDIS://user:{REDIS_PASSWORD}@h/0?ssl_cert_reqs=none",
    ],
)
def test_a_redis_password_never_appears_in_repr(url: str) -> None:
    settings = Settings(redis_url=url)
    assert REDIS_PASSWORD not in repr(settings)
    assert REDIS_PASSWORD not in str(settings)
    assert settings.redis_url == url


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
