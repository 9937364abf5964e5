"""Rows prepared in a second process while the first one writes them: two cores, one import.

Reading, validating and shaping a row (CSV parsing, phone numbers, emails, the search entry's text)
is pure Python work that needs no database, and so is the worker's. The importing process keeps the
one transaction and does what must happen in order: duplicates and writes. Rows travel as plain
tuples in batches through a pipe whose small buffer keeps the worker at most a batch or two ahead.

A worker is started only for files large enough to repay its start-up; smaller files are prepared
inline. It is forked where the platform can (a spawned process would import the caller's main
script again); the child never touches the inherited database connection and leaves with
``os._exit``, so nothing of the parent's is closed or flushed twice. If the importing process dies,
the pipe breaks and the worker stops.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator
from typing import Any

from tscrm.core.errors import TscrmError
from tscrm.core.imports.reading import ReadError, TableReader
from tscrm.core.imports.records import PrepareContext, Record, RowError, RowPreparer
from tscrm.i18n import _

BATCH_ROWS = 2000
# Files smaller than this are prepared inline. A forked worker starts in a few milliseconds; 100,000
# rows (8 MB) import in 4.7 s with it against 6.0-6.9 s inline.
PARALLEL_FROM_BYTES = 1024 * 1024

Prepared = tuple[Record | None, list[RowError]]


def _produce(conn: Any, reader_args: dict[str, Any], context: PrepareContext, parent_end: Any = None) -> None:
    """The worker: read and prepare every row, send them in batches, then ("end", ...)."""
    if parent_end is not None:
        parent_end.close()  # a forked child holds a copy: without closing it, a dead parent goes unnoticed
    gc.disable()  # rows make no reference cycles; collections would only cost time
    try:
        preparer = RowPreparer(context)
        prepare = preparer.prepare
        with TableReader(**reader_args) as reader:
            batch: list[tuple] = []
            for raw in reader.rows():
                record, errors = prepare(raw)
                batch.append(
                    (record.to_wire() if record is not None else None, [(e.row, e.column, e.value, e.reason) for e in errors])
                )
                if len(batch) >= BATCH_ROWS:
                    conn.send(("rows", batch, reader.fraction_done()))
                    batch = []
            conn.send(("rows", batch, reader.fraction_done()))
        conn.send(("end", None, None))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        return
    except ReadError as exc:
        _send_quietly(conn, ("read_error", str(exc), None))
    except BaseException as exc:  # noqa: BLE001 - reported by the importing process, which owns the transaction
        _send_quietly(conn, ("error", f"{type(exc).__name__}: {exc}", None))
    finally:
        conn.close()


def _send_quietly(conn: Any, message: tuple) -> None:
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):
        pass


class RowStream:
    """The prepared rows of a file, from a worker process or inline; ``fraction`` for progress."""

    def __init__(self, reader: TableReader, context: PrepareContext, *, parallel: bool | None = None) -> None:
        self.reader = reader
        self.context = context
        if parallel is None:
            parallel = reader.info.size >= PARALLEL_FROM_BYTES and (multiprocessing.cpu_count() or 1) >= 2
        self.parallel = parallel
        self.fraction: float | None = 0.0
        self._process: Any = None

    def __iter__(self) -> Iterator[Prepared]:
        return self._from_worker() if self.parallel else self._inline()

    def _inline(self) -> Iterator[Prepared]:
        prepare = RowPreparer(self.context).prepare
        reader = self.reader
        for count, raw in enumerate(reader.rows(), start=1):
            if count % 1000 == 0:
                self.fraction = reader.fraction_done()
            yield prepare(raw)
        self.fraction = reader.fraction_done()

    def _from_worker(self) -> Iterator[Prepared]:
        info = self.reader.info
        reader_args = {"path": info.path, "encoding": info.encoding, "delimiter": info.delimiter, "sheet": info.sheet}
        methods = multiprocessing.get_all_start_methods()
        spawn = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        receive, send = spawn.Pipe(duplex=False)
        process = spawn.Process(target=_produce, args=(send, reader_args, self.context, receive), daemon=True, name="tscrm-import-reader")
        process.start()
        self._process = process
        send.close()  # only the worker writes: when it dies, recv() ends instead of waiting forever
        from_wire = Record.from_wire
        try:
            while True:
                try:
                    kind, payload, fraction = receive.recv()
                except EOFError:
                    raise TscrmError(_("The process reading the file stopped unexpectedly")) from None
                if kind == "rows":
                    self.fraction = fraction
                    for wire, errors in payload:
                        yield (from_wire(wire) if wire is not None else None), [RowError(*e) for e in errors]
                elif kind == "end":
                    return
                elif kind == "read_error":
                    raise ReadError(payload)
                else:
                    raise TscrmError(_("Reading the file failed: {reason}").format(reason=payload))
        finally:
            receive.close()
            self.close()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
