"""Where things live and which database to use.

Order of precedence for the database: ``--db URL`` option, ``TSCRM_DATABASE_URL``, ``database_url``
in ``config.toml`` (platform config dir, or ``TSCRM_CONFIG``), then a SQLite file in the platform's
data directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tscrm.core.errors import ConfigError
from tscrm.i18n import _

APP_NAME = "tscrm"


def data_dir() -> Path:
    return Path(os.environ.get("TSCRM_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def cache_dir() -> Path:
    return Path(os.environ.get("TSCRM_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME))


def config_path() -> Path:
    return Path(os.environ.get("TSCRM_CONFIG") or config_dir() / "config.toml")


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'tscrm.db'}"


@dataclass
class Settings:
    """The local configuration of one installation (config.toml)."""

    database_url: str | None = None
    user: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(_("Cannot read {path}: {reason}").format(path=path, reason=exc)) from exc
    known = {k: raw.pop(k) for k in ("database_url", "user", "language") if k in raw}
    return Settings(**known, extra=raw)


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick our drivers (psycopg 3 for PostgreSQL)."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    if "://" not in url:  # a bare path means a SQLite file
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    raise ConfigError(
        _("Unsupported database URL {url}: use sqlite:///PATH or postgresql://USER@HOST/DB").format(url=url)
    )


def resolve_database_url(option: str | None = None, settings: Settings | None = None) -> str:
    if option:
        return normalise_database_url(option)
    env = os.environ.get("TSCRM_DATABASE_URL")
    if env:
        return normalise_database_url(env)
    settings = settings if settings is not None else load_settings()
    if settings.database_url:
        return normalise_database_url(settings.database_url)
    return default_database_url()
