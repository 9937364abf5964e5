"""Bulk writes that bypass the ORM: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Measured on a million rows, SQLModel's ``add_all`` is tens of times slower than the driver's own
bulk path, so imports and other mass writes hand rows (tuples, in column order) to a
:class:`BulkWriter` bound to the session's connection: the rows join the session's transaction.

Values must be what the driver stores: :meth:`BulkWriter.time` turns an aware datetime into the
column's stored form (naive UTC text on SQLite), :meth:`BulkWriter.json` a dict into JSON text.

On SQLite a batch of rows travels as one JSON array and is inserted by one ``INSERT ... SELECT ...
FROM json_each(?)``: a single statement, during which sqlite3 lets go of the GIL. ``executemany``
needs the GIL back for every row, and while the importing thread keeps it busy preparing the next
rows, the writing thread spent three quarters of its time waiting for it (measured: 94,000 clients,
0.7 s of work in 2.9 s). One statement also fires the FTS trigger of ``search_entry`` for the whole
batch, which is about four times faster than one ``INSERT`` per row; the triggers still do all the
indexing, whatever the index looks like. Rows holding values JSON cannot carry (bytes, datetimes)
go through ``executemany``.
"""

from __future__ import annotations

import json
import queue
import re
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
        self._queue: queue.Queue[Callable[[], None] | None] | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._old_cache_size: int | None = None
        self._fts_tables: list[str] = []
        self._deferred_indexes: list[str] = []  # CREATE INDEX statements to run again in finish()

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
        self._run_or_queue(self._insert_job(table, columns, rows))

    def _run_or_queue(self, job: Callable[[], None]) -> None:
        if self._queue is not None:
            self._submit(job)
        else:
            job()

    def _insert_job(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], order_by: str | None = None) -> Callable[[], None]:
        """The insert, its rows packed here (in the caller's thread) and written when the job runs."""
        names = ",".join(columns)
        rows = rows if isinstance(rows, list) else list(rows)
        if not self.is_sqlite:
            return lambda: self._copy(table, names, rows)
        packed = _as_json(rows)
        if packed is not None:
            values = ",".join(f"value->>{i} AS {name}" for i, name in enumerate(columns))
            source = f"SELECT {values} FROM json_each(?)"
            if order_by:
                source = f"SELECT {names} FROM ({source}) ORDER BY {order_by}"
            return lambda: self._execute_now(f"INSERT INTO {table} ({names}) {source}", (packed,))
        # (``order_by`` only makes an index grow faster: rows JSON cannot carry go in as they come)
        marks = ",".join("?" * len(columns))
        return lambda: self._executemany_now(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def _copy(self, table: str, names: str, rows: list[Sequence[Any]]) -> None:
        cursor = self.dbapi.cursor()
        try:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
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
        self._executemany_now(sql, rows)

    def _executemany_now(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
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
        # deep enough that a long job (a chunk of search entries, about a second) does not stop the
        # caller: on a million rows 4 jobs cost 10 s against 32; each holds one packed chunk of rows
        self._queue = queue.Queue(maxsize=64)
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

    def insert_sorted(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], order_by: str) -> None:
        """Insert rows in the order of ``order_by``, an SQL expression of the columns (SQLite, rows that
        JSON can carry; others as they come). FTS5 flushes its pending index whenever a rowid is lower than the previous one,
        and the search index's rowids follow the name order: search entries go in sorted."""
        self._run_or_queue(self._insert_job(table, columns, rows, order_by if self.is_sqlite else None))

    def defer_indexes(self, table: str, keep_leading: Sequence[str] = ()) -> None:
        """SQLite: drop the secondary indexes of ``table`` now and build them again in :meth:`finish`.

        A row inserted at a random place of a large B-tree costs several times what sorting all the
        keys once costs (measured on 766,000 clients, 834,000 phones and 693,000 emails: 20.7 s
        of inserts against 11.1 s with the indexes built afterwards), so a large import into a
        small table is cheaper without them. The DROP and the CREATE are part of the import's
        transaction: a failed or killed import leaves the indexes as they were, and other
        connections read the last committed state, indexes included. Unique indexes stay (they
        check), and so do those whose first column is in ``keep_leading`` (the import's own
        lookups use them).
        """
        if not self.is_sqlite:
            return  # PostgreSQL would lock the table against every reader for the whole import
        self.drain()
        for name, sql in self._execute_now(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        ):
            first = re.search(r"\(\s*\"?(\w+)", sql)
            head = first.group(1) if first else ""
            if sql.upper().startswith("CREATE UNIQUE") or head in keep_leading:
                continue
            self._execute_now(f'DROP INDEX "{name}"')
            self._deferred_indexes.append(sql)

    def build_deferred_indexes(self) -> None:
        """Build the indexes :meth:`defer_indexes` dropped (each in one sorted pass)."""
        self.drain()
        statements, self._deferred_indexes = self._deferred_indexes, []
        for sql in statements:
            self._execute_now(sql)

    def finish(self) -> None:
        """Put back what the batch changed on the connection. Call before the commit."""
        self.stop_background()
        self.build_deferred_indexes()
        for name in self._fts_tables:
            self.execute(f"INSERT INTO {name}({name}, rank) VALUES ('hashsize', ?)", (_FTS_DEFAULT_HASHSIZE,))
        self._fts_tables = []
        self.reset_tuning()

    def abandon(self) -> None:
        """After a failure, before the rollback: no write may still be running on the connection."""
        self.stop_background(check=False)
        self._deferred_indexes = []  # the rollback puts them back
        self.reset_tuning()

    def reset_tuning(self) -> None:
        """The connection's own page cache again (also after a failure)."""
        if self._old_cache_size is not None:
            self.execute(f"PRAGMA cache_size = {int(self._old_cache_size)}")
            self._old_cache_size = None


def _as_json(rows: list[Sequence[Any]]) -> str | None:
    """The rows as one JSON array of arrays, or None when a value is not a JSON scalar."""
    try:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_not_json)
    except (TypeError, ValueError):
        return None


def _not_json(value: Any) -> Any:
    raise TypeError(type(value).__name__)

