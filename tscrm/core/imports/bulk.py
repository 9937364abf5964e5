"""Bulk writes that bypass the ORM: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Measured on a million rows, SQLModel's ``add_all`` is tens of times slower than the driver's own
bulk path, so imports and other mass writes hand rows (tuples, in column order) to a
:class:`BulkWriter` bound to the session's connection: the rows join the session's transaction.

Values must be what the driver stores: :meth:`BulkWriter.time` turns an aware datetime into the
column's stored form (naive UTC text on SQLite), :meth:`BulkWriter.json` a dict into JSON text.

On SQLite the FTS trigger of ``search_entry`` is slow when fired by one ``INSERT`` per row (about
25,000 rows/s) and four times faster when one ``INSERT ... SELECT`` fires it for many rows, so
:meth:`BulkWriter.insert_staged` first loads the rows into a TEMP table, then moves them with one
statement: the triggers still do all the indexing, whatever the index looks like.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session

from tscrm.core.models import SQLModel

_FTS_DEFAULT_HASHSIZE = 1024 * 1024  # FTS5's default
_FTS_BULK_HASHSIZE = 128 * 1024 * 1024


class BulkWriter:
    """Fast inserts into the tables of the session's database, inside the session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.connection = session.connection()  # begins the (write) transaction
        self.dialect = self.connection.dialect
        self.is_sqlite = self.dialect.name == "sqlite"
        self.dbapi = self.connection.connection.dbapi_connection
        # the dialect's own processor: on SQLite the text "YYYY-MM-DD HH:MM:SS.ffffff" the ORM stores
        self._time_processor = self._table("client").c.created_at.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        self._stages: set[str] = set()
        self._queue: queue.Queue[Callable[[], None] | None] | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._old_cache_size: int | None = None
        self._fts_tables: list[str] = []

    @staticmethod
    def _table(name: str) -> Table:
        return SQLModel.metadata.tables[name]

    # -- values ------------------------------------------------------------------------------------

    def time(self, value: datetime | None) -> Any:
        """An aware datetime as the driver stores it in a UTC column."""
        if value is None:
            return None
        return self._time_processor(value) if self._time_processor else value.astimezone(UTC)

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    # -- writing -----------------------------------------------------------------------------------

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows (tuples in ``columns`` order); in the background when it runs (see ``start_background``)."""
        if self._queue is not None:
            rows = rows if isinstance(rows, list) else list(rows)
            self._submit(lambda: self._insert_now(table, columns, rows))
        else:
            self._insert_now(table, columns, rows)

    def _insert_now(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cursor = self.dbapi.cursor()
        try:
            if self.is_sqlite:
                marks = ",".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
            else:
                with cursor.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        finally:
            cursor.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """One statement with positional parameters written ``?`` (adapted for PostgreSQL), run now,
        after every queued write."""
        self.drain()
        return self._execute_now(sql, params)

    def execute_later(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement whose result nobody waits for: queued behind the writes when they run in the background."""
        if self._queue is not None:
            self._submit(lambda: self._execute_now(sql, params))
        else:
            self._execute_now(sql, params)

    def _execute_now(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cursor = self.dbapi.cursor()
        try:
            cursor.execute(sql if self.is_sqlite else sql.replace("?", "%s"), tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.drain()
        cursor = self.dbapi.cursor()
        try:
            cursor.executemany(sql if self.is_sqlite else sql.replace("?", "%s"), list(rows))
        finally:
            cursor.close()

    # -- writing in the background (SQLite) ------------------------------------------------------------

    def start_background(self) -> None:
        """Run the inserts in a thread of their own, in order, so that the caller prepares the next
        chunk meanwhile: sqlite3 lets go of the GIL while SQLite works, which is most of the time of
        an insert. PostgreSQL's COPY is cheap on the client side and stays in the caller's thread.
        """
        if not self.is_sqlite or self._queue is not None:
            return
        self._queue = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._work, name="tscrm-import-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                if self._failure is None:
                    job()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller at its next call
                self._failure = exc
            finally:
                self._queue.task_done()

    def _submit(self, job: Callable[[], None]) -> None:
        self._raise_failure()
        assert self._queue is not None
        self._queue.put(job)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def drain(self) -> None:
        """Wait until every queued write is done (and raise its error, if one failed)."""
        if self._queue is not None:
            self._queue.join()
            self._raise_failure()

    def stop_background(self, *, check: bool = True) -> None:
        """Finish the queued writes and end the thread; ``check=False`` when already failing."""
        if self._queue is None:
            return
        self._queue.join()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
        self._queue = None
        self._thread = None
        if check:
            self._raise_failure()
        self._failure = None

    # -- ids ---------------------------------------------------------------------------------------

    def next_ids(self, table: str, count: int, after: int | None = None) -> list[int]:
        """``count`` fresh ids for ``table``: after the highest one on SQLite (the batch holds the
        write lock), from the table's sequence on PostgreSQL (never reused, maybe not contiguous)."""
        if count <= 0:
            return []
        if self.is_sqlite:
            start = after if after is not None else self.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]
            return list(range(start + 1, start + 1 + count))
        rows = self.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?)", (count,)
        )
        return [r[0] for r in rows]

    # -- SQLite tuning -----------------------------------------------------------------------------

    def tune_for_bulk(self) -> None:
        """SQLite: a larger page cache (index inserts stay in memory) and larger FTS5 write buffers.

        FTS5 writes its pending terms to a new segment every megabyte (``hashsize``), and merging
        those segments is most of the cost of indexing a million rows. The setting lives in each
        FTS table's config and is put back by :meth:`finish`, in the same transaction.
        """
        if not self.is_sqlite or self._old_cache_size is not None:
            return
        self._old_cache_size = self.execute("PRAGMA cache_size")[0][0]
        self.execute("PRAGMA cache_size = -262144")  # 256 MiB
        for (name,) in self.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'"
        ):
            self.execute(f"INSERT INTO {name}({name}, rank) VALUES ('hashsize', ?)", (_FTS_BULK_HASHSIZE,))
            self._fts_tables.append(name)

    def insert_staged(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], order_by: str | None = None
    ) -> None:
        """Insert rows so that the table's triggers fire in one statement (SQLite; see the docstring).

        ``order_by`` sorts the rows on their way in: FTS5 flushes its pending index whenever a rowid
        is lower than the previous one, and the search index's rowids follow the name order.
        """
        if not self.is_sqlite:
            self.insert(table, columns, rows)
            return
        stage = f"stage_{table}"
        if stage not in self._stages:
            self.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {','.join(columns)} FROM {table} WHERE 0")
            self._stages.add(stage)
        names = ",".join(columns)
        order = f" ORDER BY {order_by}" if order_by else ""
        rows = rows if isinstance(rows, list) else list(rows)

        def move() -> None:
            self._insert_now(f"temp.{stage}", columns, rows)
            self._execute_now(f"INSERT INTO {table} ({names}) SELECT {names} FROM temp.{stage}{order}")
            self._execute_now(f"DELETE FROM temp.{stage}")

        if self._queue is not None:
            self._submit(move)
        else:
            move()

    def finish(self) -> None:
        """Put back what the batch changed on the connection. Call before the commit."""
        self.stop_background()
        for name in self._fts_tables:
            self.execute(f"INSERT INTO {name}({name}, rank) VALUES ('hashsize', ?)", (_FTS_DEFAULT_HASHSIZE,))
        self._fts_tables = []
        for stage in self._stages:
            self.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        self._stages = set()
        self.reset_tuning()

    def abandon(self) -> None:
        """After a failure, before the rollback: no write may still be running on the connection."""
        self.stop_background(check=False)
        self.reset_tuning()

    def reset_tuning(self) -> None:
        """The connection's own page cache again (also after a failure, when the temp tables go with the rollback)."""
        if self._old_cache_size is not None:
            self.execute(f"PRAGMA cache_size = {int(self._old_cache_size)}")
            self._old_cache_size = None
