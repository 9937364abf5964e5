"""Calls: the log of every inbound, outbound and internal call, tied to the client or lead on the line.

The telephony bridge logs calls without an actor (``actor_or_none`` is None) and may report the same
call several times as it progresses (ringing, answered, hung up, recording ready): the PBX's call id
(``external_id``) makes that idempotent, the later report updates the call and its feed entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.errors import InvalidPhone, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, ActivityKind, Call, CallDirection, CallOutcome, Client, Lead, User
from tscrm.core.permissions import Actor, Right
from tscrm.core.phones import digits_of, parse_phone
from tscrm.core.services import activity, clients, leads
from tscrm.core.services.company import get_company
from tscrm.core.timeutil import optional_aware, require_aware
from tscrm.i18n import N_, Phrase, _

OUTCOME_LABELS: dict[CallOutcome, str] = {
    CallOutcome.ANSWERED: N_("answered"),
    CallOutcome.NO_ANSWER: N_("no answer"),
    CallOutcome.BUSY: N_("busy"),
    CallOutcome.REJECTED: N_("rejected"),
    CallOutcome.FAILED: N_("failed"),
}


def call_duration(call: Call) -> int:
    """Seconds talked: from answer to hang-up (0 for a call nobody answered or still going)."""
    if call.answered_at is None or call.ended_at is None:
        return 0
    return max(0, int((call.ended_at - call.answered_at).total_seconds()))


def _direction(value: CallDirection | str) -> CallDirection:
    try:
        return CallDirection(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("direction: {value!r} is not one of {choices}").format(
                value=value, choices=", ".join(d.value for d in CallDirection)
            ),
            "direction",
        ) from exc


def _outcome(value: CallOutcome | str | None) -> CallOutcome | None:
    if value is None:
        return None
    try:
        return CallOutcome(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("outcome: {value!r} is not one of {choices}").format(
                value=value, choices=", ".join(o.value for o in CallOutcome)
            ),
            "outcome",
        ) from exc


def normalise_number(raw: str, region: str | None) -> tuple[str, bool]:
    """(number to store, whether it is E.164). Withheld numbers and extensions are kept as given:
    a PBX report must never be lost because of an odd caller id."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("their_number: must not be empty"), "their_number")
    try:
        return parse_phone(text, region, field="their_number").e164, True
    except InvalidPhone:
        return text[:32], False


def _match(session: Session, e164: str, agent_id: int | None) -> tuple[int | None, int | None]:
    """(client_id, lead_id) for the number: a client first, else an open lead; the agent's own first."""
    def pick(rows: list[Any]) -> int | None:
        if not rows:
            return None
        rows.sort(key=lambda r: (r.owner_id != agent_id, r.id))
        return rows[0].id

    client_id = pick(clients.find_by_phone(session, e164))
    if client_id is not None:
        return client_id, None
    return None, pick(leads.find_by_phone(session, e164))


def _check_links(session: Session, actor: Actor | None, client_id: int | None, lead_id: int | None) -> None:
    if actor is not None:
        if client_id is not None:
            clients.get_client(session, actor, client_id)
        if lead_id is not None:
            leads.get_lead(session, actor, lead_id)
        return
    if client_id is not None and session.get(Client, client_id) is None:
        raise NotFound(_("No client with id {id}").format(id=client_id))
    if lead_id is not None and session.get(Lead, lead_id) is None:
        raise NotFound(_("No lead with id {id}").format(id=lead_id))


def _check_agent(session: Session, actor: Actor | None, agent_id: int | None) -> None:
    if agent_id is None:
        return
    if actor is not None and agent_id != actor.id and not (actor.can(Right.EDIT) and actor.can(Right.SEE_ALL)):
        raise PermissionDenied(_("{user} may not log calls for other users").format(user=actor.name))
    if session.get(User, agent_id) is None:
        raise NotFound(_("No user with id {id}").format(id=agent_id))


def _feed_text(call: Call) -> Phrase:
    if call.direction == CallDirection.INBOUND:
        head = N_("Incoming call")
    elif call.direction == CallDirection.OUTBOUND:
        head = N_("Outgoing call")
    else:
        head = N_("Internal call")
    seconds = call_duration(call)
    if seconds:
        return Phrase(N_("{call}, {detail}"), {"call": head, "detail": f"{seconds // 60}:{seconds % 60:02d}"}, ("call",))
    if call.outcome is not None and call.outcome != CallOutcome.ANSWERED:
        return Phrase(N_("{call}, {detail}"), {"call": head, "detail": OUTCOME_LABELS[call.outcome]}, ("call", "detail"))
    return Phrase(head)


def _feed_data(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "direction": call.direction.value,
        "outcome": call.outcome.value if call.outcome else None,
        "duration": call_duration(call),
        "recording_ref": call.recording_ref,
        "number": call.their_number,
        "agent_id": call.agent_id,
    }


def _feed_entry(session: Session, call: Call) -> Activity | None:
    owner = Activity.client_id == call.client_id if call.client_id is not None else Activity.lead_id == call.lead_id
    query = select(Activity).where(
        owner,
        Activity.kind == ActivityKind.CALL,
        Activity.data["call_id"].as_integer() == call.id,  # type: ignore[index]
    )
    return session.exec(query).first()


def _write_feed(session: Session, actor: Actor | None, call: Call) -> None:
    """The call's entry on its client's or lead's feed: created once, then kept current."""
    if call.client_id is None and call.lead_id is None:
        return
    entry = _feed_entry(session, call)
    if entry is None:
        entry = activity.record(
            session,
            ActivityKind.CALL,
            author_id=actor.id if actor is not None else call.agent_id,
            client_id=call.client_id,
            lead_id=call.lead_id,
        )
        entry.created_at = call.started_at
    entry.data = _feed_data(call)
    activity.set_text(entry, _feed_text(call))


def log_call(
    session: Session,
    actor_or_none: Actor | None,
    *,
    direction: CallDirection | str,
    their_number: str,
    agent_id: int | None,
    started_at: datetime,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
    outcome: CallOutcome | str | None = None,
    our_number: str | None = None,
    recording_ref: str | None = None,
    transcript: str | None = None,
    source_did: str | None = None,
    external_id: str | None = None,
    client_id: int | None = None,
    lead_id: int | None = None,
) -> Call:
    """Log a call (or update the one already logged under ``external_id``) and show it on the feed."""
    actor = actor_or_none
    started = require_aware(started_at, "started_at")
    answered = optional_aware(answered_at, "answered_at")
    ended = optional_aware(ended_at, "ended_at")
    if answered is not None and answered < started:
        raise ValidationError(_("answered_at: before the call started"), "answered_at")
    if ended is not None and ended < (answered or started):
        raise ValidationError(_("ended_at: before the call started or was answered"), "ended_at")
    result = _outcome(outcome)
    if result is None and answered is not None:
        result = CallOutcome.ANSWERED
    number, is_e164 = normalise_number(their_number, get_company(session).default_region)
    _check_agent(session, actor, agent_id)
    _check_links(session, actor, client_id, lead_id)
    if client_id is None and lead_id is None and is_e164:
        client_id, lead_id = _match(session, number, agent_id)
    fields: dict[str, Any] = {
        "direction": _direction(direction),
        "their_number": number,
        "our_number": (our_number or "").strip() or None,
        "agent_id": agent_id,
        "client_id": client_id,
        "lead_id": lead_id,
        "started_at": started,
        "answered_at": answered,
        "ended_at": ended,
        "outcome": result,
        "recording_ref": recording_ref,
        "transcript": transcript,
        "source_did": source_did,
    }
    external = (external_id or "").strip() or None
    call = _existing(session, external)
    if call is None:
        call = Call(external_id=external, **fields)
        try:
            with session.begin_nested():  # another worker may log the same PBX call right now
                session.add(call)
        except IntegrityError:
            call = _existing(session, external)
            if call is None:
                raise
            _merge(call, fields)
    else:
        _merge(call, fields)
    session.flush()
    _write_feed(session, actor, call)
    session.flush()
    return call


def _existing(session: Session, external_id: str | None) -> Call | None:
    if external_id is None:
        return None
    return session.exec(select(Call).where(Call.external_id == external_id)).first()


def _merge(call: Call, fields: dict[str, Any]) -> None:
    """A later report of the same call: keep what it does not know (a hang-up report may lack the
    recording, an early report the end time); the client/lead found first stays."""
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("client_id", "lead_id") and (call.client_id or call.lead_id):
            continue
        setattr(call, key, value)


def get_call(session: Session, actor: Actor, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None or not (call.agent_id == actor.id or actor.can(Right.SEE_ALL)):
        raise NotFound(_("No call with id {id}").format(id=call_id))
    return call


# --- listing ----------------------------------------------------------------------------------


@dataclass
class CallFilter:
    direction: CallDirection | None = None
    outcome: CallOutcome | None = None
    agent_id: int | None = None
    started_from: datetime | None = None  # half-open: from <= started_at < to
    started_to: datetime | None = None
    number: str | None = None  # a full number in any format, or a fragment of digits
    client_id: int | None = None
    lead_id: int | None = None
    name: str | None = None  # calls of the clients/leads the universal search finds for this text


# A name search looks at the best matches only: enough for any name a person types.
NAME_MATCHES = 200


def _name_condition(session: Session, actor: Actor, text: str) -> Any:
    hits = search.search(session, actor, text, limit=NAME_MATCHES, kinds=("client", "lead")).hits
    client_ids = [h.id for h in hits if h.kind == "client"]
    lead_ids = [h.id for h in hits if h.kind == "lead"]
    conditions = []
    if client_ids:
        conditions.append(col(Call.client_id).in_(client_ids))
    if lead_ids:
        conditions.append(col(Call.lead_id).in_(lead_ids))
    return or_(*conditions) if conditions else false()


def _number_condition(session: Session, fragment: str) -> Any:
    """A full number matches exactly (indexed); a fragment matches the digits anywhere."""
    try:
        return Call.their_number == parse_phone(fragment, get_company(session).default_region).e164
    except InvalidPhone:
        digits = digits_of(fragment)
        if not digits:
            raise ValidationError(_("number: {value!r} has no digits").format(value=fragment), "number") from None
        return col(Call.their_number).contains(digits, autoescape=True)


def _filtered(session: Session, actor: Actor, filt: CallFilter, query: Select) -> Select:
    if not actor.can(Right.SEE_ALL):
        query = query.where(Call.agent_id == actor.id)
    if filt.agent_id is not None:
        query = query.where(Call.agent_id == filt.agent_id)
    if filt.direction is not None:
        query = query.where(Call.direction == _direction(filt.direction))
    if filt.outcome is not None:
        query = query.where(Call.outcome == _outcome(filt.outcome))
    if filt.started_from is not None:
        query = query.where(col(Call.started_at) >= optional_aware(filt.started_from, "started_from"))
    if filt.started_to is not None:
        query = query.where(col(Call.started_at) < optional_aware(filt.started_to, "started_to"))
    if filt.number:
        query = query.where(_number_condition(session, filt.number))
    if filt.client_id is not None:
        query = query.where(Call.client_id == filt.client_id)
    if filt.lead_id is not None:
        query = query.where(Call.lead_id == filt.lead_id)
    if filt.name and filt.name.strip():
        query = query.where(_name_condition(session, actor, filt.name))
    return query


def list_calls(
    session: Session, actor: Actor, filt: CallFilter | None = None, *, limit: int = 100, offset: int = 0
) -> list[Call]:
    """Newest first."""
    query = (
        _filtered(session, actor, filt or CallFilter(), select(Call))
        .order_by(col(Call.started_at).desc(), col(Call.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query))


def count_calls(session: Session, actor: Actor, filt: CallFilter | None = None) -> int:
    query = _filtered(session, actor, filt or CallFilter(), select(func.count()).select_from(Call))
    return int(session.exec(query).one())
