"""The tables of tscrm (SQLModel on SQLAlchemy 2).

Conventions: integer ids; times are timezone-aware UTC (``UTCDateTime``); money is ``Decimal``
(``Money``); phones are stored E.164 with their digits and reversed digits beside them so that
"ends with" and "contains" lookups use indexes instead of cleaning numbers inside queries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.types import Money, StrEnumType, UTCDateTime, utcnow


def _fk(target: str, ondelete: str = "SET NULL", nullable: bool = True, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


def _time(nullable: bool = True, default_now: bool = False, index: bool = False) -> Any:
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


# --- enumerations -----------------------------------------------------------------------------


class PhoneKind(StrEnum):
    WORK = "work"
    MOBILE = "mobile"
    HOME = "home"
    OTHER = "other"


class LeadStatus(StrEnum):
    UNPROCESSED = "unprocessed"
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    BAD_QUALITY = "bad_quality"


class DealStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DECISION_PENDING = "decision_pending"
    PAYMENT_EXPECTED = "payment_expected"
    WON = "won"
    CANCELLED = "cancelled"


FINAL_DEAL_STATUSES = frozenset({DealStatus.WON, DealStatus.CANCELLED})
DEAL_PIPELINE: tuple[DealStatus, ...] = tuple(DealStatus)


class TaskType(StrEnum):
    TASK = "task"
    CALL = "call"
    VIDEO = "video"
    SMS = "sms"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"


class CustomFieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class ActivityKind(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    STATUS_CHANGED = "status_changed"
    CLAIMED = "claimed"
    OWNER_CHANGED = "owner_changed"
    CONVERTED = "converted"
    NOTE = "note"
    CALL = "call"
    TASK = "task"
    TASK_DONE = "task_done"
    DEAL = "deal"
    TAGGED = "tagged"
    EMAIL = "email"
    SMS = "sms"


# --- company and team -------------------------------------------------------------------------


class Company(SQLModel, table=True):
    __tablename__ = "company"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    base_currency: str = Field(default="EUR", max_length=3)
    default_region: str | None = Field(default=None, max_length=2)
    dial_without_country_code: bool = False
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = _time(default_now=True)


class CurrencyRate(SQLModel, table=True):
    """An extra currency: one unit of ``currency`` is worth ``rate`` units of the base currency."""

    __tablename__ = "currency_rate"
    __table_args__ = (UniqueConstraint("company_id", "currency"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = _fk("company.id", ondelete="CASCADE", nullable=False)
    currency: str = Field(max_length=3)
    rate: Decimal = Field(sa_type=Money(scale=10), nullable=False)


class Group(SQLModel, table=True):
    __tablename__ = "user_group"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    rights: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    builtin: bool = False


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, unique=True)
    extension: str | None = Field(default=None, max_length=20, unique=True)
    phone: str | None = Field(default=None, max_length=20)
    group_id: int = _fk("user_group.id", ondelete="RESTRICT", nullable=False)
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="en", max_length=5)
    week_start: int = 0  # 0 = Monday ... 6 = Sunday
    password_hash: str | None = None
    is_active: bool = True
    last_seen_at: datetime | None = _time()
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_at: datetime = _time(default_now=True)


# --- labels, tags, custom fields --------------------------------------------------------------


class SourceLabel(SQLModel, table=True):
    __tablename__ = "source_label"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)


class Tag(SQLModel, table=True):
    __tablename__ = "tag"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    key: str = Field(max_length=100, unique=True)  # case-folded name: "VIP" and "vip" are one tag


class CustomField(SQLModel, table=True):
    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("entity", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=10)  # "client" or "lead"
    key: str = Field(max_length=64)
    label: str = Field(max_length=100)
    type: CustomFieldType = Field(default=CustomFieldType.TEXT, sa_type=StrEnumType(CustomFieldType, 10), nullable=False)
    choices: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    position: int = 0


# --- contacts ---------------------------------------------------------------------------------


class Client(SQLModel, table=True):
    __tablename__ = "client"
    __table_args__ = (
        Index("ix_client_owner_created", "owner_id", "created_at"),
        Index("ix_client_name", "name", "id"),
        Index("ix_client_company", "company_name", "id"),
        Index("ix_client_owner_name", "owner_id", "name", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    company_name: str | None = Field(default=None, max_length=300)
    position: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    owner_id: int | None = _fk("app_user.id", index=False)
    source_id: int | None = _fk("source_label.id")
    created_by_id: int | None = _fk("app_user.id", index=False)
    custom: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    external_ref: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _time(default_now=True, index=True)
    updated_at: datetime = _time(default_now=True)


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_owner_status", "owner_id", "status"),
        Index("ix_lead_status_created", "status", "created_at"),
        # covering indexes of the analytics' leads created / claimed / closed (see migration 0009)
        Index("ix_lead_created_cover", "created_at", "source_id", "owner_id"),
        Index("ix_lead_claimed_owner", "claimed_at", "owner_id"),
        Index("ix_lead_closed_cover", "closed_at", "owner_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    company_name: str | None = Field(default=None, max_length=300)
    position: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    status: LeadStatus = Field(default=LeadStatus.UNPROCESSED, sa_type=StrEnumType(LeadStatus, 20), nullable=False)
    owner_id: int | None = _fk("app_user.id", index=False)
    source_id: int | None = _fk("source_label.id")
    created_by_id: int | None = _fk("app_user.id", index=False)
    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    utm_term: str | None = Field(default=None, max_length=200)
    utm_content: str | None = Field(default=None, max_length=200)
    custom: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    client_id: int | None = _fk("client.id")  # the client it became when closed as finished
    external_ref: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _time(default_now=True)  # indexed by ix_lead_created_cover
    updated_at: datetime = _time(default_now=True)
    claimed_at: datetime | None = _time()
    closed_at: datetime | None = _time()


_ONE_OWNER = "(client_id IS NULL) <> (lead_id IS NULL)"


class Phone(SQLModel, table=True):
    """A phone of a client or of a lead (exactly one of the two)."""

    __tablename__ = "phone"
    __table_args__ = (CheckConstraint(_ONE_OWNER, name="phone_one_owner"),)
    id: int | None = Field(default=None, primary_key=True)
    client_id: int | None = _fk("client.id", ondelete="CASCADE")
    lead_id: int | None = _fk("lead.id", ondelete="CASCADE")
    kind: PhoneKind = Field(default=PhoneKind.WORK, sa_type=StrEnumType(PhoneKind, 10), nullable=False)
    e164: str = Field(max_length=20, index=True)
    # digits reversed: "numbers ending in 4567" becomes an indexed prefix lookup
    rdigits: str = Field(max_length=20, index=True)
    position: int = 0


class Email(SQLModel, table=True):
    __tablename__ = "email"
    __table_args__ = (CheckConstraint(_ONE_OWNER, name="email_one_owner"),)
    id: int | None = Field(default=None, primary_key=True)
    client_id: int | None = _fk("client.id", ondelete="CASCADE")
    lead_id: int | None = _fk("lead.id", ondelete="CASCADE")
    address: str = Field(max_length=320, index=True)  # stored lower-case
    position: int = 0


class ClientTag(SQLModel, table=True):
    __tablename__ = "client_tag"
    client_id: int = Field(
        sa_column=Column(Integer, ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    )
    tag_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class LeadTag(SQLModel, table=True):
    __tablename__ = "lead_tag"
    lead_id: int = Field(sa_column=Column(Integer, ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True))
    tag_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


# --- deals, tasks, calls ----------------------------------------------------------------------


class Deal(SQLModel, table=True):
    __tablename__ = "deal"
    __table_args__ = (
        Index("ix_deal_status_owner", "status", "owner_id"),
        # covering indexes of the analytics' deals created / closed (see migration 0009)
        Index("ix_deal_created_cover", "created_at", "owner_id", "status", "currency", "amount"),
        Index("ix_deal_closed_cover", "closed_at", "owner_id", "status", "currency", "amount"),
    )
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = _fk("client.id", ondelete="CASCADE", nullable=False)
    title: str = Field(max_length=300)
    amount: Decimal = Field(default=Decimal("0"), sa_type=Money(), nullable=False)
    currency: str = Field(default="EUR", max_length=3)
    status: DealStatus = Field(default=DealStatus.NEW, sa_type=StrEnumType(DealStatus, 20), nullable=False)
    owner_id: int | None = _fk("app_user.id", index=False)
    created_by_id: int | None = _fk("app_user.id", index=False)
    external_ref: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _time(default_now=True)  # indexed by ix_deal_created_cover
    updated_at: datetime = _time(default_now=True)
    closed_at: datetime | None = _time()


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        # covering indexes of the analytics' tasks due / done (see migration 0009)
        Index("ix_task_assignee_due_done", "assignee_id", "due_at", "completed_at"),
        Index("ix_task_due_cover", "due_at", "assignee_id", "completed_at"),
        Index("ix_task_completed_assignee", "completed_at", "assignee_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    type: TaskType = Field(default=TaskType.TASK, sa_type=StrEnumType(TaskType, 10), nullable=False)
    title: str = Field(max_length=300)
    description: str | None = None
    start_at: datetime | None = _time()
    due_at: datetime | None = _time()
    assignee_id: int | None = _fk("app_user.id", index=False)
    created_by_id: int | None = _fk("app_user.id", index=False)
    client_id: int | None = _fk("client.id", ondelete="CASCADE")
    lead_id: int | None = _fk("lead.id", ondelete="CASCADE")
    deal_id: int | None = _fk("deal.id", ondelete="CASCADE")
    completed_at: datetime | None = _time()
    sms_text: str | None = None
    meeting_url: str | None = Field(default=None, max_length=500)
    external_ref: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _time(default_now=True)
    # set on every UPDATE of the row (the ORM's onupdate): the calendar sync's "most recent change wins"
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True, sa_column_kwargs={"onupdate": utcnow})


class TaskParticipant(SQLModel, table=True):
    __tablename__ = "task_participant"
    task_id: int = Field(sa_column=Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), primary_key=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class Call(SQLModel, table=True):
    __tablename__ = "call"
    __table_args__ = (
        # covering indexes of the analytics' calls per agent / per day (see migration 0009)
        Index("ix_call_agent_cover", "agent_id", "started_at", "direction", "answered_at", "ended_at", "outcome"),
        Index("ix_call_started_cover", "started_at", "agent_id", "direction", "answered_at", "ended_at", "outcome"),
    )
    id: int | None = Field(default=None, primary_key=True)
    direction: CallDirection = Field(sa_type=StrEnumType(CallDirection, 10), nullable=False)
    our_number: str | None = Field(default=None, max_length=32)
    their_number: str = Field(max_length=32, index=True)
    agent_id: int | None = _fk("app_user.id", index=False)
    client_id: int | None = _fk("client.id")
    lead_id: int | None = _fk("lead.id")
    started_at: datetime = _time(default_now=True)
    answered_at: datetime | None = _time()
    ended_at: datetime | None = _time()
    outcome: CallOutcome | None = Field(default=None, sa_type=StrEnumType(CallOutcome, 12), nullable=True)
    recording_ref: str | None = Field(default=None, max_length=300)
    transcript: str | None = None
    source_did: str | None = Field(default=None, max_length=32)
    external_id: str | None = Field(default=None, max_length=100, unique=True)


# --- the activity feed ------------------------------------------------------------------------


class Activity(SQLModel, table=True):
    """One entry of the feed, linked to the client, lead and/or deal it concerns."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_client_time", "client_id", "created_at"),
        Index("ix_activity_lead_time", "lead_id", "created_at"),
        Index("ix_activity_deal_time", "deal_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: ActivityKind = Field(sa_type=StrEnumType(ActivityKind, 20), nullable=False)
    client_id: int | None = _fk("client.id", ondelete="CASCADE", index=False)
    lead_id: int | None = _fk("lead.id", ondelete="CASCADE", index=False)
    deal_id: int | None = _fk("deal.id", ondelete="CASCADE", index=False)
    author_id: int | None = _fk("app_user.id", index=False)
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_at: datetime = _time(default_now=True)


# --- universal search -------------------------------------------------------------------------


class SearchEntry(SQLModel, table=True):
    """One searchable record (client, lead or deal), kept current by the services and bulk paths.

    ``name_key`` is the folded name; ``text`` the folded name, company, emails and tags with a space
    before every word (so "a word starts with q" is the substring " q"); ``digits`` the phone digits.
    Migration 0002 adds the substring indexes (FTS5 trigram tables on SQLite, pg_trgm and tie-order
    B-trees on PostgreSQL); see tscrm.core.search.
    """

    __tablename__ = "search_entry"
    __table_args__ = (UniqueConstraint("kind", "ref_id"), Index("ix_searchentry_name_key", "name_key"))
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # "client", "lead" or "deal"
    ref_id: int
    owner_id: int | None = Field(default=None, index=True)
    name: str = Field(max_length=300)
    name_key: str = Field(max_length=300)
    text: str = ""
    digits: str = ""


from tscrm.core.models_import import *  # noqa

# The tables of the other areas live in their own modules, imported by the code that uses them, so that
# starting the app does not build forty table classes it does not need yet (~90 ms). Code that must
# see every table (migrations, "what points to this row", test clean-up) calls load_all_models().
AREA_MODEL_MODULES = (
    "tscrm.core.models_telephony",
    "tscrm.core.models_mail",
    "tscrm.core.models_mailing",
    "tscrm.core.models_dialer",
    "tscrm.core.models_calendar",
)


def load_all_models() -> None:
    """Register every table with ``SQLModel.metadata``."""
    import importlib

    for name in AREA_MODEL_MODULES:
        importlib.import_module(name)
