"""Telephony in the domain: settings, the screen pop, call events, notes during a call, routing, PBX events.

Backends (tscrm.telephony: SIP, the Zadarma PBX) report what happens to a call; whoever receives the
report calls ``apply_call_event`` — the TUI for its own SIP calls, the webhook server for the PBX — and
this module keeps one ``Call`` row per backend call id (``Call.external_id``): started, answered,
ended, outcome, duration. The call's feed entry is written (by ``calls``) once the call has ended.

Call event kinds are the values of ``tscrm.telephony.base.CallEventKind`` as plain strings ("incoming",
"ringing", "answered", "ended"): core does not import telephony.

Notes typed during a call go to the feed of the call's client or lead. While the caller is still
unknown, a note is an ``Activity`` with no client and no lead (invisible in every feed) that carries
``data["call_id"]``; linking the call (``create_from_call``, or a later event that finds the number)
moves those notes to the new record's feed.

Visibility of the screen pop (``identify_number``): the name, company and owner of a known number are
always shown, so that an agent knows who is calling and whose client it is (to hand the call over);
the last activity is shown only to those who may open the record (``NumberMatch.visible``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tscrm.core.errors import Conflict, ConfigError, InvalidPhone, NotFound, ValidationError
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Call,
    CallDirection,
    CallOutcome,
    Client,
    Lead,
    SourceLabel,
    User,
)
from tscrm.core.models_telephony import CompanyTelephony, DidLabel, PbxEvent, TelephonyMode, UserTelephony
from tscrm.core.permissions import Actor, Right
from tscrm.core.phones import format_phone, parse_phone
from tscrm.core.secrets import delete_secret, load_secret, store_secret
from tscrm.core.services import activity, calls, clients, contacts, leads, users
from tscrm.core.services.company import get_company
from tscrm.core.timeutil import require_aware
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

__all__ = [
    "EVENT_KINDS",
    "NumberMatch",
    "DidSource",
    "TelephonyMode",
    "user_settings",
    "save_user_settings",
    "set_sip_password",
    "sip_password",
    "effective_mode",
    "company_settings",
    "save_company_settings",
    "set_zadarma_secret",
    "zadarma_secret",
    "pbx_timezone",
    "set_did_label",
    "remove_did_label",
    "did_labels",
    "source_for_did",
    "identify_number",
    "apply_call_event",
    "attach_recording",
    "call_by_external_id",
    "create_from_call",
    "add_call_note",
    "call_notes",
    "record_handover",
    "route_incoming",
    "inside_working_hours",
    "store_pbx_event",
    "pbx_events_after",
    "last_pbx_event_id",
]

# tscrm.telephony.base.CallEventKind values (core does not import telephony)
EVENT_KINDS = ("incoming", "ringing", "answered", "ended")
WIDGET_SIDES = ("right", "left")
COMPANY_ROW_ID = 1

# --- settings ----------------------------------------------------------------------------------

_USER_FIELDS = ("mode", "sip_server", "sip_port", "sip_username", "widget_side", "auto_lead_incoming", "auto_lead_outgoing")
_COMPANY_FIELDS = ("zadarma_key", "route_to_owner", "dial_all_phones", "pbx_timezone", "auto_lead_incoming", "auto_lead_outgoing")


def _require_self_or_admin(actor: Actor, user_id: int) -> None:
    if user_id != actor.id:
        actor.require(Right.MANAGE_TEAM)


def user_settings(session: Session, user_id: int) -> UserTelephony:
    """The user's telephony settings; the defaults (not saved) when they never set any."""
    row = session.get(UserTelephony, user_id)
    return row if row is not None else UserTelephony(user_id=user_id)


def _user_row(session: Session, user_id: int) -> UserTelephony:
    users.get_user(session, user_id)  # NotFound for a user that does not exist
    row = session.get(UserTelephony, user_id)
    if row is None:
        row = UserTelephony(user_id=user_id)
        session.add(row)
    return row


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValidationError(_("{field}: {value!r} is not yes or no").format(field=field, value=value), field)


def _optional(value: Any, max_length: int) -> str | None:
    text = ("" if value is None else str(value)).strip()
    return text[:max_length] or None


def _mode(value: Any) -> TelephonyMode:
    try:
        return TelephonyMode(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("mode: {value!r} is not one of {choices}").format(value=value, choices=", ".join(m.value for m in TelephonyMode)),
            "mode",
        ) from exc


def save_user_settings(session: Session, actor: Actor, user_id: int, **fields: Any) -> UserTelephony:
    """Change any of: mode, sip_server, sip_port, sip_username, widget_side, auto_lead_incoming,
    auto_lead_outgoing. One's own settings, or anyone's with the team right."""
    _require_self_or_admin(actor, user_id)
    unknown = set(fields) - set(_USER_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(_("Unknown telephony setting: {field}").format(field=", ".join(sorted(unknown))), field)
    row = _user_row(session, user_id)
    for key, value in fields.items():
        if key == "mode":
            row.mode = _mode(value)
        elif key == "sip_port":
            try:
                port = int(value)
            except (TypeError, ValueError):
                port = 0
            if not 1 <= port <= 65535:
                raise ValidationError(_("sip_port: {value!r} is not a port (1-65535)").format(value=value), "sip_port")
            row.sip_port = port
        elif key == "widget_side":
            side = str(value).strip().lower()
            if side not in WIDGET_SIDES:
                raise ValidationError(_("widget_side: choose right or left"), "widget_side")
            row.widget_side = side
        elif key in ("auto_lead_incoming", "auto_lead_outgoing"):
            setattr(row, key, _bool(value, key))
        elif key == "sip_server":
            row.sip_server = _optional(value, 200)
        elif key == "sip_username":
            row.sip_username = _optional(value, 100)
    session.flush()
    return row


def set_sip_password(session: Session, actor: Actor, user_id: int, password: str) -> None:
    """Keep the user's SIP password in the secrets store (an empty one forgets it)."""
    _require_self_or_admin(actor, user_id)
    row = _user_row(session, user_id)
    if not password:
        if row.sip_secret_ref:
            delete_secret(session, row.sip_secret_ref)
        row.sip_secret_ref = None
    else:
        row.sip_secret_ref = store_secret(session, f"sip/{user_id}/password", password)
    session.flush()


def sip_password(session: Session, user_id: int) -> str:
    """The clear SIP password; ConfigError when none was set."""
    ref = user_settings(session, user_id).sip_secret_ref
    if not ref:
        raise ConfigError(_("No SIP password is set: enter it in Settings → Telephony."))
    return load_secret(session, ref)


def inside_working_hours(user: User, now: datetime) -> bool:
    """``now`` falls inside the user's working hours, in the user's time zone."""
    try:
        local = require_aware(now, "now").astimezone(ZoneInfo(user.timezone or "UTC"))
    except (ValueError, KeyError):
        local = now
    span = users.working_hours(user).get(users.WEEKDAYS[local.weekday()])
    if span is None:
        return False
    hhmm = local.strftime("%H:%M")
    return span[0] <= hhmm < span[1]


def effective_mode(session: Session, user_id: int, now: datetime | None = None) -> TelephonyMode:
    """SOFTPHONE or DESK_PHONE as of ``now``: "softphone in working hours" resolves to one of the two."""
    mode = user_settings(session, user_id).mode
    if mode != TelephonyMode.SOFTPHONE_WORKING_HOURS:
        return mode
    user = users.get_user(session, user_id)
    inside = inside_working_hours(user, now or utcnow())
    return TelephonyMode.SOFTPHONE if inside else TelephonyMode.DESK_PHONE


def company_settings(session: Session) -> CompanyTelephony:
    """The company's telephony settings; the defaults (not saved) when nobody set any."""
    row = session.get(CompanyTelephony, COMPANY_ROW_ID)
    return row if row is not None else CompanyTelephony(id=COMPANY_ROW_ID)


def _company_row(session: Session) -> CompanyTelephony:
    row = session.get(CompanyTelephony, COMPANY_ROW_ID)
    if row is None:
        row = CompanyTelephony(id=COMPANY_ROW_ID)
        session.add(row)
    return row


def save_company_settings(session: Session, actor: Actor, **fields: Any) -> CompanyTelephony:
    """Change any of: zadarma_key, route_to_owner, dial_all_phones, pbx_timezone (None: the company's),
    auto_lead_incoming, auto_lead_outgoing. Needs the team right."""
    actor.require(Right.MANAGE_TEAM)
    unknown = set(fields) - set(_COMPANY_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(_("Unknown telephony setting: {field}").format(field=", ".join(sorted(unknown))), field)
    row = _company_row(session)
    for key, value in fields.items():
        if key == "zadarma_key":
            row.zadarma_key = _optional(value, 100)
        elif key == "pbx_timezone":
            name = _optional(value, 64)
            row.pbx_timezone = users.check_timezone(name) if name else None
        else:
            setattr(row, key, _bool(value, key))
    session.flush()
    return row


def set_zadarma_secret(session: Session, actor: Actor, secret: str) -> None:
    """Keep the Zadarma API secret (it also signs the webhooks) in the secrets store; empty forgets it."""
    actor.require(Right.MANAGE_TEAM)
    row = _company_row(session)
    if not secret:
        if row.zadarma_secret_ref:
            delete_secret(session, row.zadarma_secret_ref)
        row.zadarma_secret_ref = None
    else:
        row.zadarma_secret_ref = store_secret(session, "zadarma/secret", secret)
    session.flush()


def zadarma_secret(session: Session) -> str | None:
    """The clear Zadarma secret, or None when none was set."""
    ref = company_settings(session).zadarma_secret_ref
    return load_secret(session, ref) if ref else None


def pbx_timezone(session: Session) -> str:
    """The zone the PBX writes its times in (webhooks' call_start): the setting, else the company's."""
    zone = company_settings(session).pbx_timezone
    if zone:
        return zone
    try:
        return get_company(session).timezone or "UTC"
    except NotFound:
        return "UTC"


# --- DID → source label ------------------------------------------------------------------------


@dataclass(frozen=True)
class DidSource:
    did: str  # E.164
    label: str


def _did(session: Session, raw: str, field: str = "did") -> str:
    return parse_phone(raw, get_company(session).default_region, field=field, require_valid=False).e164


def set_did_label(session: Session, actor: Actor, did: str, label_name: str) -> DidSource:
    """Calls to ``did`` get the source label ``label_name`` (created when new). Needs the team right."""
    actor.require(Right.MANAGE_TEAM)
    number = _did(session, did)
    label_id = contacts.source_id(session, label_name)
    if label_id is None:
        raise ValidationError(_("label: must not be empty"), "label")
    row = session.exec(select(DidLabel).where(DidLabel.did == number)).first()
    if row is None:
        session.add(DidLabel(did=number, source_label_id=label_id))
    else:
        row.source_label_id = label_id
    session.flush()
    return DidSource(number, contacts.source_name(session, label_id) or "")


def remove_did_label(session: Session, actor: Actor, did: str) -> None:
    actor.require(Right.MANAGE_TEAM)
    number = _did(session, did)
    row = session.exec(select(DidLabel).where(DidLabel.did == number)).first()
    if row is None:
        raise NotFound(_("No source label for {did}").format(did=number))
    session.delete(row)
    session.flush()


def did_labels(session: Session) -> list[DidSource]:
    query = select(DidLabel.did, SourceLabel.name).join(SourceLabel, col(SourceLabel.id) == col(DidLabel.source_label_id))
    return [DidSource(did, name) for did, name in session.exec(query.order_by(col(DidLabel.did)))]


def source_for_did(session: Session, did: str | None) -> str | None:
    """The source label name of calls to ``did``, or None."""
    if not did:
        return None
    try:
        number = _did(session, did)
    except (InvalidPhone, NotFound):
        return None
    query = (
        select(SourceLabel.name)
        .join(DidLabel, col(SourceLabel.id) == col(DidLabel.source_label_id))
        .where(DidLabel.did == number)
    )
    return session.exec(query).first()


# --- the screen pop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberMatch:
    """Who is on the line, for the call widget."""

    kind: Literal["client", "lead"]
    id: int
    name: str
    company: str | None
    owner_id: int | None
    owner_name: str | None
    last_activity_text: str | None  # None when not ``visible``
    last_activity_at: datetime | None
    number: str = ""  # E.164
    visible: bool = True  # the actor may open the record (else only name, company and owner are shown)


def _e164(session: Session, number: str) -> str | None:
    try:
        return parse_phone(number, get_company(session).default_region, require_valid=False).e164
    except (InvalidPhone, NotFound):
        return None


def _last_activity(session: Session, kind: str, record_id: int) -> Activity | None:
    key = {"client_id": record_id} if kind == "client" else {"lead_id": record_id}
    entries = activity.feed(session, newest_first=True, limit=1, **key)
    return entries[0] if entries else None


def identify_number(session: Session, actor: Actor, number: str) -> NumberMatch | None:
    """The client (first) or open lead with this phone; the actor's own record first. None: unknown."""
    e164 = _e164(session, number)
    if e164 is None:
        return None
    client_id, lead_id = calls._match(session, e164, actor.id)
    record: Client | Lead | None
    if client_id is not None:
        kind: Literal["client", "lead"] = "client"
        record = session.get(Client, client_id)
    elif lead_id is not None:
        kind = "lead"
        record = session.get(Lead, lead_id)
    else:
        return None
    if record is None:
        return None
    visible = actor.can_see(record.owner_id)
    owner = session.get(User, record.owner_id) if record.owner_id is not None else None
    last = _last_activity(session, kind, record.id) if visible else None  # type: ignore[arg-type]
    return NumberMatch(
        kind=kind,
        id=record.id,  # type: ignore[arg-type]
        name=record.name,
        company=record.company_name,
        owner_id=record.owner_id,
        owner_name=owner.name if owner else None,
        last_activity_text=activity.display_text(last) if last is not None else None,
        last_activity_at=last.created_at if last is not None else None,
        number=e164,
        visible=visible,
    )


# --- call events -------------------------------------------------------------------------------


def _event_kind(kind: Any) -> str:
    value = str(getattr(kind, "value", kind)).strip().lower()
    if value not in EVENT_KINDS:
        raise ValidationError(
            _("kind: {value!r} is not one of {choices}").format(value=kind, choices=", ".join(EVENT_KINDS)), "kind"
        )
    return value


def _agent_for_extension(session: Session, extension: str | None) -> int | None:
    ext = (extension or "").strip()
    if not ext:
        return None
    return session.exec(select(User.id).where(User.extension == ext)).first()


def call_by_external_id(session: Session, call_id: str) -> Call | None:
    """The call a backend knows as ``call_id`` (SIP Call-ID, Zadarma pbx_call_id)."""
    key = (call_id or "").strip()
    if not key:
        return None
    return session.exec(select(Call).where(Call.external_id == key)).first()


def _new_call(session: Session, call: Call) -> Call:
    """Insert, or take the row another worker inserted for the same backend call a moment ago."""
    try:
        with session.begin_nested():
            session.add(call)
    except IntegrityError:
        existing = call_by_external_id(session, call.external_id or "")
        if existing is None:
            raise
        return existing
    return call


def _system_actor() -> Actor:
    """Who creates an automatic lead nobody is on the line for: nobody (author and creator stay empty)."""
    return Actor(id=None, name="PBX", email="")  # type: ignore[arg-type]


def _auto_lead_wanted(session: Session, direction: CallDirection, agent_id: int | None) -> bool:
    if direction == CallDirection.INTERNAL:
        return False
    key = "auto_lead_incoming" if direction == CallDirection.INBOUND else "auto_lead_outgoing"
    if getattr(company_settings(session), key):
        return True
    return agent_id is not None and bool(getattr(user_settings(session, agent_id), key))


def _utm(data: Mapping[str, Any] | None) -> dict[str, str]:
    if not data:
        return {}
    out: dict[str, str] = {}
    for key in leads.UTM_FIELDS:
        value = str(data.get(key) or "").strip()
        if value:
            out[key] = value[:200]
    return out


def _auto_lead(session: Session, call: Call, data: Mapping[str, Any] | None) -> Lead:
    """A lead for an unknown number: the agent's own, else in the pool; source from the DID, UTM from the PBX."""
    agent = session.get(User, call.agent_id) if call.agent_id is not None else None
    actor = users.actor_for(session, agent) if agent is not None else _system_actor()
    region = get_company(session).default_region
    contact = contacts.ContactInput(
        name=format_phone(call.their_number, region),
        phones=[contacts.PhoneInput(call.their_number)],
        source=source_for_did(session, call.source_did or call.our_number),
    )
    return leads.create_lead(session, actor, contact, to_pool=agent is None, utm=_utm(data))


def _move_call_notes(session: Session, call: Call) -> None:
    """Notes typed while the call had no client or lead join the feed it now belongs to."""
    session.flush()
    for entry in _orphan_notes(session, call.id):  # type: ignore[arg-type]
        entry.client_id = call.client_id
        entry.lead_id = call.lead_id


def _orphan_notes(session: Session, call_db_id: int) -> list[Activity]:
    query = select(Activity).where(
        col(Activity.client_id).is_(None),
        col(Activity.lead_id).is_(None),
        col(Activity.deal_id).is_(None),
        Activity.kind == ActivityKind.NOTE,
        Activity.data["call_id"].as_integer() == call_db_id,  # type: ignore[index]
    )
    return list(session.exec(query))


def _refresh_feed(session: Session, call: Call) -> None:
    """The call's feed entry, once it has ended (written and kept current by tscrm.core.services.calls)."""
    if call.ended_at is None:
        return
    session.flush()
    calls._write_feed(session, None, call)
    session.flush()


def _link(session: Session, call: Call, client_id: int | None, lead_id: int | None) -> None:
    call.client_id = client_id
    call.lead_id = lead_id
    _move_call_notes(session, call)
    _refresh_feed(session, call)


def apply_call_event(
    session: Session,
    *,
    call_id: str,
    kind: str,
    direction: CallDirection | str,
    number: str,
    at: datetime,
    agent_id: int | None = None,
    extension: str | None = None,
    outcome: CallOutcome | str | None = None,
    did: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> Call:
    """Record what a backend reported about call ``call_id`` (its own id, kept as ``Call.external_id``).

    One row per call however many reports arrive, in any order: a report fills what is still unknown
    and never undoes what is known. ``kind``: "incoming" / "ringing" (the call starts), "answered",
    "ended" (with ``outcome``; without one, answered or no answer). The agent is ``agent_id``, else the
    user whose extension is ``extension``; an "answered" report names who answered. ``did`` is our
    number that was called (its source label goes to automatic leads). ``data`` may carry
    ``duration`` (seconds talked, as the PBX counts them: on an answered end it sets the answer
    time), ``recording_ref`` and UTM tags (``utm_source``...). The feed entry appears when the call ends.
    """
    event = _event_kind(kind)
    key = (call_id or "").strip()
    if not key:
        raise ValidationError(_("call_id: must not be empty"), "call_id")
    moment = require_aware(at, "at")
    way = calls._direction(direction)
    result = calls._outcome(outcome)
    info = data or {}
    agent = agent_id if agent_id is not None else _agent_for_extension(session, extension)
    if agent is not None and session.get(User, agent) is None:
        raise NotFound(_("No user with id {id}").format(id=agent))
    region = get_company(session).default_region
    their, is_e164 = calls.normalise_number(number, region)
    our = None
    if did and did.strip():
        our = _e164(session, did) or did.strip()[:32]

    try:
        talked = max(0, int(float(str(info.get("duration") or 0))))
    except ValueError:
        talked = 0
    call = call_by_external_id(session, key)
    if call is None:
        call = _new_call(
            session,
            Call(
                external_id=key[:100],
                direction=way,
                their_number=their,
                our_number=our,
                source_did=our if way == CallDirection.INBOUND else None,
                agent_id=agent,
                started_at=moment - timedelta(seconds=talked) if event == "ended" else moment,
            ),
        )
    # who answered is the call's agent (an answered end names the extension that talked, in case the
    # answer itself was not reported); until then, the first extension it rang
    answered_by = event == "answered" or (event == "ended" and result == CallOutcome.ANSWERED)
    if call.agent_id is None or (answered_by and agent is not None):
        call.agent_id = agent if agent is not None else call.agent_id
    if our is not None and call.our_number is None:
        call.our_number = our
        if call.direction == CallDirection.INBOUND:
            call.source_did = our
    if moment < call.started_at and event in ("incoming", "ringing"):
        call.started_at = moment
    if event == "answered" and call.answered_at is None:
        call.answered_at = max(moment, call.started_at)
    if event == "ended":
        if call.ended_at is None:
            call.ended_at = max(moment, call.answered_at or call.started_at)
        if result is not None:
            call.outcome = result
        elif call.outcome is None:  # a repeated end without an outcome keeps the one known
            call.outcome = CallOutcome.ANSWERED if call.answered_at is not None else CallOutcome.NO_ANSWER
        if call.outcome == CallOutcome.ANSWERED and (call.answered_at is None or talked):
            # the PBX's talk time is the figure its own statistics and bills show: it wins
            call.answered_at = max(call.started_at, call.ended_at - timedelta(seconds=talked))
    recording = str(info.get("recording_ref") or "").strip()
    if recording:
        call.recording_ref = recording[:300]
    session.flush()

    if call.client_id is None and call.lead_id is None and is_e164 and call.their_number == their:
        client_id, lead_id = calls._match(session, their, call.agent_id)
        if client_id is None and lead_id is None and _auto_lead_wanted(session, call.direction, call.agent_id):
            lead_id = _auto_lead(session, call, info).id
        if client_id is not None or lead_id is not None:
            _link(session, call, client_id, lead_id)
            return call
    _refresh_feed(session, call)
    return call


def attach_recording(session: Session, call_id: str, recording_ref: str) -> Call | None:
    """The PBX says the recording of call ``call_id`` is ready; None when that call is unknown here."""
    call = call_by_external_id(session, call_id)
    if call is None:
        return None
    call.recording_ref = recording_ref[:300]
    _refresh_feed(session, call)
    return call


# --- during the call ---------------------------------------------------------------------------

RecordKind = Literal["client", "lead"]


def create_from_call(session: Session, actor: Actor, call_db_id: int, kind: RecordKind, name: str) -> tuple[str, int]:
    """The screen pop's "create client" / "create lead" for an unknown number: the record gets the
    call's number (and the DID's source label), the call and the notes typed so far join its feed."""
    call = calls.get_call(session, actor, call_db_id)
    if call.client_id is not None or call.lead_id is not None:
        raise Conflict(_("This call already belongs to a client or a lead"))
    e164 = _e164(session, call.their_number)
    if e164 is None:
        raise ValidationError(
            _("The number {number!r} cannot be saved as a phone").format(number=call.their_number), "number"
        )
    contact = contacts.ContactInput(
        name=name,
        phones=[contacts.PhoneInput(e164)],
        source=source_for_did(session, call.source_did or call.our_number),
    )
    if kind == "client":
        client = clients.create_client(session, actor, contact)
        _link(session, call, client.id, None)
        return "client", client.id  # type: ignore[return-value]
    if kind == "lead":
        lead = leads.create_lead(session, actor, contact)
        _link(session, call, None, lead.id)
        return "lead", lead.id  # type: ignore[return-value]
    raise ValidationError(_("kind: choose client or lead"), "kind")


def add_call_note(session: Session, actor: Actor, call_db_id: int, text: str) -> Activity:
    """A note typed during (or after) a call: on the feed of the call's client or lead; kept with
    the call until it has one. Whoever may see the call may note it."""
    call = calls.get_call(session, actor, call_db_id)
    body = (text or "").strip()
    if not body:
        raise ValidationError(_("text: a note must not be empty"), "text")
    entry = activity.record(
        session,
        ActivityKind.NOTE,
        author_id=actor.id,
        text=body,
        client_id=call.client_id,
        lead_id=call.lead_id,
        data={"call_id": call.id},
    )
    session.flush()
    return entry


def call_notes(session: Session, actor: Actor, call_db_id: int) -> list[Activity]:
    """The notes (and hand-overs) of one call, oldest first."""
    call = calls.get_call(session, actor, call_db_id)
    query = select(Activity).where(
        Activity.kind == ActivityKind.NOTE,
        Activity.data["call_id"].as_integer() == call.id,  # type: ignore[index]
    )
    if call.client_id is not None:
        query = query.where(Activity.client_id == call.client_id)
    elif call.lead_id is not None:
        query = query.where(Activity.lead_id == call.lead_id)
    else:
        query = query.where(col(Activity.client_id).is_(None), col(Activity.lead_id).is_(None))
    return list(session.exec(query.order_by(col(Activity.created_at), col(Activity.id))))


def record_handover(session: Session, actor: Actor, call_db_id: int, to_user_id: int) -> Activity:
    """Desk-phone mode has no transfer from tscrm: the agent transfers on the phone and records it here."""
    call = calls.get_call(session, actor, call_db_id)
    target = users.get_user(session, to_user_id)
    entry = activity.record(
        session,
        ActivityKind.NOTE,
        author_id=actor.id,
        text=Phrase(N_("Call handed over to {user}"), {"user": target.name}),
        client_id=call.client_id,
        lead_id=call.lead_id,
        data={"call_id": call.id, "handover_to": target.id},
    )
    session.flush()
    return entry


def route_incoming(session: Session, caller_number: str, now: datetime) -> str | None:
    """The extension to ring first for this caller: the owner of the client who calls, when
    "route to owner" is on and the owner is online (app heartbeat) inside their working hours.
    None: the PBX's normal scenario."""
    if not company_settings(session).route_to_owner:
        return None
    e164 = _e164(session, caller_number)
    if e164 is None:
        return None
    owners = sorted({c.owner_id for c in clients.find_by_phone(session, e164) if c.owner_id is not None})
    for owner_id in owners:
        user = session.get(User, owner_id)
        if user is None or not user.is_active or not user.extension:
            continue
        if users.is_online(user.last_seen_at, now) and inside_working_hours(user, now):
            return user.extension
    return None


# --- PBX events (webhooks) ---------------------------------------------------------------------


def _dedup_key(event: str, fields: Mapping[str, Any]) -> str:
    canonical = json.dumps({"event": event, **{str(k): v for k, v in fields.items()}}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _event_extension(event: str, payload: Mapping[str, Any]) -> str | None:
    """The agent's extension an event names: ``internal``, or on an answer the extension that answered."""
    extension = str(payload.get("internal") or "").strip()
    if not extension and event == "NOTIFY_ANSWER":
        destination = str(payload.get("destination") or "").strip()
        if destination.isdigit() and len(destination) <= 5:
            extension = destination
    return extension[:20] or None


def store_pbx_event(session: Session, event: str, fields: Mapping[str, Any]) -> PbxEvent | None:
    """Keep one webhook as received; None when the very same one was already stored (a replay)."""
    name = (event or "").strip()[:40]
    if not name:
        raise ValidationError(_("event: must not be empty"), "event")
    payload = {str(k): v for k, v in fields.items()}
    row = PbxEvent(
        event=name,
        pbx_call_id=str(payload.get("pbx_call_id") or "")[:100],
        extension=_event_extension(name, payload),
        dedup_key=_dedup_key(name, payload),
        payload=payload,
    )
    seen = session.exec(
        select(PbxEvent.id).where(
            PbxEvent.event == row.event, PbxEvent.pbx_call_id == row.pbx_call_id, PbxEvent.dedup_key == row.dedup_key
        )
    ).first()
    if seen is not None:
        return None
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # the same webhook, delivered twice at once
    return row


def pbx_events_after(session: Session, after_id: int, extension: str | None = None, *, limit: int = 500) -> list[PbxEvent]:
    """Events stored after ``after_id`` (oldest first). With ``extension``: the events of the calls
    that named that extension at some point (rang it, were answered or placed there) — including their
    start, end and recording, which name no extension or another one — and nothing else (no SMS,
    no calls that never came near this extension)."""
    query = select(PbxEvent).where(col(PbxEvent.id) > after_id)
    if extension:
        mine = select(PbxEvent.pbx_call_id).where(PbxEvent.extension == extension, PbxEvent.pbx_call_id != "")
        query = query.where((PbxEvent.extension == extension) | col(PbxEvent.pbx_call_id).in_(mine))
    return list(session.exec(query.order_by(col(PbxEvent.id)).limit(limit)))


def last_pbx_event_id(session: Session) -> int:
    """Where a freshly started app begins reading (0 when there are none)."""
    from sqlalchemy import func

    return int(session.exec(select(func.max(PbxEvent.id))).one() or 0)
