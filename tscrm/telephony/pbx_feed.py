"""Desk-phone mode outside the TUI: feed the PBX events that ``tscrm serve`` stores to a Zadarma backend.

In desk-phone mode call events reach tscrm only through the PBX's webhooks, which the webhook server
keeps in the ``pbx_event`` table. ``PbxEventFeed`` polls that table from a background thread (SQLite
and PostgreSQL alike), starting after the last event stored when it starts, turns each event of the
agent's extension (or of a call that involved it) into a ``CallEvent`` and hands it to
``ZadarmaCallBackend.deliver`` — what the TUI's phone does on every data change. ``tscrm dial run``
uses it so the auto-dialer hears how its callbacks go.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class PbxEventFeed:
    """``start()`` begins polling, ``stop()`` ends it (idempotent). ``db`` is a ``tscrm.core.db.Database``."""

    def __init__(self, db: Any, backend: Any, extension: str | None, *, interval: float = POLL_SECONDS) -> None:
        self._db = db
        self._backend = backend
        self.extension = (extension or "").strip() or None
        self.interval = interval
        self._after: int | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from tscrm.core.services import telephony

        if self._thread is not None:
            return
        with self._db.read() as session:
            self._after = telephony.last_pbx_event_id(session)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="pbx-event-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.poll()
            except Exception:  # a database hiccup must not end the feed: try again next round
                log.exception("reading the PBX events failed")
            self._stopped.wait(self.interval)

    def poll(self) -> int:
        """Deliver the events stored since the last poll; returns how many were delivered."""
        from tscrm.core.services import telephony
        from tscrm.telephony.zadarma import event_from_webhook

        if self._after is None:
            return 0
        with self._db.read() as session:
            rows = telephony.pbx_events_after(session, self._after, extension=self.extension)
            tz = telephony.pbx_timezone(session)
            payloads = [(int(row.id), dict(row.payload)) for row in rows]  # type: ignore[arg-type]
        delivered = 0
        for row_id, payload in payloads:
            self._after = max(self._after, row_id)
            event = event_from_webhook(payload, tz)
            # with an extension, pbx_events_after already kept only the calls that came near it
            if event is None:
                continue
            self._backend.deliver(event)
            delivered += 1
        return delivered
