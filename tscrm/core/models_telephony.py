"""Tables of the telephony area (migration 0003), and the encrypted secrets store they share with mail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from tscrm.core.types import StrEnumType, UTCDateTime, utcnow

__all__ = ["StoredSecret", "TelephonyMode", "UserTelephony", "CompanyTelephony", "DidLabel", "PbxEvent"]


class StoredSecret(SQLModel, table=True):
    """A password or API secret, encrypted (Fernet) with the key in ``TSCRM_SECRET_KEY``.

    Used only where no system keyring exists (servers, cron); see tscrm.core.secrets.
    """

    __tablename__ = "stored_secret"
    name: str = Field(primary_key=True, max_length=200)
    ciphertext: str
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TelephonyMode(StrEnum):
    SOFTPHONE = "softphone"  # tscrm is the phone (SIP)
    DESK_PHONE = "desk_phone"  # a desk phone or the PBX app rings; tscrm shows the call and dials by callback
    SOFTPHONE_WORKING_HOURS = "softphone_working_hours"  # softphone inside working hours, desk phone outside


class UserTelephony(SQLModel, table=True):
    """One user's telephony settings; a user without a row has the defaults."""

    __tablename__ = "user_telephony"
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    mode: TelephonyMode = Field(
        default=TelephonyMode.DESK_PHONE, sa_type=StrEnumType(TelephonyMode, 30), nullable=False
    )
    sip_server: str | None = Field(default=None, max_length=200)
    sip_port: int = 5060
    sip_username: str | None = Field(default=None, max_length=100)
    sip_secret_ref: str | None = Field(default=None, max_length=300)
    widget_side: str = Field(default="right", max_length=5)  # "right" or "left"
    auto_lead_incoming: bool = False
    auto_lead_outgoing: bool = False


class CompanyTelephony(SQLModel, table=True):
    """The company's telephony settings: a single row (id 1); no row means the defaults."""

    __tablename__ = "company_telephony"
    id: int | None = Field(default=None, primary_key=True)
    zadarma_key: str | None = Field(default=None, max_length=100)
    zadarma_secret_ref: str | None = Field(default=None, max_length=300)
    route_to_owner: bool = False  # an incoming call of a known client rings its owner first
    dial_all_phones: bool = False  # the dialer tries every phone of a client, not only the first
    pbx_timezone: str | None = Field(default=None, max_length=64)  # None: the company's time zone
    # For calls no agent's own setting covers (a webhook before any extension rang): a lead in the pool.
    auto_lead_incoming: bool = False
    auto_lead_outgoing: bool = False


class DidLabel(SQLModel, table=True):
    """Calls to this number of ours (DID, E.164) come from this source (e.g. the number on a billboard)."""

    __tablename__ = "did_label"
    id: int | None = Field(default=None, primary_key=True)
    did: str = Field(max_length=32, unique=True)
    source_label_id: int = Field(
        sa_column=Column(Integer, ForeignKey("source_label.id", ondelete="CASCADE"), nullable=False, index=True)
    )


class PbxEvent(SQLModel, table=True):
    """One webhook the PBX sent, as received. A replay (same event, call and fields) is refused by the
    unique key, so an event is applied once; running apps read new rows by id."""

    __tablename__ = "pbx_event"
    __table_args__ = (UniqueConstraint("event", "pbx_call_id", "dedup_key"),)
    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=40)
    pbx_call_id: str = Field(default="", max_length=100, index=True)  # "" for events of no call (SMS)
    extension: str | None = Field(default=None, max_length=20, index=True)  # the agent's extension it names
    dedup_key: str = Field(max_length=64)  # sha256 of the event's fields
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
