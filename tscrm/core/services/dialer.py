"""Call lists for the auto-dialer: building them, handing entries to agents, recording what happened.

An entry's life (``tscrm.core.models_dialer.EntryState``)::

    pending ──claim──▶ claimed ──mark_dialling──▶ dialling ──record_*──▶ done
       ▲                  │                          │
       └──release/stale───┘                          └─ a dialer died here: stays "dialling",
    pending ──flagged / outside hours / agent skip──▶ skipped        reported by ``resume``

- ``claim_next`` is one conditional UPDATE (``... WHERE state = 'pending'``), the technique of
  ``leads.claim_lead``: two agents sharing a list never get the same entry, on SQLite (write
  transactions are serialised) and on PostgreSQL (the row lock makes the loser's UPDATE re-check its
  condition and match nothing; candidates are read with ``FOR UPDATE SKIP LOCKED``).
- A claim that was never dialled is harmless: ``resume`` gives back the agent's own claims of
  earlier runs, and a claim older than ``STALE_CLAIM`` is re-offered to anyone. The dialer must win
  ``mark_dialling`` (conditional on its own run id) before placing the call, so a claim taken over
  meanwhile is never dialled by two agents.
- ``mark_dialling`` is committed *before* the call is placed. A crash between placing the call and
  recording its result therefore leaves the entry in ``dialling``: ``resume`` reports it
  ("interrupted") and nothing dials it again unless the agent says so (``resolve_interrupted``).
- "Do not call" is final: ``set_do_not_call`` only ever adds, and no outcome clears it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tscrm.core.errors import (
    Conflict,
    InvalidPhone,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tscrm.core.models import (
    ActivityKind,
    CallDirection,
    CallOutcome,
    Client,
    ClientTag,
    Lead,
    LeadTag,
    Phone,
    Tag,
    TaskType,
    User,
)
from tscrm.core.models_dialer import (
    CallList,
    CallListEntry,
    DialOutcome,
    DoNotCall,
    EntryState,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.phones import parse_phone
from tscrm.core.services import activity, calls, clients, contacts, leads, tasks, users
from tscrm.core.services.company import get_company
from tscrm.core.text import fold
from tscrm.core.timeutil import optional_aware
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

DEFAULT_RING_TIMEOUT_S = 30
DEFAULT_GAP_S = 5
# A claim nobody dialled for this long belongs to a dialer that died or stopped: re-offer it.
STALE_CLAIM = timedelta(minutes=2)

AGENT_OUTCOMES: tuple[DialOutcome, ...] = (
    DialOutcome.INTERESTED,
    DialOutcome.CALL_BACK,
    DialOutcome.NOT_INTERESTED,
    DialOutcome.WRONG_NUMBER,
    DialOutcome.DO_NOT_CALL,
)
OUTCOME_LABELS: dict[DialOutcome, str] = {
    DialOutcome.INTERESTED: N_("interested"),
    DialOutcome.CALL_BACK: N_("call back later"),
    DialOutcome.NOT_INTERESTED: N_("not interested"),
    DialOutcome.WRONG_NUMBER: N_("wrong number"),
    DialOutcome.DO_NOT_CALL: N_("do not call"),
    DialOutcome.NO_ANSWER: N_("no answer"),
    DialOutcome.BUSY: N_("busy"),
    DialOutcome.REJECTED: N_("rejected"),
    DialOutcome.FAILED: N_("failed"),
    DialOutcome.CANCELLED: N_("cancelled"),
    DialOutcome.INTERRUPTED: N_("interrupted"),
}
STATE_LABELS: dict[EntryState, str] = {
    EntryState.PENDING: N_("to call"),
    EntryState.CLAIMED: N_("next"),
    EntryState.DIALLING: N_("dialling"),
    EntryState.DONE: N_("done"),
    EntryState.SKIPPED: N_("skipped"),
}
# Skip reasons are stored as these keys (translated when shown, see ``skip_reason_text``).
SKIP_DO_NOT_CALL = "do_not_call"
SKIP_OUTSIDE_HOURS = "outside_hours"
SKIP_BY_AGENT = "by_agent"
SKIP_DUPLICATE = "duplicate"
SKIP_REASONS: dict[str, str] = {
    SKIP_DO_NOT_CALL: N_("on the do-not-call list"),
    SKIP_OUTSIDE_HOURS: N_("outside working hours"),
    SKIP_BY_AGENT: N_("skipped by the agent"),
    SKIP_DUPLICATE: N_("already in the list"),
}
NETWORK_OUTCOMES: dict[CallOutcome, DialOutcome] = {
    CallOutcome.NO_ANSWER: DialOutcome.NO_ANSWER,
    CallOutcome.BUSY: DialOutcome.BUSY,
    CallOutcome.REJECTED: DialOutcome.REJECTED,
    CallOutcome.FAILED: DialOutcome.FAILED,
}
_CALL_OUTCOME: dict[DialOutcome, CallOutcome] = {v: k for k, v in NETWORK_OUTCOMES.items()}
_CALL_OUTCOME[DialOutcome.CANCELLED] = CallOutcome.NO_ANSWER


def skip_reason_text(reason: str | None) -> str:
    """The stored reason in the current language ("outside_hours: 22:10 America/New_York" keeps its detail)."""
    if not reason:
        return ""
    key, _sep, detail = reason.partition(": ")
    label = SKIP_REASONS.get(key)
    if label is None:
        return reason
    return f"{_(label)} ({detail})" if detail else _(label)


def parse_outcome(value: DialOutcome | str) -> DialOutcome:
    try:
        outcome = DialOutcome(str(value).strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        outcome = None
    if outcome not in AGENT_OUTCOMES:
        raise ValidationError(
            _("outcome: {value!r} is not one of {choices}").format(value=value, choices=", ".join(o.value for o in AGENT_OUTCOMES)),
            "outcome",
        )
    return outcome  # type: ignore[return-value]


# --- the do-not-call register -------------------------------------------------------------------


def _e164(session: Session, number: str, field_name: str = "number") -> str:
    return parse_phone(number, get_company(session).default_region, field=field_name).e164


def set_do_not_call(session: Session, actor: Actor | None, number: str, reason: str = "") -> DoNotCall:
    """Flag a number; every list (this one and the future ones) skips it. Flagging twice keeps the first."""
    e164 = _e164(session, number)
    row = session.exec(select(DoNotCall).where(DoNotCall.number == e164)).first()
    if row is not None:
        return row
    row = DoNotCall(number=e164, reason=(reason or "")[:300], set_by_id=actor.id if actor else None)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # flagged by someone else this very moment
        row = session.exec(select(DoNotCall).where(DoNotCall.number == e164)).one()
    return row


def is_do_not_call(session: Session, number: str) -> bool:
    return session.exec(select(DoNotCall.id).where(DoNotCall.number == number)).first() is not None


def list_do_not_call(session: Session, *, limit: int = 1000) -> list[DoNotCall]:
    return list(session.exec(select(DoNotCall).order_by(col(DoNotCall.set_at).desc()).limit(limit)))


# --- working hours ------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _zones_of(number: str) -> tuple[str, ...]:
    import phonenumbers
    from phonenumbers import timezone as pn_timezone

    try:
        zones = pn_timezone.time_zones_for_number(phonenumbers.parse(number, None))
    except Exception:  # noqa: BLE001 - an odd number just has no known zone
        return ()
    return tuple(z for z in zones if z and z != "Etc/Unknown")


def outside_hours(number: str, hours: users.WorkingHours, agent_tz: str, now: datetime) -> str | None:
    """Why ``number`` must not be called now, or None.

    The agent's working hours are applied to the local time of the called number (its country's
    time zone; the agent's own zone when the number has none or shares it): nobody is called at
    night, and an agent outside their hours calls nobody.
    """
    zones = _zones_of(number)
    if not zones or agent_tz in zones:
        zones = (agent_tz,)
    detail = ""
    for zone_name in zones:
        try:
            local = now.astimezone(ZoneInfo(zone_name))
        except Exception:  # noqa: BLE001
            local = now.astimezone(ZoneInfo(agent_tz))
        span = hours.get(users.WEEKDAYS[local.weekday()])
        hhmm = local.strftime("%H:%M")
        if span is not None and span[0] <= hhmm < span[1]:
            return None
        detail = f"{local.strftime('%a')} {hhmm} {zone_name}"
    return f"{SKIP_OUTSIDE_HOURS}: {detail}"


# --- building lists -------------------------------------------------------------------------------


@dataclass
class BadLine:
    line: int  # 1-based line of the pasted text or file
    text: str
    reason: str


@dataclass
class BuildReport:
    list: CallList
    added: int = 0  # entries to call
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (number or name, reason key) not to call
    bad_lines: list[BadLine] = field(default_factory=list)
    no_phone: list[str] = field(default_factory=list)  # names of clients/leads without a phone


@dataclass
class _Candidate:
    number: str
    name: str | None
    client_id: int | None = None
    lead_id: int | None = None


def dial_all_phones_default(session: Session) -> bool:
    """The telephony setting "all phones of each client, or only the first" (first when unset)."""
    try:
        from tscrm.core.services.telephony import (
            company_settings,  # written by the telephony area
        )

        return bool(company_settings(session).dial_all_phones)
    except ImportError:
        from tscrm.core.models_telephony import CompanyTelephony

        row = session.exec(select(CompanyTelephony)).first()
        return bool(row.dial_all_phones) if row else False


def parse_number_lines(session: Session, text: str) -> tuple[list[_Candidate], list[BadLine]]:
    """Numbers pasted or read from a CSV file: one per line, optionally ``number,name``.

    A first line without any digit is a header. Every bad number is reported with its line.
    """
    region = get_company(session).default_region
    found: list[_Candidate] = []
    bad: list[BadLine] = []
    sample = text[:4096]
    delimiter = max(",;\t", key=sample.count) if any(d in sample for d in ",;\t") else ","
    for index, line in enumerate(text.splitlines(), start=1):
        row = next(csv.reader([line], delimiter=delimiter), [])
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        raw = cells[0]
        if index == 1 and not any(ch.isdigit() for ch in raw):
            continue  # a header
        try:
            e164 = parse_phone(raw, region, field="number").e164
        except InvalidPhone as exc:
            bad.append(BadLine(index, line.strip(), str(exc)))
            continue
        name = cells[1] if len(cells) > 1 and cells[1] else None
        found.append(_Candidate(e164, name))
    return found, bad


def _phones_of(session: Session, owner: str, ids: list[int], all_phones: bool) -> dict[int, list[str]]:
    column = col(Phone.client_id) if owner == "client" else col(Phone.lead_id)
    out: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for owner_id, e164 in session.exec(select(column, Phone.e164).where(column.in_(chunk)).order_by(col(Phone.position), col(Phone.id))):
            phones = out[owner_id]
            if all_phones or not phones:
                phones.append(e164)
    return out


def _candidates(session: Session, owner: str, ids: list[int], all_phones: bool, report_no_phone: list[str]) -> list[_Candidate]:
    """The numbers to call of these clients (``owner`` "client") or leads; who has none is reported."""
    if not ids:
        return []
    model = Client if owner == "client" else Lead
    names: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(select(model.id, model.name).where(col(model.id).in_(chunk)))  # type: ignore[arg-type]
        names.update({record_id: name for record_id, name in rows})
    phones = _phones_of(session, owner, ids, all_phones)
    out: list[_Candidate] = []
    for record_id in ids:
        if not phones[record_id]:
            report_no_phone.append(names.get(record_id, str(record_id)))
        link = {"client_id": record_id} if owner == "client" else {"lead_id": record_id}
        out.extend(_Candidate(p, names.get(record_id), **link) for p in phones[record_id])
    return out


def _visible_client_ids(session: Session, actor: Actor, ids: Iterable[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    found = set(clients.matching_ids(session, actor, clients.ClientFilter(ids=wanted))) if wanted else set()
    for cid in wanted:
        if cid not in found:
            raise NotFound(_("No client with id {id}").format(id=cid))
    return wanted


def _visible_lead_ids(session: Session, actor: Actor, ids: Iterable[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    for lid in wanted:
        leads.get_lead(session, actor, lid)
    return wanted


def _tagged_lead_ids(session: Session, actor: Actor, tag: str) -> list[int]:
    query = (
        select(Lead.id)
        .join(LeadTag, col(LeadTag.lead_id) == col(Lead.id))
        .join(Tag, col(Tag.id) == col(LeadTag.tag_id))
        .where(Tag.key == fold(tag), col(Lead.status).in_([s.value for s in leads.OPEN_STATUSES]))
        .order_by(col(Lead.id))
    )
    if not actor.can(Right.SEE_ALL):
        query = query.where(or_(Lead.owner_id == actor.id, col(Lead.owner_id).is_(None)))
    return list(session.exec(query))


def _tagged_client_ids(session: Session, actor: Actor, tag: str) -> list[int]:
    query = (
        select(Client.id)
        .join(ClientTag, col(ClientTag.client_id) == col(Client.id))
        .join(Tag, col(Tag.id) == col(ClientTag.tag_id))
        .where(Tag.key == fold(tag))
        .order_by(col(Client.name), col(Client.id))
    )
    if not actor.can(Right.SEE_ALL):
        query = query.where(Client.owner_id == actor.id)
    return list(session.exec(query))


def parse_filter_spec(session: Session, actor: Actor, spec: str) -> clients.ClientFilter:
    """A client filter written as ``key=value`` pairs separated by commas (saved under a name: saved_filters).

    Keys: ``tag`` (repeatable: all of them), ``source``, ``owner`` (``me`` or an email / extension),
    ``mine``, ``created_from`` / ``created_to`` (ISO dates), ``field.KEY`` (a custom field equals).
    """
    from tscrm.core.timeutil import local_midnight

    filt = clients.ClientFilter()
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "mine" and not sep:
            filt.mine = True
        elif key == "tag" and value:
            filt.tags.append(value)
        elif key == "source" and value:
            filt.source = value
        elif key == "owner" and value:
            filt.owner_id = actor.id if value.lower() == "me" else users.find_user(session, value).id
        elif key in ("created_from", "created_to") and value:
            try:
                from datetime import date

                moment = local_midnight(date.fromisoformat(value), actor.timezone)
            except ValueError as exc:
                raise ValidationError(_("filter: {key} needs a date like 2026-01-31").format(key=key), "filter") from exc
            setattr(filt, key, moment)
        elif key.startswith("field.") and value:
            filt.custom[key[6:]] = value
        else:
            raise ValidationError(
                _("filter: {part!r} is not understood (use tag=, source=, owner=, mine, created_from=, created_to=, field.KEY=)").format(part=part),
                "filter",
            )
    return filt


def create_list(
    session: Session,
    actor: Actor,
    *,
    name: str,
    client_ids: Sequence[int] = (),
    lead_ids: Sequence[int] = (),
    tag: str | None = None,
    client_filter: clients.ClientFilter | None = None,
    numbers_text: str | None = None,
    all_phones: bool | None = None,
    shared: bool = False,
    ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S,
    gap_s: int = DEFAULT_GAP_S,
    check_hours: bool = True,
) -> BuildReport:
    """A call list from clients, leads, a tag (clients and open leads), a client filter and/or numbers.

    Numbers on the do-not-call list go in as ``skipped`` (shown, never called); a number that appears
    twice is called once. Bad pasted numbers are reported with their line and left out.
    """
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("name: a call list needs a name"), "name")
    if len(name) > 200:
        raise ValidationError(_("name: at most 200 characters"), "name")
    if ring_timeout_s < 5 or ring_timeout_s > 300:
        raise ValidationError(_("ring_timeout: between 5 and 300 seconds"), "ring_timeout")
    if gap_s < 0 or gap_s > 600:
        raise ValidationError(_("gap: between 0 and 600 seconds"), "gap")
    if session.exec(select(CallList.id).where(CallList.name == name)).first() is not None:
        raise Conflict(_("A call list named {name!r} already exists").format(name=name))
    if all_phones is None:
        all_phones = dial_all_phones_default(session)
    call_list = CallList(
        name=name, owner_id=actor.id, shared=shared, ring_timeout_s=ring_timeout_s, gap_s=gap_s, all_phones=all_phones, check_hours=check_hours
    )
    report = BuildReport(call_list)
    candidates: list[_Candidate] = []
    wanted_clients = _visible_client_ids(session, actor, client_ids)
    wanted_leads = _visible_lead_ids(session, actor, lead_ids)
    if tag:
        wanted_clients += _tagged_client_ids(session, actor, tag)
        wanted_leads += _tagged_lead_ids(session, actor, tag)
    if client_filter is not None:
        wanted_clients += clients.matching_ids(session, actor, client_filter)
    candidates += _candidates(session, "client", list(dict.fromkeys(wanted_clients)), all_phones, report.no_phone)
    candidates += _candidates(session, "lead", list(dict.fromkeys(wanted_leads)), all_phones, report.no_phone)
    if numbers_text:
        pasted, report.bad_lines = parse_number_lines(session, numbers_text)
        _match_known(session, pasted)
        candidates += pasted
    if not candidates:
        raise ValidationError(_("The call list would be empty: no phone numbers found"), "numbers")
    session.add(call_list)
    session.flush()
    flagged = _flagged(session, {c.number for c in candidates})
    rows = []
    seen: set[str] = set()
    for cand in candidates:
        if cand.number in seen:
            report.skipped.append((cand.number, SKIP_DUPLICATE))
            continue
        seen.add(cand.number)
        skipped = cand.number in flagged
        if skipped:
            report.skipped.append((cand.number, SKIP_DO_NOT_CALL))
        else:
            report.added += 1
        rows.append(
            {
                "list_id": call_list.id,
                "position": len(rows),
                "number": cand.number,
                "name": (cand.name or "")[:300] or None,
                "client_id": cand.client_id,
                "lead_id": cand.lead_id,
                "state": EntryState.SKIPPED if skipped else EntryState.PENDING,
                "skip_reason": SKIP_DO_NOT_CALL if skipped else None,
                "attempts": 0,
            }
        )
    for start in range(0, len(rows), 1000):
        session.execute(insert(CallListEntry), rows[start : start + 1000])
    return report


def _flagged(session: Session, numbers: set[str]) -> set[str]:
    out: set[str] = set()
    values = list(numbers)
    for start in range(0, len(values), 500):
        out.update(session.exec(select(DoNotCall.number).where(col(DoNotCall.number).in_(values[start : start + 500]))))
    return out


def _match_known(session: Session, candidates: list[_Candidate]) -> None:
    """Pasted numbers that belong to a client (else an open lead) are called as that client."""
    numbers = list({c.number for c in candidates})
    owners: dict[str, tuple[int | None, int | None, str]] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        rows = session.exec(
            select(Phone.e164, Phone.client_id, Client.name).join(Client, col(Client.id) == col(Phone.client_id)).where(col(Phone.e164).in_(chunk))
        )
        for e164, cid, cname in rows:
            owners.setdefault(e164, (cid, None, cname))
        rows = session.exec(
            select(Phone.e164, Phone.lead_id, Lead.name)
            .join(Lead, col(Lead.id) == col(Phone.lead_id))
            .where(col(Phone.e164).in_(chunk), col(Lead.status).in_([s.value for s in leads.OPEN_STATUSES]))
        )
        for e164, lid, lname in rows:
            owners.setdefault(e164, (None, lid, lname))
    for cand in candidates:
        if cand.number in owners:
            cand.client_id, cand.lead_id, known_name = owners[cand.number]
            cand.name = cand.name or known_name


# --- reading lists --------------------------------------------------------------------------------


def _require_list_access(actor: Actor, call_list: CallList) -> None:
    if call_list.owner_id == actor.id or call_list.shared or actor.can(Right.SEE_ALL):
        return
    raise NotFound(_("No call list {name!r}").format(name=call_list.name))


def get_list(session: Session, actor: Actor, list_id_or_name: int | str) -> CallList:
    """A list by id or name, if the actor may work it (their own, a shared one, or any with "see all")."""
    call_list = None
    if isinstance(list_id_or_name, int) or str(list_id_or_name).isdigit():
        call_list = session.get(CallList, int(list_id_or_name))
    if call_list is None:
        call_list = session.exec(select(CallList).where(CallList.name == str(list_id_or_name).strip())).first()
    if call_list is None:
        raise NotFound(_("No call list {name!r}").format(name=str(list_id_or_name)))
    _require_list_access(actor, call_list)
    return call_list


def list_lists(session: Session, actor: Actor) -> list[CallList]:
    query = select(CallList).order_by(col(CallList.created_at).desc(), col(CallList.id).desc())
    if not actor.can(Right.SEE_ALL):
        query = query.where(or_(CallList.owner_id == actor.id, col(CallList.shared).is_(True)))
    return list(session.exec(query))


def list_summaries(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The call lists the actor may work, with their progress (newest first)."""
    rows = []
    for call_list in list_lists(session, actor):
        counts = progress(session, call_list.id)  # type: ignore[arg-type]
        rows.append(
            {
                "id": call_list.id,
                "name": call_list.name,
                "shared": call_list.shared,
                "pending": counts[EntryState.PENDING] + counts[EntryState.CLAIMED],
                "done": counts[EntryState.DONE],
                "skipped": counts[EntryState.SKIPPED],
                "interrupted": counts[EntryState.DIALLING],
                "created_at": call_list.created_at,
            }
        )
    return rows


def progress(session: Session, list_id: int) -> dict[EntryState, int]:
    """How many entries are in each state."""
    counts = {state: 0 for state in EntryState}
    rows = session.exec(select(CallListEntry.state, func.count()).where(CallListEntry.list_id == list_id).group_by(CallListEntry.state))
    for state, count in rows:
        counts[EntryState(state)] = count
    return counts


def outcome_counts(session: Session, list_id: int) -> dict[DialOutcome, int]:
    rows = session.exec(
        select(CallListEntry.outcome, func.count())
        .where(CallListEntry.list_id == list_id, col(CallListEntry.outcome).is_not(None))
        .group_by(CallListEntry.outcome)
    )
    return {DialOutcome(o): n for o, n in rows}


def entries(
    session: Session, list_id: int, *, states: Sequence[EntryState] | None = None, limit: int = 100, offset: int = 0
) -> list[CallListEntry]:
    query = select(CallListEntry).where(CallListEntry.list_id == list_id)
    if states:
        query = query.where(col(CallListEntry.state).in_([s.value for s in states]))
    return list(session.exec(query.order_by(col(CallListEntry.position)).offset(offset).limit(limit)))


def pending_count(session: Session, list_id: int) -> int:
    query = select(func.count()).select_from(CallListEntry).where(CallListEntry.list_id == list_id, CallListEntry.state == EntryState.PENDING)
    return int(session.exec(query).one())


def upcoming(session: Session, list_id: int, limit: int = 5) -> list[CallListEntry]:
    return entries(session, list_id, states=[EntryState.PENDING], limit=limit)


def delete_list(session: Session, actor: Actor, list_id: int) -> None:
    call_list = get_list(session, actor, list_id)
    if call_list.owner_id != actor.id and not actor.can(Right.DELETE):
        raise PermissionDenied(_("{user} may not delete call list {name}").format(user=actor.name, name=call_list.name))
    session.delete(call_list)
    session.flush()


# --- claiming -------------------------------------------------------------------------------------


def _conditional(session: Session, entry_id: int, where: Sequence, **values) -> bool:
    result = session.execute(
        update(CallListEntry)
        .where(col(CallListEntry.id) == entry_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


@dataclass
class Claim:
    entry: CallListEntry | None  # None: nothing left to call (or ``off_hours``)
    skipped: list[CallListEntry] = field(default_factory=list)  # passed over on the way, with their reason
    off_hours: str | None = None  # the agent is outside their own working hours: nothing claimed, nothing skipped


@dataclass(frozen=True)
class AgentHours:
    """What the working-hours check needs about an agent (read once per dialer run)."""

    hours: users.WorkingHours
    timezone: str


def agent_hours(session: Session, actor: Actor) -> AgentHours:
    user = session.get(User, actor.id)
    if user is None:
        return AgentHours(dict(users.DEFAULT_WORKING_HOURS), actor.timezone)
    return AgentHours(users.working_hours(user), user.timezone)


def claim_next(
    session: Session,
    actor: Actor,
    list_id: int,
    run_id: str,
    *,
    now: datetime | None = None,
    hours: AgentHours | None = None,
) -> Claim:
    """Hand the next pending entry to this agent's dialer run (exactly one agent gets each entry).

    Flagged numbers, and numbers whose local time is outside the agent's working hours (another
    time zone), are skipped on the way and returned, so the dialer can show why. When the agent's
    own time is outside their hours nothing is claimed or skipped (``Claim.off_hours`` says so):
    the list waits for the next working day. ``hours``: the agent's, when the caller has them already.
    """
    moment = optional_aware(now, "now") or utcnow()
    call_list = get_list(session, actor, list_id)
    agent = hours or agent_hours(session, actor)
    postgres = session.get_bind().dialect.name == "postgresql"
    claim = Claim(None)
    released_stale = False
    if call_list.check_hours:
        own = _own_hours_problem(agent, moment)
        if own is not None:
            return Claim(None, off_hours=own)
    flagged = select(DoNotCall.id).where(DoNotCall.number == CallListEntry.number).exists()
    while True:
        query = (
            select(CallListEntry.id, CallListEntry.number, flagged)
            .where(CallListEntry.list_id == list_id, CallListEntry.state == EntryState.PENDING)
            .order_by(col(CallListEntry.position))
            .limit(1)
        )
        if postgres:
            query = query.with_for_update(of=CallListEntry, skip_locked=True)  # type: ignore[arg-type]
        row = session.exec(query).first()
        if row is None:
            if not released_stale and _release_stale(session, list_id, run_id, moment):
                released_stale = True
                continue
            return claim
        entry_id, number, is_flagged = row
        pending = [CallListEntry.state == EntryState.PENDING]
        reason = SKIP_DO_NOT_CALL if is_flagged else None
        if reason is None and call_list.check_hours:
            reason = outside_hours(number, agent.hours, agent.timezone, moment)
        if reason is not None:
            if _conditional(session, entry_id, pending, state=EntryState.SKIPPED, skip_reason=reason, done_at=moment):
                claim.skipped.append(session.get(CallListEntry, entry_id, populate_existing=True))  # type: ignore[arg-type]
            continue
        if _conditional(session, entry_id, pending, state=EntryState.CLAIMED, claimed_by_id=actor.id, claimed_at=moment, run_id=run_id):
            claim.entry = session.get(CallListEntry, entry_id, populate_existing=True)
            return claim
        # another agent was faster: take the next one


def _own_hours_problem(agent: AgentHours, moment: datetime) -> str | None:
    """The agent's own time is outside their hours: the list waits (entries are not skipped for it)."""
    local = moment.astimezone(ZoneInfo(agent.timezone))
    span = agent.hours.get(users.WEEKDAYS[local.weekday()])
    hhmm = local.strftime("%H:%M")
    if span is not None and span[0] <= hhmm < span[1]:
        return None
    return _("outside your working hours ({time} {zone})").format(time=local.strftime("%a %H:%M"), zone=agent.timezone)


def _release_stale(session: Session, list_id: int, run_id: str, now: datetime) -> bool:
    result = session.execute(
        update(CallListEntry)
        .where(
            CallListEntry.list_id == list_id,
            CallListEntry.state == EntryState.CLAIMED,
            col(CallListEntry.claimed_at) < now - STALE_CLAIM,
            or_(col(CallListEntry.run_id).is_(None), CallListEntry.run_id != run_id),
        )
        .values(state=EntryState.PENDING, claimed_by_id=None, claimed_at=None, run_id=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_claim(session: Session, entry_id: int, run_id: str) -> bool:
    """Give a claimed (never dialled) entry back to the list."""
    return _conditional(
        session,
        entry_id,
        [CallListEntry.state == EntryState.CLAIMED, CallListEntry.run_id == run_id],
        state=EntryState.PENDING,
        claimed_by_id=None,
        claimed_at=None,
        run_id=None,
    )


def skip_claimed(session: Session, entry_id: int, run_id: str, reason: str = SKIP_BY_AGENT, *, now: datetime | None = None) -> bool:
    return _conditional(
        session,
        entry_id,
        [CallListEntry.state == EntryState.CLAIMED, CallListEntry.run_id == run_id],
        state=EntryState.SKIPPED,
        skip_reason=reason,
        done_at=optional_aware(now, "now") or utcnow(),
    )


def mark_dialling(session: Session, entry_id: int, run_id: str, *, now: datetime | None = None) -> bool:
    """Commit this *before* placing the call. False: the claim was lost (re-offered as stale); do not dial."""
    moment = optional_aware(now, "now") or utcnow()
    return _conditional(
        session,
        entry_id,
        [CallListEntry.state == EntryState.CLAIMED, CallListEntry.run_id == run_id],
        state=EntryState.DIALLING,
        dialled_at=moment,
        attempts=CallListEntry.attempts + 1,
    )


def set_backend_call_id(session: Session, entry_id: int, backend_call_id: str) -> None:
    _conditional(session, entry_id, [CallListEntry.state == EntryState.DIALLING], backend_call_id=backend_call_id[:100])


@dataclass
class ResumeReport:
    released: int  # claims of earlier runs of this agent given back (never dialled)
    interrupted: list[CallListEntry]  # dialled by a run that died before recording the result


def resume(session: Session, actor: Actor, list_id: int, run_id: str) -> ResumeReport:
    """A dialer (re)starts on a list: give back this agent's old claims, report interrupted calls."""
    get_list(session, actor, list_id)
    result = session.execute(
        update(CallListEntry)
        .where(
            CallListEntry.list_id == list_id,
            CallListEntry.state == EntryState.CLAIMED,
            CallListEntry.claimed_by_id == actor.id,
            or_(col(CallListEntry.run_id).is_(None), CallListEntry.run_id != run_id),
        )
        .values(state=EntryState.PENDING, claimed_by_id=None, claimed_at=None, run_id=None)
        .execution_options(synchronize_session=False)
    )
    interrupted = list(
        session.exec(
            select(CallListEntry)
            .where(
                CallListEntry.list_id == list_id,
                CallListEntry.state == EntryState.DIALLING,
                CallListEntry.claimed_by_id == actor.id,
                or_(col(CallListEntry.run_id).is_(None), CallListEntry.run_id != run_id),
            )
            .order_by(col(CallListEntry.position))
        )
    )
    return ResumeReport(result.rowcount or 0, interrupted)  # type: ignore[attr-defined]


def interrupted_entries(session: Session, list_id: int) -> list[CallListEntry]:
    """Every entry left in ``dialling`` (by any agent): the report of calls whose result is unknown."""
    return entries(session, list_id, states=[EntryState.DIALLING], limit=10_000)


def resolve_interrupted(session: Session, actor: Actor, entry_id: int, *, requeue: bool) -> CallListEntry:
    """The agent decides about a call whose result a crash lost: call it again, or close it as interrupted."""
    entry = _entry(session, actor, entry_id)
    if entry.state != EntryState.DIALLING:
        raise Conflict(_("Entry {id} is not waiting for a decision ({state})").format(id=entry_id, state=entry.state.value))
    if requeue:
        values = {"state": EntryState.PENDING, "claimed_by_id": None, "claimed_at": None, "run_id": None}
    else:
        values = {"state": EntryState.DONE, "outcome": DialOutcome.INTERRUPTED, "done_at": utcnow()}
    _conditional(session, entry_id, [CallListEntry.state == EntryState.DIALLING, CallListEntry.run_id == entry.run_id], **values)
    session.refresh(entry)
    return entry


def requeue(session: Session, actor: Actor, list_id: int, *, outcomes: Sequence[DialOutcome] = (), skip_reasons: Sequence[str] = ()) -> int:
    """Put entries back to pending: e.g. every "no answer" and "busy" for another round, or the numbers
    skipped as outside working hours. Do-not-call entries never come back."""
    get_list(session, actor, list_id)
    conditions = []
    if outcomes:
        allowed = [o.value for o in outcomes if o not in (*AGENT_OUTCOMES, DialOutcome.INTERRUPTED)]
        conditions.append((CallListEntry.state == EntryState.DONE) & col(CallListEntry.outcome).in_(allowed))
    for reason in skip_reasons:
        if reason == SKIP_DO_NOT_CALL:
            continue
        conditions.append((CallListEntry.state == EntryState.SKIPPED) & col(CallListEntry.skip_reason).startswith(reason))
    if not conditions:
        return 0
    result = session.execute(
        update(CallListEntry)
        .where(CallListEntry.list_id == list_id, or_(*conditions), col(CallListEntry.number).not_in(select(DoNotCall.number)))
        .values(state=EntryState.PENDING, outcome=None, skip_reason=None, claimed_by_id=None, claimed_at=None, run_id=None, done_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


# --- recording results ----------------------------------------------------------------------------


def _entry(session: Session, actor: Actor, entry_id: int) -> CallListEntry:
    entry = session.get(CallListEntry, entry_id, populate_existing=True)
    if entry is None:
        raise NotFound(_("No call list entry with id {id}").format(id=entry_id))
    call_list = session.get(CallList, entry.list_id)
    if call_list is not None:
        _require_list_access(actor, call_list)
    return entry


def _log(session: Session, actor: Actor, entry: CallListEntry, **fields) -> None:
    call = calls.log_call(
        session,
        None,  # the dialer reports like the telephony bridge: a shared list may hold others' clients
        direction=CallDirection.OUTBOUND,
        their_number=entry.number,
        agent_id=actor.id,
        client_id=entry.client_id,
        lead_id=entry.lead_id,
        external_id=entry.backend_call_id,
        **fields,
    )
    entry.call_id = call.id


def record_unanswered(
    session: Session,
    actor: Actor,
    entry_id: int,
    outcome: DialOutcome,
    *,
    started_at: datetime,
    ended_at: datetime,
    reason: str = "",
) -> CallListEntry:
    """A dialled number nobody talked to: no answer, busy, rejected, failed, or cancelled by the agent."""
    entry = _entry(session, actor, entry_id)
    if entry.state != EntryState.DIALLING:
        raise Conflict(_("Entry {id} is not being dialled ({state})").format(id=entry_id, state=entry.state.value))
    entry.state = EntryState.DONE
    entry.outcome = outcome
    entry.done_at = ended_at
    entry.skip_reason = reason[:300] or None
    _log(session, actor, entry, started_at=started_at, ended_at=ended_at, outcome=_CALL_OUTCOME.get(outcome, CallOutcome.FAILED))
    session.flush()
    return entry


def record_answered(session: Session, actor: Actor, entry_id: int, *, started_at: datetime, answered_at: datetime) -> CallListEntry:
    """The number answered: log the call; an unknown number becomes a lead of the agent (source "dialer")."""
    entry = _entry(session, actor, entry_id)
    if entry.state != EntryState.DIALLING:
        raise Conflict(_("Entry {id} is not being dialled ({state})").format(id=entry_id, state=entry.state.value))
    entry.answered_at = answered_at
    if entry.client_id is None and entry.lead_id is None:
        known_clients = clients.find_by_phone(session, entry.number)
        known_leads = leads.find_by_phone(session, entry.number) if not known_clients else []
        if known_clients:
            entry.client_id = known_clients[0].id
        elif known_leads:
            entry.lead_id = known_leads[0].id
        else:
            lead = leads.create_lead(
                session,
                actor,
                contacts.ContactInput(name=entry.name or entry.number, phones=[contacts.PhoneInput(entry.number)], source="dialer"),
            )
            entry.lead_id = lead.id
            entry.name = entry.name or lead.name
    _log(session, actor, entry, started_at=started_at, answered_at=answered_at)
    session.flush()
    return entry


def record_hangup(session: Session, actor: Actor, entry_id: int, *, started_at: datetime, answered_at: datetime, ended_at: datetime) -> CallListEntry:
    """An answered call ended; the entry waits for the agent's outcome."""
    entry = _entry(session, actor, entry_id)
    _log(session, actor, entry, started_at=started_at, answered_at=answered_at, ended_at=ended_at)
    session.flush()
    return entry


def record_outcome(
    session: Session,
    actor: Actor,
    entry_id: int,
    outcome: DialOutcome | str,
    *,
    callback_at: datetime | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> CallListEntry:
    """The agent's verdict on an answered call. "Call back later" makes a call task at ``callback_at``;
    "do not call" flags the number for good."""
    result = parse_outcome(outcome)
    entry = _entry(session, actor, entry_id)
    if entry.state != EntryState.DIALLING or entry.answered_at is None:
        raise Conflict(_("Entry {id} has no answered call waiting for an outcome").format(id=entry_id))
    moment = optional_aware(now, "now") or utcnow()
    when = optional_aware(callback_at, "callback_at")
    if result == DialOutcome.CALL_BACK:
        if when is None:
            raise ValidationError(_("callback_at: \"call back later\" needs a time"), "callback_at")
        task = tasks.create_task(
            session,
            actor,
            title=_("Call back {name}").format(name=entry.name or entry.number),
            type=TaskType.CALL,
            due_at=when,
            description=(note or "").strip() or None,
            client_id=entry.client_id,
            lead_id=entry.lead_id,
        )
        entry.task_id = task.id
    elif when is not None:
        raise ValidationError(_("callback_at: only for \"call back later\""), "callback_at")
    if result == DialOutcome.DO_NOT_CALL:
        set_do_not_call(session, actor, entry.number, _("asked during a dialer call"))
    entry.state = EntryState.DONE
    entry.outcome = result
    entry.done_at = moment
    if entry.client_id is not None or entry.lead_id is not None:
        tail = f" — {note.strip()}" if note and note.strip() else ""
        text = Phrase(N_("Dialer: {outcome}"), {"outcome": OUTCOME_LABELS[result]}, ("outcome",), tail)
        activity.record(
            session,
            ActivityKind.NOTE,
            author_id=actor.id,
            client_id=entry.client_id,
            lead_id=entry.lead_id,
            text=text,
            data={"dialer_outcome": result.value, "call_id": entry.call_id, "list_id": entry.list_id, "task_id": entry.task_id},
        )
    session.flush()
    return entry
