"""Tables of the dialer area (migration 0006): call lists and their entries, the do-not-call register,
SMS templates and messages, and the scheduler's run log.

A call list entry moves ``pending → claimed → dialling → done`` (or ``skipped``). ``claimed`` means
"handed to one agent's dialer, not dialled yet" (safe to re-offer when that dialer died);
``dialling`` is written and committed *before* the call is placed, so a crash between placing the
call and recording its result leaves the entry in ``dialling``: reported, never dialled again
automatically. See tscrm.core.services.dialer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.models import _fk, _time
from tscrm.core.types import Money, StrEnumType

__all__ = [
    "CallList",
    "CallListEntry",
    "DialOutcome",
    "DoNotCall",
    "EntryState",
    "SchedulerRun",
    "SmsMessage",
    "SmsStatus",
    "SmsTemplate",
]


class EntryState(StrEnum):
    PENDING = "pending"  # waiting for an agent
    CLAIMED = "claimed"  # handed to one agent's dialer, not dialled yet
    DIALLING = "dialling"  # the call was (about to be) placed; the result is not recorded yet
    DONE = "done"  # called: ``outcome`` says how it went
    SKIPPED = "skipped"  # not called: ``skip_reason`` says why


class DialOutcome(StrEnum):
    # what the agent picks after an answered call
    INTERESTED = "interested"
    CALL_BACK = "call_back"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"
    # what the network said when nobody talked
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the agent hung up (skip or stop) while it rang
    INTERRUPTED = "interrupted"  # a dialer died while dialling; resolved by hand, result unknown


class CallList(SQLModel, table=True):
    __tablename__ = "call_list"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    owner_id: int | None = _fk("app_user.id")
    shared: bool = False  # other agents may work it too (each entry still goes to one agent)
    ring_timeout_s: int = 30
    gap_s: int = 5
    all_phones: bool = False  # every phone of a client, or only the first
    check_hours: bool = True  # skip numbers whose local time is outside the agent's working hours
    created_at: datetime = _time(default_now=True)


class CallListEntry(SQLModel, table=True):
    __tablename__ = "call_list_entry"
    __table_args__ = (
        UniqueConstraint("list_id", "position"),
        Index("ix_call_list_entry_list_state_position", "list_id", "state", "position"),
    )
    id: int | None = Field(default=None, primary_key=True)
    list_id: int = _fk("call_list.id", ondelete="CASCADE", nullable=False, index=False)
    position: int
    number: str = Field(max_length=20, index=True)  # E.164
    name: str | None = Field(default=None, max_length=300)  # the client's or lead's name when built
    client_id: int | None = _fk("client.id")
    lead_id: int | None = _fk("lead.id")
    state: EntryState = Field(default=EntryState.PENDING, sa_type=StrEnumType(EntryState, 10), nullable=False)
    claimed_by_id: int | None = _fk("app_user.id", index=False)
    claimed_at: datetime | None = _time()
    run_id: str | None = Field(default=None, max_length=40)  # the dialer run that holds the claim
    outcome: DialOutcome | None = Field(default=None, sa_type=StrEnumType(DialOutcome, 16), nullable=True)
    skip_reason: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    call_id: int | None = _fk("call.id", index=False)
    backend_call_id: str | None = Field(default=None, max_length=100)
    task_id: int | None = _fk("task.id", index=False)  # the "call back later" task
    dialled_at: datetime | None = _time()
    answered_at: datetime | None = _time()
    done_at: datetime | None = _time()


class DoNotCall(SQLModel, table=True):
    """A number that asked not to be called. Final: no later outcome clears it."""

    __tablename__ = "do_not_call"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    reason: str = Field(default="", max_length=300)
    set_by_id: int | None = _fk("app_user.id", index=False)
    set_at: datetime = _time(default_now=True)


class SmsTemplate(SQLModel, table=True):
    __tablename__ = "sms_template"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    text: str
    created_at: datetime = _time(default_now=True)


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the backend; the answer is not recorded yet
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # a run died while sending: maybe sent, never re-sent automatically


class SmsMessage(SQLModel, table=True):
    __tablename__ = "sms_message"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, index=True)
    client_id: int | None = _fk("client.id")
    lead_id: int | None = _fk("lead.id")
    author_id: int | None = _fk("app_user.id", index=False)
    text: str
    status: SmsStatus = Field(default=SmsStatus.QUEUED, sa_type=StrEnumType(SmsStatus, 10), nullable=False)
    error: str | None = Field(default=None, max_length=500)
    cost: Decimal | None = Field(default=None, sa_type=Money(), nullable=True)
    currency: str | None = Field(default=None, max_length=3)
    parts: int = 0
    attempts: int = 0
    batch_id: str | None = Field(default=None, max_length=40, index=True)
    # A delayed SMS (a task of type SMS): unique, so a task is sent at most once whatever happens.
    task_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("task.id", ondelete="SET NULL"), nullable=True, unique=True)
    )
    created_at: datetime = _time(default_now=True)
    sent_at: datetime | None = _time()


class SchedulerRun(SQLModel, table=True):
    """One ``tscrm schedule run``: when, where, and what it did."""

    __tablename__ = "scheduler_run"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _time(default_now=True, index=True)
    finished_at: datetime | None = _time()
    host: str = Field(default="", max_length=200)
    pid: int = 0
    status: str = Field(default="running", max_length=20)  # running, finished, failed
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
