"""``tscrm calendar sync``: two-way sync of each active calendar account with its owner's tasks.

Per account: log in, find the calendar, list every event's ETag (one PROPFIND), fetch (multiget)
only the events that are new or whose ETag moved (and those about to be overwritten, to keep what
tscrm does not manage), then apply each item's decision (tscrm.core.services.calendar_sync) in a
transaction of its own that also writes the item's status row:

- a change on the server applied to a task commits the task and its status together;
- a write to the server is *marked, then sent, then confirmed*: a new event's status row is committed
  (without ETag) before the PUT, and completed after it. A run killed in between leaves a row that the
  next run finishes (it PUTs the task again over whatever the first PUT left), so a re-run neither
  duplicates an event nor deletes one it does not know to be gone.

Before anything is written the run refuses (``CalendarSyncRefused``, nothing changed) when every
event the status knows vanished from one side at once. One failing account does not stop the others:
its error is saved on the account (``last_error``) and reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from tscrm.calendar import ical
from tscrm.calendar.dav import BATCH, CalendarSession, Changed
from tscrm.core.db import Database
from tscrm.core.errors import CalendarError, CalendarSyncRefused, TscrmError
from tscrm.core.locks import exclusive_lock
from tscrm.core.models import Task
from tscrm.core.models_calendar import CalendarAccount
from tscrm.core.services import calendar_sync as core
from tscrm.core.services.accounts_common import SyncReport, active_account_ids, sync_outcome
from tscrm.core.services.calendar_accounts import account_password, record_sync, set_calendar_url
from tscrm.core.services.calendar_sync import EventData, StatusRow, SyncCounts
from tscrm.i18n import _

SessionFactory = Callable[..., CalendarSession]


@dataclass
class AccountReport(SyncReport):
    refused: bool = False
    calendar: str = ""
    counts: SyncCounts = field(default_factory=SyncCounts)

    def record(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "calendar": self.calendar,
            "ok": self.ok,
            "refused": self.refused,
            "error": self.error,
            **self.counts.as_dict(),
        }


@dataclass
class _Account:
    id: int
    name: str
    url: str
    username: str
    password: str
    calendar: str
    calendar_url: str | None
    owner_id: int
    tz: str


def _load(db: Database, account_id: int) -> _Account:
    from tscrm.core.models import User

    with db.read() as session:
        account = session.get(CalendarAccount, account_id)
        if account is None:
            raise CalendarError(_("No calendar account with id {id}").format(id=account_id))
        owner = session.get(User, account.owner_id)
        return _Account(
            id=account_id,
            name=account.name,
            url=account.url,
            username=account.username,
            password=account_password(session, account),
            calendar=account.calendar,
            calendar_url=account.calendar_url,
            owner_id=account.owner_id,
            tz=owner.timezone if owner else "UTC",
        )


def sync_account(
    db: Database, account_id: int, *, force_delete: bool = False, connect: SessionFactory = CalendarSession, batch: int = BATCH
) -> AccountReport:
    """Sync one account; never raises for the account's own failures (they are in the report).
    ``force_delete`` lets a sync go on when one side looks wiped (its deletions are then applied)."""
    report = AccountReport(account_id=account_id, name=str(account_id))
    with sync_outcome(db, report, record_sync):
        try:
            account = _load(db, account_id)
            report.name = account.name
            with exclusive_lock(db, f"calendar-sync-{account_id}") as got:
                if not got:  # two syncs of one calendar at once could both create the event of a new task
                    raise CalendarError(
                        _("{account}: another sync of this account is running; nothing was done").format(account=account.name)
                    )
                with connect(account.url, account.username, account.password, label=account.name) as dav:
                    _Run(db, dav, account, report, force_delete, batch).run()
        except CalendarSyncRefused:
            report.refused = True  # sync_outcome notes the error
            raise
    return report


class _Run:
    """One sync of one account."""

    def __init__(self, db: Database, dav: CalendarSession, account: _Account, report: AccountReport, force: bool, batch: int) -> None:
        self.db, self.dav, self.account, self.report, self.force, self.batch = db, dav, account, report, force, batch
        self.counts = report.counts
        self.cal_url = ""
        self.listing: dict[str, str] = {}
        self.fetched: dict[str, tuple[str, str | None]] = {}
        self.parsed: dict[str, EventData | None] = {}
        self.local: dict[int, EventData] = {}
        self.known_uids: set[str] = set()

    # -- reading both sides ------------------------------------------------------------------

    def run(self) -> None:
        remote = self.dav.resolve(self.account.calendar, self.account.calendar_url)
        self.cal_url, self.report.calendar = remote.url, remote.name
        if remote.url != self.account.calendar_url:
            with self.db.write() as session:
                set_calendar_url(session, self.account.id, remote.url)
        self.listing = self.dav.etags(self.cal_url)
        with self.db.read() as session:
            rows = core.status_rows(session, self.account.id)
            for task in core.local_tasks(session, self.account.owner_id):
                self.local[task.id] = core.event_from_task(task, "", self.account.tz)  # type: ignore[index]
        by_href = {r.href: r for r in rows}
        self.known_uids = {r.uid for r in rows}
        wanted = []
        for href, etag in self.listing.items():
            row = by_href.get(href)
            if row is None or row.etag != etag:
                wanted.append(href)
            elif row.task_id in self.local and self.local[row.task_id].content_hash() != row.local_hash:
                wanted.append(href)  # about to be overwritten: keep what tscrm does not manage
        self.fetched = self.dav.fetch(self.cal_url, wanted, self.batch) if wanted else {}
        self.parsed = {href: ical.parse(data, self.account.tz) for href, (data, _etag) in self.fetched.items()}
        new_hrefs = self._match_moved(rows, [h for h in self.listing if h not in by_href])
        side = core.empty_side(rows, set(self.local), set(self.listing))
        if side and not self.force:
            known = sum(1 for r in rows if r.confirmed)
            where = _("the calendar {name}").format(name=self.report.calendar) if side == "remote" else "tscrm"
            raise CalendarSyncRefused(
                _(
                    "{account}: refused to sync: all {n} events synced last time are gone from {where}. Nothing was changed. "
                    "If they were really deleted, run: tscrm calendar sync --account {id} --force-delete"
                ).format(account=self.account.name, n=known, where=where, id=self.account.id)
            )
        seen_tasks = {r.task_id for r in rows if r.task_id is not None}
        for row in rows:
            self._guard(row.uid, self._row, row)
        for href in new_hrefs:
            self._guard(href, self._new_remote, href)
        for task_id, event in self.local.items():
            if task_id not in seen_tasks:
                self._guard(str(task_id), self._new_local, task_id, event)

    def _match_moved(self, rows: list[StatusRow], new_hrefs: list[str]) -> list[str]:
        """A new href holding the UID of a known event whose href is gone: the server moved it."""
        by_uid = {r.uid: r for r in rows if not r.ignored}
        rest = []
        for href in new_hrefs:
            event = self.parsed.get(href)
            row = by_uid.get(event.uid) if event is not None else None
            if row is not None and row.href not in self.listing:
                row.href = href
                if row.etag is not None:
                    row.etag = "moved"  # compare by content: the ETag of another href means nothing
            else:
                rest.append(href)
        return rest

    def _guard(self, what: str, func: Callable[..., None], *args: Any) -> None:
        """One item: a write the server refused because the event just changed is left for the next
        run; an item tscrm cannot take (e.g. an invalid task) is reported; a lost connection stops the run."""
        try:
            func(*args)
        except Changed:
            self.counts.skipped.append(_("{item}: changed on the server during the sync; the next sync takes it").format(item=what))
        except CalendarError:
            raise
        except (TscrmError, IntegrityError) as exc:
            self.counts.skipped.append(f"{what}: {exc}")

    # -- writing -----------------------------------------------------------------------------

    def _save(self, row_id: int | None, **values: Any) -> int:
        with self.db.write() as session:
            return core.save_status(session, self.account.id, row_id=row_id, **values)

    def _put(self, href: str, event: EventData, etag: str | None) -> tuple[str, str]:
        """Write ``event`` (over the fetched copy, if any); (new ETag, remote content hash)."""
        base = self.fetched.get(href, (None, None))[0] if etag else None
        text = ical.render(event, base)
        new_etag = self.dav.put(href, text, etag=etag)
        if not new_etag:  # a server that does not say: ask
            new_etag = self.dav.fetch(self.cal_url, [href]).get(href, ("", None))[1] or ""
        parsed = ical.parse(text, self.account.tz)
        return new_etag, (parsed or event).content_hash()

    def _remote_event(self, href: str) -> tuple[EventData | None, str | None]:
        data = self.fetched.get(href)
        return self.parsed.get(href), (data[1] if data else None) or self.listing.get(href)

    def _push(self, row: StatusRow, event: EventData, etag: str | None) -> None:
        etag_new, remote_hash = self._put(row.href, event, etag)
        self._save(row.id, task_id=row.task_id, uid=row.uid, href=row.href, etag=etag_new, local_hash=event.content_hash(), remote_hash=remote_hash)

    def _pull(self, row: StatusRow, remote: EventData, etag: str | None) -> None:
        """Apply the server's event to the row's task and save the status, in one transaction."""
        with self.db.write() as session:
            user, actor = core.owner_of(session, session.get(CalendarAccount, self.account.id))  # type: ignore[arg-type]
            task = session.get(Task, row.task_id)
            if task is None:
                return
            core.update_task_from_event(session, actor, task, remote, self.account.tz)
            local = core.event_from_task(task, row.uid, self.account.tz)
            core.save_status(
                session, self.account.id, row_id=row.id, task_id=task.id, uid=row.uid, href=row.href, etag=etag,
                local_hash=local.content_hash(), remote_hash=remote.content_hash(),
            )

    def _row(self, row: StatusRow) -> None:
        local = replace(self.local[row.task_id], uid=row.uid) if row.task_id in self.local else None
        etag_now = self.listing.get(row.href)
        if row.ignored:
            self._ignored(row, etag_now)
            return
        if not row.confirmed:  # a write a killed run did not confirm: finish it
            if local is not None:
                self._push(row, local, etag_now)
                self.counts.created_remote += 1
            else:
                if etag_now is not None:
                    self.dav.delete(row.href, etag=etag_now)
                with self.db.write() as session:
                    core.drop_status(session, row.id)
            return
        remote, etag = self._remote_event(row.href) if etag_now is not None else (None, None)
        if etag_now is not None and etag_now != row.etag and remote is None:
            self.counts.skipped.append(_("{item}: no longer an event tscrm can sync (recurring?); left alone").format(item=row.href))
            return
        local_changed = local is not None and local.content_hash() != row.local_hash
        remote_changed = remote is not None and remote.content_hash() != row.remote_hash
        if local is not None and etag_now is not None:
            self._both_present(row, local, remote, etag, etag_now, local_changed, remote_changed)
        elif local is not None:  # gone from the server
            if local_changed:  # changed here, deleted there: the change wins
                self._push(row, local, None)
                self.counts.created_remote += 1
            else:
                self._delete_local(row)
        elif etag_now is not None:  # the task is gone (or left the calendar)
            if remote_changed:  # deleted here, changed there: the change wins
                self._new_remote(row.href, row_id=row.id)
            else:
                self.dav.delete(row.href, etag=etag_now)
                with self.db.write() as session:
                    core.drop_status(session, row.id)
                self.counts.deleted_remote += 1
        else:
            with self.db.write() as session:
                core.drop_status(session, row.id)

    def _both_present(
        self, row: StatusRow, local: EventData, remote: EventData | None, etag: str | None, etag_now: str,
        local_changed: bool, remote_changed: bool,
    ) -> None:
        if not local_changed and not remote_changed:
            if etag_now != row.etag:  # a new ETag for the same content (or a moved href)
                self._save(row.id, task_id=row.task_id, uid=row.uid, href=row.href, etag=etag_now, local_hash=row.local_hash, remote_hash=remote.content_hash() if remote else row.remote_hash)
            self.counts.unchanged += 1
            return
        if local_changed and not remote_changed:
            self._push(row, local, etag_now)
            self.counts.updated_remote += 1
            return
        assert remote is not None
        if not local_changed:
            self._pull(row, remote, etag)
            self.counts.updated_local += 1
            return
        if remote.same_content(local) or remote.same_content(replace(local, kind=remote.kind)):
            self._save(row.id, task_id=row.task_id, uid=row.uid, href=row.href, etag=etag, local_hash=local.content_hash(), remote_hash=remote.content_hash())
            self.counts.unchanged += 1
            return
        keep_local = core.local_wins_times(local.last_modified, remote.last_modified)
        if keep_local:
            self._push(row, local, etag_now)
            self.counts.updated_remote += 1
        else:
            self._pull(row, remote, etag)
            self.counts.updated_local += 1
        with self.db.write() as session:
            user, actor = core.owner_of(session, session.get(CalendarAccount, self.account.id))  # type: ignore[arg-type]
            task = session.get(Task, row.task_id)
            if task is not None:
                core.record_conflict(session, actor, task, "local" if keep_local else "remote", remote if keep_local else local, self.account.name)
        self.counts.conflicts.append(
            {"task_id": row.task_id, "uid": row.uid, "kept": "crm" if keep_local else "calendar", "lost_summary": (remote if keep_local else local).summary}
        )

    def _ignored(self, row: StatusRow, etag_now: str | None) -> None:
        if etag_now is None:
            with self.db.write() as session:
                core.drop_status(session, row.id)
            return
        if etag_now != row.etag:
            if self.parsed.get(row.href) is not None:  # it became an event tscrm takes
                with self.db.write() as session:
                    core.drop_status(session, row.id)
                self._new_remote(row.href)
                return
            self._save(row.id, task_id=None, uid=row.uid, href=row.href, etag=etag_now, local_hash=None, remote_hash=None, ignored=True)
        self.counts.ignored += 1

    def _delete_local(self, row: StatusRow) -> None:
        with self.db.write() as session:
            user, actor = core.owner_of(session, session.get(CalendarAccount, self.account.id))  # type: ignore[arg-type]
            task = session.get(Task, row.task_id)
            if task is not None:
                core.delete_task_for_event(session, actor, task, self.account.name)
            core.drop_status(session, row.id)
        self.counts.deleted_local += 1

    def _new_remote(self, href: str, row_id: int | None = None) -> None:
        """An event new to tscrm: a new task of the owner (or a resource tscrm leaves alone)."""
        event, etag = self._remote_event(href)
        if event is not None and row_id is None and event.uid in self.known_uids:
            self.counts.skipped.append(_("{item}: the same UID as another event; left alone").format(item=href))
            event = None
        if event is None:
            uid = "href:" + href
            self._save(row_id, task_id=None, uid=uid[:500], href=href, etag=self.listing.get(href), local_hash=None, remote_hash=None, ignored=True)
            self.counts.ignored += 1
            return
        with self.db.write() as session:
            user, actor = core.owner_of(session, session.get(CalendarAccount, self.account.id))  # type: ignore[arg-type]
            task = core.create_task_from_event(session, actor, event, self.account.tz)
            local = core.event_from_task(task, event.uid, self.account.tz)
            core.save_status(
                session, self.account.id, row_id=row_id, task_id=task.id, uid=event.uid, href=href, etag=etag,
                local_hash=local.content_hash(), remote_hash=event.content_hash(),
            )
        self.counts.created_local += 1

    def _new_local(self, task_id: int, event: EventData) -> None:
        """A task new to the calendar: mark (status row without ETag), PUT, confirm."""
        uid = f"tscrm-{uuid.uuid4().hex}"
        href = self.dav.href_for(self.cal_url, uid)
        event = replace(event, uid=uid)
        row_id = self._save(None, task_id=task_id, uid=uid, href=href, etag=None, local_hash=None, remote_hash=None)
        etag, remote_hash = self._put(href, event, None)
        self._save(row_id, task_id=task_id, uid=uid, href=href, etag=etag, local_hash=event.content_hash(), remote_hash=remote_hash)
        self.counts.created_remote += 1


def due_accounts(db: Database, account_ids: list[int] | None = None) -> list[int]:
    """Active accounts (all, or those named), in id order."""
    return active_account_ids(db, CalendarAccount, account_ids)


def sync_all(db: Database, account_ids: list[int] | None = None, *, force_delete: bool = False, connect: SessionFactory = CalendarSession) -> list[AccountReport]:
    """Sync every active account (or those named); one account's failure does not stop the others."""
    return [sync_account(db, aid, force_delete=force_delete, connect=connect) for aid in due_accounts(db, account_ids)]
