"""Engines, sessions and the schema check, for SQLite and PostgreSQL alike.

SQLite runs in WAL mode with foreign keys on. Its write transactions start with ``BEGIN IMMEDIATE``
so that concurrent writers queue on the busy timeout instead of failing when a read lock would have
to be upgraded; read sessions use a plain deferred ``BEGIN`` and never block writers.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from tscrm.core.config import normalise_database_url
from tscrm.core.errors import SchemaOutOfDate
from tscrm.i18n import _

# The newest migration; a test checks it against alembic's head so the two never drift apart.
SCHEMA_HEAD = "0009"
SQLITE_BUSY_TIMEOUT_S = 60
CHANGES_CHANNEL = "tscrm_changes"
CHANGED = "tscrm_changed"


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, _context) -> None:
    session.info[CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_bulk_change(state) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info[CHANGED] = True


class Database:
    """One database: its engine, its sessions, its schema state."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5) -> None:
        self.url = normalise_database_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.is_sqlite:
            path = self.sqlite_path
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                self.url,
                echo=echo,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
                pool_size=pool_size,
                max_overflow=64,
            )
            _install_sqlite_hooks(self.engine)
        else:
            self.engine = create_engine(
                self.url, echo=echo, pool_size=pool_size, max_overflow=64, pool_pre_ping=True
            )
        self._write_engine = self.engine.execution_options(tscrm_write=True)

    # -- properties ------------------------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        database = make_url(self.url).database
        if not database or database == ":memory:":
            return None
        return Path(database)

    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- sessions ----------------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading. Nothing it does is committed."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error.

        On PostgreSQL a commit that changed anything also notifies ``tscrm_changes`` (delivered at
        commit), so that the open apps of other agents refresh; SQLite apps poll ``data_version``.
        """
        with Session(self._write_engine, expire_on_commit=False) as session:
            try:
                yield session
                if self.is_postgres and (session.new or session.dirty or session.deleted or session.info.get(CHANGED)):
                    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def check_schema(self) -> None:
        """Refuse to work on a schema that is not the one this code expects, saying what fixes it."""
        current = self.current_revision()
        if current == SCHEMA_HEAD:
            return
        if current is None:
            raise SchemaOutOfDate(
                _("The database {db} is not set up. Run `tscrm init` (or `tscrm db upgrade`).").format(
                    db=self.display_url()
                )
            )
        if current < SCHEMA_HEAD:
            raise SchemaOutOfDate(
                _("The database schema is behind ({current}, needs {head}). Run `tscrm db upgrade`.").format(
                    current=current, head=SCHEMA_HEAD
                )
            )
        raise SchemaOutOfDate(
            _("The database schema ({current}) is newer than this tscrm ({head}). Upgrade tscrm.").format(
                current=current, head=SCHEMA_HEAD
            )
        )

    def backup_sqlite(self) -> Path | None:
        """Copy a SQLite file (consistently, through the backup API) before it is migrated."""
        path = self.sqlite_path
        if path is None or not path.exists() or path.stat().st_size == 0:
            return None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = path.with_name(f"{path.name}.{stamp}.bak")
        source = sqlite3.connect(path)
        try:
            dest = sqlite3.connect(target)
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        return target

    def upgrade(self, *, backup: bool = True) -> Path | None:
        """Bring the schema to the newest revision. Returns the backup file made, if any."""
        from tscrm.core import migrate  # alembic is only imported when migrating

        made = None
        if backup and self.current_revision() != SCHEMA_HEAD:
            made = self.backup_sqlite()
        migrate.upgrade(self)
        return made


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        # Let SQLAlchemy, not the driver, decide when transactions begin (see the begin hook).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        # A 64 MB page cache and memory-mapped reads: search on a million rows reads far fewer pages.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=1073741824")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get("tscrm_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a SQLite database file (used by tests and the demo to reuse a migrated template)."""
    shutil.copyfile(src, dst)
