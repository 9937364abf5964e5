"""The tables of imports: the history of batches, their undo log, and saved column mappings.

An import batch writes all its rows in one transaction, so a batch either exists with all its
records or not at all. The undo log says what the batch did to each record: ``created`` (stored as
id ranges, a million created clients are a handful of rows) or ``updated`` (with the values the
record had before, to put them back). ``stamp`` is the ``updated_at`` the batch gave the records it
touched: a record whose ``updated_at`` differs at undo time was edited since, and undo leaves it be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.models import _fk, _time

__all__ = ["ImportBatch", "ImportRecord", "ImportStatus", "SavedMapping"]


class ImportStatus:
    """Values of ``ImportBatch.status`` (plain strings: the set may grow without a migration)."""

    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


class ImportBatch(SQLModel, table=True):
    """One import: who ran it, when, from what, with which mapping, and what came of it."""

    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # "clients", "leads" or "teamsale"
    file_name: str | None = Field(default=None, max_length=500)
    user_id: int | None = _fk("app_user.id")
    started_at: datetime = _time(default_now=True, index=True)
    finished_at: datetime | None = _time()
    status: str = Field(default=ImportStatus.DONE, max_length=20)
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    errors: int = 0
    mapping: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    # the first rejected rows (row, column, value, reason), for the history screen
    error_sample: list[Any] = Field(default_factory=list, sa_type=JSON, nullable=False)
    message: str | None = None
    undone_at: datetime | None = _time()
    undone_by_id: int | None = _fk("app_user.id", index=False)
    undo_report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)


class ImportRecord(SQLModel, table=True):
    """What one batch did to one record (or, for ``created``, to the id range record_id..last_id)."""

    __tablename__ = "import_record"
    __table_args__ = (Index("ix_import_record_entity_record", "entity", "record_id"),)
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = _fk("import_batch.id", ondelete="CASCADE", nullable=False)
    entity: str = Field(max_length=10)  # client, lead, deal, task, call
    action: str = Field(max_length=10)  # created or updated
    record_id: int
    last_id: int | None = None
    previous: dict[str, Any] | None = Field(default=None, sa_type=JSON, nullable=True)
    stamp: datetime | None = _time()


class SavedMapping(SQLModel, table=True):
    """A named column mapping (file column -> tscrm field), reused with ``--mapping NAME``."""

    __tablename__ = "saved_mapping"
    __table_args__ = (UniqueConstraint("entity", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=10)  # client or lead
    name: str = Field(max_length=100)
    columns: dict[str, str] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_by_id: int | None = _fk("app_user.id", index=False)
    created_at: datetime = _time(default_now=True)
