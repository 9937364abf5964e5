"""Tables of the mailing area (see its migration under tscrm/core/migrations/versions/).

- ``mail_signature``: a named signature template, personal (owner) or for everyone (no owner).
- ``mailing``: one sending to up to 100 recipients (a single mail is a mailing of one).
- ``mailing_recipient``: one row per recipient, committed before and after its message is sent, so a
  re-run resumes where the last one stopped and never sends a message twice (see
  tscrm.core.services.mailing).
- ``task_reminder``: at most one reminder per task (unique ``task_id``), inserted before the email
  goes out; ``sent_at`` is stamped after it went out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.models import _fk, _time
from tscrm.core.types import StrEnumType

__all__ = ["MailSignature", "Mailing", "MailingRecipient", "MailingStatus", "RecipientStatus", "TaskReminder"]


class MailingStatus(StrEnum):
    DRAFT = "draft"  # recipients chosen, nothing sent yet
    SENDING = "sending"  # some recipients are still pending
    DONE = "done"  # every recipient sent or failed


class RecipientStatus(StrEnum):
    PENDING = "pending"  # not tried yet
    SENDING = "sending"  # claimed by a run that has not reported back (a crash leaves it here)
    SENT = "sent"
    FAILED = "failed"


class MailSignature(SQLModel, table=True):
    __tablename__ = "mail_signature"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    text: str = ""
    owner_id: int | None = _fk("app_user.id", ondelete="CASCADE")  # None: a signature for everyone
    created_at: datetime = _time(default_now=True)


class Mailing(SQLModel, table=True):
    __tablename__ = "mailing"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = _fk("mail_account.id")
    subject: str = Field(max_length=998)
    body: str = ""
    signature_id: int | None = _fk("mail_signature.id", index=False)
    created_by: int | None = _fk("app_user.id")
    created_at: datetime = _time(default_now=True, index=True)
    status: MailingStatus = Field(
        default=MailingStatus.DRAFT, sa_type=StrEnumType(MailingStatus, 10), nullable=False
    )
    in_reply_to: str | None = Field(default=None, max_length=998)  # a reply: the Message-ID answered


class MailingRecipient(SQLModel, table=True):
    __tablename__ = "mailing_recipient"
    __table_args__ = (
        UniqueConstraint("mailing_id", "address"),
        Index("ix_mailing_recipient_status", "mailing_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    mailing_id: int = _fk("mailing.id", ondelete="CASCADE", nullable=False, index=False)
    client_id: int | None = _fk("client.id")
    lead_id: int | None = _fk("lead.id")
    address: str = Field(max_length=320)
    status: RecipientStatus = Field(
        default=RecipientStatus.PENDING, sa_type=StrEnumType(RecipientStatus, 10), nullable=False
    )
    error: str | None = None
    sent_at: datetime | None = _time()
    message_id: str | None = Field(default=None, max_length=998)


class TaskReminder(SQLModel, table=True):
    __tablename__ = "task_reminder"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(
        sa_column=Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    created_at: datetime = _time(default_now=True)  # when a run took it on
    sent_at: datetime | None = _time()
    error: str | None = None
