"""The new-mail counter the header shows: one per app, polled in a thread worker.

The sync (``tscrm mail sync``, cron or scheduler) writes ``mail_notification`` rows; the counter counts
the user's unseen ones every ``POLL_S`` seconds, refreshes the headers that show it, and pops a
notice when the count grows ("2 new emails"). The notification centre (ctrl+e) sets it back.
"""

from __future__ import annotations

import weakref
from typing import Any

from tscrm.i18n import _, ngettext

POLL_S = 10.0
FIRST_POLL_S = 1.0  # after the first screen is up: the count must not slow the start


class MailCounter:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.count: int | None = None  # None until the first poll answered
        self.headers: weakref.WeakSet = weakref.WeakSet()
        self._timer = None

    @classmethod
    def of(cls, app: Any) -> MailCounter:
        counter = getattr(app, "_tscrm_mail_counter", None)
        if counter is None:
            counter = cls(app)
            app._tscrm_mail_counter = counter
        return counter

    def attach(self, header: Any) -> None:
        """A header shows the count from now on (the first one starts the polling)."""
        self.headers.add(header)
        if self._timer is None:
            self._timer = self.app.set_interval(POLL_S, self.poll)
            self.app.set_timer(FIRST_POLL_S, self.poll)

    def poll(self) -> None:
        self.app.run_worker(self._count, thread=True, group="mail-counter", exclusive=True, exit_on_error=False)

    def _count(self) -> None:
        from tscrm.core.services.mail import unseen_count

        ctx = self.app.ctx
        with ctx.db.read() as session:
            count = unseen_count(session, ctx.actor.id)
        self.app.call_from_thread(self.set_count, count)

    def set_count(self, count: int) -> None:
        previous, self.count = self.count, count
        if previous is not None and count > previous:
            new = count - previous
            self.app.notify(
                ngettext("{count} new email (ctrl+e lists them)", "{count} new emails (ctrl+e lists them)", new).format(count=new),
                title=_("Mail"),
            )
        if previous != count:
            for header in list(self.headers):
                if header.is_attached:
                    header.refresh()

    def label(self) -> str | None:
        """"3 new emails", or None when there is nothing new (the header keeps its usual words)."""
        if not self.count:
            return None
        return ngettext("{count} new email", "{count} new emails", self.count).format(count=self.count)
