"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from ``TSCRM_TEST_PG_URL`` (default: the local server, user postgres). When it is
unreachable the PostgreSQL half of the suite is skipped with the reason, unless
``TSCRM_REQUIRE_SERVICES=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tscrm.core.db import Database
from tscrm.core.permissions import Actor
from tscrm.i18n import set_language

PG_ADMIN_URL = os.environ.get("TSCRM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("TSCRM_REQUIRE_SERVICES") == "1"


def need_service(name: str, reason: str) -> None:
    """Skip (on a laptop) or fail (in CI) a test whose real server is missing."""
    message = f"{name} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (TSCRM_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads or writes the developer's real config or data."""
    monkeypatch.setenv("TSCRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TSCRM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TSCRM_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("TSCRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("TSCRM_USER", raising=False)
    # Secrets go to the encrypted store, never to the developer's keyring.
    monkeypatch.setenv("TSCRM_SECRET_BACKEND", "encrypted")
    monkeypatch.setenv("TSCRM_SECRET_KEY", "test-key-not-secret")
    set_language("en")
    yield
    set_language("en")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade(backup=False)
    db.dispose()
    return path


class PostgresServer:
    def __init__(self) -> None:
        self.error: str | None = None
        self.admin_url = PG_ADMIN_URL
        self.dbname = f"tscrm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.db: Database | None = None

    def start(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        except psycopg.Error as exc:
            self.error = f"{self.admin_url}: {exc}".strip()
            return
        self.db = Database(self.url)
        self.db.upgrade(backup=False)

    @property
    def url(self) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{self.dbname}"

    def fresh_database(self) -> str:
        """Another scratch database (for tests that need a migration history of their own)."""
        import psycopg

        name = f"{self.dbname}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def truncate(self) -> None:
        assert self.db is not None
        from sqlmodel import SQLModel

        from tscrm.core.models import load_all_models

        load_all_models()
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    def stop(self) -> None:
        import psycopg

        if self.db is not None:
            self.db.dispose()
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (self.dbname + "%",)
                ).fetchall()
                for (name,) in rows:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a copy of a SQLite template, or a truncated PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "tscrm.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        if server.db is None:
            need_service("PostgreSQL", server.error or "not started")
        server.truncate()
        yield server.db  # type: ignore[misc]


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "tscrm.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def admin(db: Database) -> Actor:
    """A company (EUR, region unset) and its first admin."""
    from tscrm.core.services import company, users

    with db.write() as s:
        _, user = company.setup(
            s,
            company_name="Acme Telecom",
            admin_name="Ana Admin",
            admin_email="ana@acme.test",
            extension="100",
            timezone="Europe/Madrid",
        )
        return users.actor_for(s, user)


@pytest.fixture
def make_user(db: Database, admin: Actor):
    """Factory: make_user("Intern", name=...) -> Actor."""
    from tscrm.core.services import users

    counter = iter(range(200, 10_000))

    def factory(group: str = "Intern", name: str | None = None, **kw) -> Actor:
        n = next(counter)
        with db.write() as s:
            user = users.create_user(
                s,
                admin,
                name=name or f"Agent {n}",
                email=kw.pop("email", f"agent{n}@acme.test"),
                group=group,
                extension=kw.pop("extension", str(n)),
                **kw,
            )
            return users.actor_for(s, user)

    return factory


@pytest.fixture
def cli(db: Database):
    """``cli(*args, code=0, user=None, input=None)``: the tscrm CLI on the test database, its exit code checked."""
    from typer.testing import CliRunner

    from tscrm.cli.main import app

    runner = CliRunner(env={"COLUMNS": "250"})

    def invoke(*args: str, code: int = 0, user: str | None = None, input: str | None = None):
        argv = ["--db", db.url, *(["--user", user] if user else []), *args]
        result = runner.invoke(app, argv, input=input)
        assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        return result

    return invoke
