"""The domain stays pure: no Slack, Redis or network imports and no clock reads in nudges/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nudges

FORBIDDEN_MODULES = {
    "slack_bolt",
    "slack_sdk",
    "redis",
    "aiohttp",
    "requests",
    "httpx",
    "urllib",
    "socket",
    "http",
    "asyncio",
    "bot",
}
# Reading the clock inside the domain would make plans untestable: time comes in as `now`.
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}

SOURCES = sorted(Path(nudges.__file__).parent.glob("**/*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _clock_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"datetime", "date", "time"}
        ):
            found.append(f"{node.func.value.id}.{node.func.attr}() at line {node.lineno}")
    return found


def test_the_domain_has_modules() -> None:
    assert len(SOURCES) >= 6


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_adapter_imports(source: Path) -> None:
    tree = ast.parse(source.read_text(), filename=str(source))
    assert _imported(tree) & FORBIDDEN_MODULES == set()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_clock_reads(source: Path) -> None:
    tree = ast.parse(source.read_text(), filename=str(source))
    assert _clock_reads(tree) == []


def test_the_checks_catch_what_they_look_for() -> None:
    tree = ast.parse(
        "import redis\nfrom slack_sdk import x\nfrom datetime import datetime\ndatetime.now()\n"
    )
    assert _imported(tree) >= {"redis", "slack_sdk"}
    assert _clock_reads(tree) == ["datetime.now() at line 4"]
