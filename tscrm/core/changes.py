"""Noticing that another agent changed the database, so open screens can refresh.

PostgreSQL: ``LISTEN tscrm_changes`` (``Database.write`` notifies on every commit that changed
something). SQLite: ``PRAGMA data_version`` on a connection of our own, which changes whenever
another connection commits.
"""

from __future__ import annotations

import sqlite3
import time

from tscrm.core.db import CHANGES_CHANNEL, Database


class ChangeWatcher:
    """``wait(timeout)`` returns True as soon as someone else committed a change, else False."""

    def __init__(self, db: Database, poll_interval: float = 0.5) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self._sqlite: sqlite3.Connection | None = None
        self._pg = None
        self._version: int | None = None
        if db.is_sqlite and db.sqlite_path is not None:
            self._sqlite = sqlite3.connect(db.sqlite_path, check_same_thread=False)
            self._version = self._data_version()
        elif db.is_postgres:
            import psycopg

            url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._pg = psycopg.connect(url, autocommit=True)
            self._pg.execute(f"LISTEN {CHANGES_CHANNEL}")

    def _data_version(self) -> int:
        assert self._sqlite is not None
        return int(self._sqlite.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        if self._pg is not None:
            got = any(True for _note in self._pg.notifies(timeout=timeout, stop_after=1))
            if got:
                # drain what else arrived together so one burst means one refresh
                for _more in self._pg.notifies(timeout=0.05):
                    pass
            return got
        if self._sqlite is None:
            time.sleep(timeout)
            return False
        deadline = time.monotonic() + timeout
        while True:
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()
