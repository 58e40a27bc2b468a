"""Loading the catalog of practices and prompts: the bundled one, or an organisation's own."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from nudges.catalog import Catalog

BUNDLED_CATALOG = "catalog.toml"


class CatalogError(ValueError):
    """The catalog file cannot be used; the message names the file and the first problems."""


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog TOML file (the bundled one when ``path`` is None)."""
    if path is None:
        source = resources.files("config").joinpath(BUNDLED_CATALOG)
        name, raw = f"bundled {BUNDLED_CATALOG}", source.read_bytes()
    else:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{name}: is not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"practice", "prompt"})
    if unknown:
        raise CatalogError(
            f"{name}: unknown table {', '.join(repr(k) for k in unknown)}; "
            "a catalog holds only [[practice]] and [[prompt]] entries"
        )
    try:
        return Catalog.model_validate(
            {"practices": data.get("practice", []), "prompts": data.get("prompt", [])}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(error['loc'], data)}: {error['msg']}" for error in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise CatalogError(f"{name}: {problems}{more}") from exc


def _where(loc: tuple[int | str, ...], data: dict[str, object]) -> str:
    """``practices.3.seconds`` → ``practice #4 (box-breath).seconds``: what an editor can find."""
    if len(loc) >= 2 and loc[0] in ("practices", "prompts") and isinstance(loc[1], int):
        table = "practice" if loc[0] == "practices" else "prompt"
        items = data.get(table)
        ident = ""
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            ident = f" ({items[loc[1]].get('id', '?')})"
        rest = ".".join(str(part) for part in loc[2:])
        return f"[[{table}]] #{loc[1] + 1}{ident}" + (f".{rest}" if rest else "")
    return ".".join(str(part) for part in loc) or "catalog"
