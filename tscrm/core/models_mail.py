"""Tables of the mail area (migration 0004): accounts, per-folder sync state, messages, exceptions,
new-mail notifications.

How a message reaches a feed: a ``MailMessage`` row per (account, message) and one ``Activity`` row
(kind ``email``) per client or lead it concerns, whose ``data["mail_message_id"]`` points back to the
message (no separate link table). UIDs, UIDVALIDITY and mod-sequences are unsigned 32/63-bit numbers
on the wire, hence BIGINT.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from tscrm.core.models import _fk, _time
from tscrm.core.types import StrEnumType

__all__ = [
    "FolderRole",
    "MailAccount",
    "MailAccountUser",
    "MailDirection",
    "MailException",
    "MailFolderState",
    "MailMessage",
    "MailNotification",
    "MailPreset",
    "MailSecurity",
]


class MailSecurity(StrEnum):
    SSL = "ssl"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"
    NONE = "none"  # plain text: only for loopback test servers


class MailPreset(StrEnum):
    GMAIL = "gmail"
    OUTLOOK = "outlook"
    YAHOO = "yahoo"
    ZOHO = "zoho"
    YANDEX = "yandex"
    CUSTOM = "custom"


class MailDirection(StrEnum):
    IN = "in"
    OUT = "out"


class FolderRole(StrEnum):
    INBOX = "inbox"
    SENT = "sent"


class MailAccount(SQLModel, table=True):
    """An IMAP + SMTP account. Personal (its owner) or shared with chosen users (``MailAccountUser``)."""

    __tablename__ = "mail_account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)  # stored lower-case
    preset: MailPreset = Field(default=MailPreset.CUSTOM, sa_type=StrEnumType(MailPreset, 10), nullable=False)
    imap_host: str = Field(max_length=255)
    imap_port: int
    imap_security: MailSecurity = Field(
        default=MailSecurity.SSL, sa_type=StrEnumType(MailSecurity, 10), nullable=False
    )
    smtp_host: str = Field(max_length=255)
    smtp_port: int
    smtp_security: MailSecurity = Field(
        default=MailSecurity.SSL, sa_type=StrEnumType(MailSecurity, 10), nullable=False
    )
    username: str = Field(max_length=320)
    secret_ref: str | None = Field(default=None, max_length=300)
    owner_id: int | None = _fk("app_user.id")
    shared: bool = False
    auto_lead: bool = False
    active: bool = True
    last_sync_at: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _time(default_now=True)


class MailAccountUser(SQLModel, table=True):
    """A user a shared account is shared with."""

    __tablename__ = "mail_account_user"
    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mail_account.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class MailFolderState(SQLModel, table=True):
    """Where the sync of one folder stands: written in the same transaction as the messages it covers."""

    __tablename__ = "mail_folder_state"
    __table_args__ = (UniqueConstraint("account_id", "folder"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = _fk("mail_account.id", ondelete="CASCADE", nullable=False, index=False)
    folder: str = Field(max_length=500)
    role: FolderRole = Field(sa_type=StrEnumType(FolderRole, 10), nullable=False)
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    highestmodseq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    synced_at: datetime | None = _time()


class MailMessage(SQLModel, table=True):
    """One message of one account (bodies as text; attachments listed, fetched on demand)."""

    __tablename__ = "mail_message"
    __table_args__ = (
        Index("ix_mail_message_account_mid", "account_id", "message_id"),
        Index("ix_mail_message_account_sent", "account_id", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = _fk("mail_account.id", ondelete="CASCADE", nullable=False, index=False)
    folder: str | None = Field(default=None, max_length=500)
    uid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    message_id: str = Field(max_length=500, index=True)  # the Message-ID header (or a stand-in hash)
    in_reply_to: str | None = Field(default=None, max_length=500)
    subject: str = Field(default="", sa_type=Text)
    sender: str = Field(default="", max_length=320)  # address, lower-case
    sender_name: str = Field(default="", max_length=300)
    recipients: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)  # To + Cc, lower-case
    sent_at: datetime | None = _time()
    direction: MailDirection = Field(sa_type=StrEnumType(MailDirection, 3), nullable=False)
    body_text: str = Field(default="", sa_type=Text)
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    created_at: datetime = _time(default_now=True)


class MailException(SQLModel, table=True):
    """An address (``who@example.com``) or a domain (``example.com``) whose mail is never imported."""

    __tablename__ = "mail_exception"
    id: int | None = Field(default=None, primary_key=True)
    pattern: str = Field(max_length=320, unique=True)  # lower-case
    created_by_id: int | None = _fk("app_user.id", index=False)
    created_at: datetime = _time(default_now=True)


class MailNotification(SQLModel, table=True):
    """New mail for one user: the header counter is their unseen ones, the notification centre lists them."""

    __tablename__ = "mail_notification"
    __table_args__ = (
        UniqueConstraint("user_id", "message_id"),
        Index("ix_mail_notification_user_seen", "user_id", "seen_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("app_user.id", ondelete="CASCADE", nullable=False, index=False)
    message_id: int = _fk("mail_message.id", ondelete="CASCADE", nullable=False)
    created_at: datetime = _time(default_now=True)
    seen_at: datetime | None = _time()
