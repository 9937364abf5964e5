"""Tables of calendar sync (migration 0008): CalDAV accounts and the per-item sync status.

The status table follows vdirsyncer: one row per (account, event) with the task's id, the event's
UID and href, the server's ETag and a content hash of what each side held when they were last in
sync. A side has changed only if its hash (or, remotely, first the ETag) differs from the row; an item
was deleted only if it has a row (it was there last time) and is gone now. ``task_id`` is set to NULL
when the task is deleted, so a deleted task still has its row and its remote event gets deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.models import _fk, _time

__all__ = ["CalendarAccount", "CalendarItem"]


class CalendarAccount(SQLModel, table=True):
    """One CalDAV calendar of one user (Google, iCloud, Nextcloud, Radicale, ...). Personal: only its
    owner sees it, uses it and has their tasks synced into it."""

    __tablename__ = "calendar_account"
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(max_length=200)
    url: str = Field(max_length=1000)  # the server (or principal) URL the user gave
    username: str = Field(max_length=320)
    secret_ref: str | None = Field(default=None, max_length=300)
    calendar: str = Field(default="", max_length=1000)  # the chosen calendar: its name or URL ("" = the first)
    calendar_url: str | None = Field(default=None, max_length=1000)  # resolved at the first sync
    active: bool = True
    last_sync_at: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _time(default_now=True)


class CalendarItem(SQLModel, table=True):
    """The last synced state of one event: written in the same transaction as the change it records."""

    __tablename__ = "calendar_item"
    __table_args__ = (
        UniqueConstraint("account_id", "uid"),
        Index("ix_calendar_item_account_href", "account_id", "href"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = _fk("calendar_account.id", ondelete="CASCADE", nullable=False, index=False)
    task_id: int | None = _fk("task.id", ondelete="SET NULL")
    uid: str = Field(max_length=500)
    href: str = Field(max_length=1000)
    etag: str | None = Field(default=None, max_length=300)  # None: a write to the server not confirmed yet
    local_hash: str | None = Field(default=None, max_length=64)
    remote_hash: str | None = Field(default=None, max_length=64)
    ignored: bool = False  # an event tscrm does not import (recurring, or not an event): left alone
    synced_at: datetime | None = _time()
