"""Named locks across processes, for work that must never run twice at once (the scheduler, one calendar's sync).

On PostgreSQL a lock is a session advisory lock on a connection of its own; on a SQLite file, an
exclusive ``flock`` on ``<database>.<name>-lock`` beside it. Both are released by the server / the
operating system when the process dies, so a killed run never leaves a lock behind.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

# "tscrm-schedule" folded into a signed 64-bit integer: the scheduler's key, fixed forever.
_FIXED_KEYS = {"schedule": 0x7473_6372_6D5F_7363 - (1 << 63)}
_memory_locks: dict[str, threading.Lock] = {}  # in-memory SQLite databases (tests)
_memory_guard = threading.Lock()


def pg_lock_key(name: str) -> int:
    """The advisory-lock key of a name: stable across processes and versions."""
    if name in _FIXED_KEYS:
        return _FIXED_KEYS[name]
    return int.from_bytes(hashlib.blake2b(f"tscrm-{name}".encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def exclusive_lock(db: Any, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block; yields False (at once) when somebody else holds it."""
    if db.is_postgres:
        key = pg_lock_key(name)
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            try:
                yield got
            finally:
                if got:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    except Exception:  # noqa: BLE001 - never give a connection holding the lock back to the pool
                        conn.invalidate()
        finally:
            conn.close()
        return
    path = db.sqlite_path
    if path is None:
        with _memory_guard:
            lock = _memory_locks.setdefault(name, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    handle = open(path.with_name(f"{path.name}.{name}-lock"), "a+b")  # noqa: SIM115 - closed below
    try:
        got = _try_lock_file(handle)
        try:
            yield got
        finally:
            if got:
                _unlock_file(handle)
    finally:
        handle.close()


def _try_lock_file(handle: Any) -> bool:
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    except OSError:
        return False


def _unlock_file(handle: Any) -> None:
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
