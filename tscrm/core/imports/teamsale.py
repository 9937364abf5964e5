"""Moving from a hosted Teamsale (Zadarma CRM) account: customers, leads, deals, tasks, labels, UTM
tags and the call list, pulled through its API, as one import batch (history and undo as any import).

This module is the domain part; the HTTP client with Zadarma's signing lives in
``tscrm.integrations.teamsale_client`` and is handed in as a :class:`TeamsaleSource`, so the core
never talks to the network (tests hand in a client pointed at a local server).

Every record keeps its Teamsale id as an external reference (``external_ref`` of clients, leads,
deals and tasks; ``external_id`` of calls: the PBX call id when Teamsale gives one, so a call the
telephony bridge already logged is the same call), so a second run updates what changed instead of
duplicating. A value tscrm cannot take (a phone of the wrong length, a deal in a currency without
exchange rate, a deal of a lead) is reported with the record's Teamsale id and skipped; the rest of
the record is imported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from tscrm.core.db import Database
from tscrm.core.errors import InvalidPhone, TscrmError, ValidationError
from tscrm.core.imports.bulk import BulkWriter
from tscrm.core.imports.fast_phones import PhoneParser
from tscrm.core.imports.pipeline import (
    ImportReport,
    finish_batch,
    mark_changed,
    record_unfinished,
)
from tscrm.core.imports.records import DEFAULT_OWNER, Record, RowError
from tscrm.core.imports.store import ContactStore, Deduper, RangeLog, write_undo_rows
from tscrm.core.models import (
    Call,
    CallDirection,
    CallOutcome,
    Deal,
    DealStatus,
    ImportStatus,
    LeadStatus,
    SQLModel,
    Task,
    TaskType,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import calls as calls_service
from tscrm.core.services import deals as deals_service
from tscrm.core.services import tasks as tasks_service
from tscrm.core.services.company import get_company
from tscrm.core.services.contacts import custom_fields
from tscrm.core.types import utcnow
from tscrm.i18n import _

REF_PREFIX = "teamsale:"
DEAL_STATUSES = {
    "new": DealStatus.NEW,
    "in_progress": DealStatus.IN_PROGRESS,
    "decision": DealStatus.DECISION_PENDING,
    "payment": DealStatus.PAYMENT_EXPECTED,
    "success": DealStatus.WON,
    "canceled": DealStatus.CANCELLED,
    "cancelled": DealStatus.CANCELLED,
}
LEAD_STATUSES = {
    "not_processed": LeadStatus.UNPROCESSED.value,
    "in_progress": LeadStatus.IN_PROGRESS.value,
    "finished": LeadStatus.FINISHED.value,
}
CALL_OUTCOMES = {
    "answer": CallOutcome.ANSWERED,
    "noanswer": CallOutcome.NO_ANSWER,
    "cancel": CallOutcome.NO_ANSWER,
    "busy": CallOutcome.BUSY,
    "failed": CallOutcome.FAILED,
}
PHONE_KINDS = {"work": "work", "personal": "mobile"}
EMAIL_TYPES = ("email_work", "email_personal")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class TeamsaleSource(Protocol):
    """What the importer reads from a Teamsale account (``TeamsaleClient`` implements it)."""

    def users(self) -> Iterable[dict[str, Any]]: ...
    def labels(self) -> Iterable[dict[str, Any]]: ...
    def utms(self) -> Iterable[dict[str, Any]]: ...
    def customers(self) -> Iterable[dict[str, Any]]: ...
    def leads(self, since: datetime | None = None) -> Iterable[dict[str, Any]]: ...
    def deals(self) -> Iterable[dict[str, Any]]: ...
    def events(self, since: datetime | None = None) -> Iterable[dict[str, Any]]: ...
    def calls(self, since: datetime | None = None) -> Iterable[dict[str, Any]]: ...


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0


@dataclass
class TeamsaleReport:
    batch_id: int | None = None
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    status: str = ""

    def count(self, entity: str) -> EntityCounts:
        return self.counts.setdefault(entity, EntityCounts())

    def error(self, entity: str, ref: Any, what: str, value: Any, reason: str) -> None:
        self.count(entity).errors += 1
        self.errors.append(RowError(int(ref) if str(ref).isdigit() else 0, f"{entity}.{what}", str(value), reason))

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "counts": {k: vars(v) for k, v in self.counts.items()},
            "errors": [e.as_dict() for e in self.errors],
            "seconds": round(self.seconds, 3),
        }

    def totals(self) -> ImportReport:
        """The same figures as a file import's report (for the history)."""
        report = ImportReport(entity="teamsale", file="Teamsale")
        report.created = sum(c.created for c in self.counts.values())
        report.updated = sum(c.updated for c in self.counts.values())
        report.skipped = sum(c.unchanged for c in self.counts.values())
        report.duplicates = report.updated + report.skipped
        report.error_rows = sum(c.errors for c in self.counts.values())
        report.rows = report.created + report.updated + report.skipped + report.error_rows
        report.errors = list(self.errors)
        return report


ProgressCallback = Callable[[str, int], None]


# --- turning Teamsale JSON into tscrm values -------------------------------------------------------


class _Converter:
    def __init__(self, session: Session, actor: Actor, zone: ZoneInfo, report: TeamsaleReport) -> None:
        self.session = session
        self.actor = actor
        self.zone = zone
        self.report = report
        self.parser = PhoneParser()
        self.users: dict[int, int] = {}
        self.labels: dict[int, str] = {}
        self.utms: dict[int, tuple[str, str]] = {}
        self.client_custom = {f.key for f in custom_fields(session, "client")}
        self.lead_custom = {f.key for f in custom_fields(session, "lead")}

    def map_users(self, remote: Iterable[dict[str, Any]]) -> None:
        """Teamsale users -> tscrm users, by email, else by PBX extension."""
        by_email: dict[str, int] = {}
        by_ext: dict[str, int] = {}
        for user in self.session.exec(select(User)):
            by_email[user.email.lower()] = user.id  # type: ignore[assignment]
            if user.extension:
                by_ext[user.extension] = user.id  # type: ignore[assignment]
        for item in remote:
            local = by_email.get(str(item.get("email") or "").strip().lower()) or by_ext.get(str(item.get("internal_number") or "").strip())
            if local is not None and item.get("id") is not None:
                self.users[int(item["id"])] = local

    def user(self, remote_id: Any) -> int | None:
        try:
            return self.users.get(int(remote_id)) if remote_id not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def time(self, value: Any) -> datetime | None:
        """"2020-04-28 05:47:47" in the account's time zone -> UTC."""
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(ZoneInfo("UTC"))

    def contact(self, entity: str, item: dict[str, Any]) -> Record | None:
        ref = item.get("id")
        name = " ".join(str(item.get("name") or "").split())
        if not name or ref is None:
            self.report.error(entity, ref or 0, "name", name, _("a name is needed"))
            return None
        record = Record(int(ref) if str(ref).isdigit() else 0, name[:300])
        record.external_ref = f"{REF_PREFIX}{ref}"
        if item.get("status") == "company":
            record.company_name = name[:300]
        address = ", ".join(
            p for p in (
                " ".join(str(item.get("address") or "").split()),
                " ".join(p for p in (str(item.get("zip") or "").strip(), str(item.get("city") or "").strip()) if p),
                str(item.get("country") or "").strip(),
            ) if p
        )
        record.address = address[:500] or None
        region = str(item.get("country") or "").strip().upper() or None
        for phone in item.get("phones") or []:
            number = str((phone or {}).get("phone") or "").strip()
            if not number:
                continue
            try:
                e164 = self.parser.e164(number, region if region and len(region) == 2 else None)
            except InvalidPhone as exc:
                self.report.errors.append(RowError(record.row, f"{entity}.phones", number, str(exc)))
                continue
            if e164 not in (e for _k, e in record.phones):
                record.phones.append((PHONE_KINDS.get(str(phone.get("type")), "work"), e164))
        messengers: list[str] = []
        for contact in item.get("contacts") or []:
            kind, value = str((contact or {}).get("type") or ""), str((contact or {}).get("value") or "").strip()
            if not value:
                continue
            if kind in EMAIL_TYPES or (not kind and "@" in value):
                address_ = value.lower()
                if "@" in address_ and address_ not in record.emails and len(address_) <= 320:
                    record.emails.append(address_)
                else:
                    self.report.errors.append(RowError(record.row, f"{entity}.contacts", value, _("not an email address")))
            else:
                messengers.append(f"{kind.capitalize()}: {value}")
        for label in item.get("labels") or []:
            name_ = (label or {}).get("label") or self.labels.get(int((label or {}).get("id") or 0))
            if name_ and " ".join(str(name_).split())[:100] not in record.tags:
                record.tags.append(" ".join(str(name_).split())[:100])
        utm: dict[str, str] = {}
        for tag in item.get("utms") or []:
            param = (tag or {}).get("param") or self.utms.get(int((tag or {}).get("id") or 0), ("", ""))[0]
            value = (tag or {}).get("value") or self.utms.get(int((tag or {}).get("id") or 0), ("", ""))[1]
            if param in UTM_PARAMS and value:
                utm.setdefault(param, str(value)[:200])
        if entity == "lead":
            record.utm = utm
        record.source = (utm.get("utm_source") or "Teamsale")[:100]
        known = self.client_custom if entity == "client" else self.lead_custom
        for prop in item.get("custom_properties") or []:
            key = str((prop or {}).get("key") or "")
            if key in known and (prop or {}).get("value") not in (None, ""):
                record.custom[key] = str(prop["value"])
        comment = str(item.get("comment") or "").strip()
        note = "\n".join(p for p in (comment, *messengers) if p)
        if note:
            record.notes.append(note)
        owner = self.user(item.get("responsible_user_id"))
        record.owner_id = owner if owner is not None else (None if entity == "lead" else DEFAULT_OWNER)
        if entity == "lead":
            record.status = LEAD_STATUSES.get(str(item.get("lead_status") or ""), None)
            if record.status is None:
                record.status = LeadStatus.IN_PROGRESS.value if owner is not None else LeadStatus.UNPROCESSED.value
            record.created_at = self.time(item.get("lead_created_at"))
        else:
            record.created_at = self.time(item.get("created_at"))
        return record


def _quill_text(value: Any) -> str | None:
    """A Quill Delta description ({"ops": [{"insert": "text"}]}) as plain text."""
    if not value:
        return None
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return value.strip() or None
    if isinstance(data, dict) and isinstance(data.get("ops"), list):
        return "".join(str(op.get("insert", "")) for op in data["ops"] if isinstance(op, dict) and isinstance(op.get("insert"), str)).strip() or None
    if isinstance(data, list):
        return "".join(str(op.get("insert", "")) for op in data if isinstance(op, dict)).strip() or None
    return str(value).strip() or None


# --- the import -----------------------------------------------------------------------------------


def import_teamsale(
    db: Database,
    actor: Actor,
    source: TeamsaleSource,
    *,
    since: datetime | None = None,
    timezone: str | None = None,
    progress: ProgressCallback | None = None,
) -> TeamsaleReport:
    """Pull a Teamsale account into tscrm as one batch (see the module docstring)."""
    actor.require(Right.IMPORT)
    report = TeamsaleReport()
    started = time.perf_counter()
    try:
        with db.write() as session:
            writer = BulkWriter(session)
            try:
                _run(session, writer, actor, source, since, timezone, report, progress)
                writer.finish()
            except BaseException:
                writer.abandon()
                raise
        report.status = ImportStatus.DONE
    except (TscrmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        record_unfinished(db, actor, report.totals(), "teamsale", ImportStatus.FAILED, f"{type(exc).__name__}: {exc}", {"since": since.isoformat() if since else None})
        raise
    finally:
        report.seconds = time.perf_counter() - started
    return report


def _tick(progress: ProgressCallback | None, stage: str, count: int) -> None:
    if progress is not None:
        progress(stage, count)


def _run(
    session: Session,
    writer: BulkWriter,
    actor: Actor,
    source: TeamsaleSource,
    since: datetime | None,
    timezone: str | None,
    report: TeamsaleReport,
    progress: ProgressCallback | None,
) -> None:
    company = get_company(session)
    zone = ZoneInfo(timezone or company.timezone or "UTC")
    now = utcnow()
    table = SQLModel.metadata.tables["import_batch"]
    report.batch_id = int(
        writer.connection.execute(
            table.insert().values(
                kind="teamsale", file_name="Teamsale", user_id=actor.id, started_at=now, status=ImportStatus.DONE,
                mapping={}, options={"since": since.isoformat() if since else None, "timezone": zone.key},
                error_sample=[], undo_report={},
            )
        ).inserted_primary_key[0]
    )
    convert = _Converter(session, actor, zone, report)
    convert.map_users(source.users())
    convert.labels = {int(l["id"]): str(l.get("label") or l.get("name") or "") for l in source.labels() if l.get("id") is not None}
    convert.utms = {int(u["id"]): (str(u.get("param") or ""), str(u.get("value") or "")) for u in source.utms() if u.get("id") is not None}

    clients = _contacts(session, writer, actor, convert, "client", source.customers(), since, now, report, progress)
    leads = _contacts(session, writer, actor, convert, "lead", source.leads(since), None, now, report, progress)
    deals = _deals(session, writer, actor, convert, source.deals(), clients, since, now, report, progress)
    _tasks(session, writer, actor, convert, source.events(since), clients, leads, deals, now, report, progress)
    _calls(session, writer, actor, convert, source.calls(since), clients, leads, now, report, progress)
    finish_batch(writer, report.batch_id, report.totals())
    mark_changed(session)


def _contacts(
    session: Session, writer: BulkWriter, actor: Actor, convert: _Converter, entity: str, items: Iterable[dict[str, Any]],
    since: datetime | None, now: datetime, report: TeamsaleReport, progress: ProgressCallback | None,
) -> dict[str, int]:
    """Customers or leads; returns Teamsale id -> tscrm id of every one of them in tscrm now."""
    store = ContactStore(session, actor, entity, batch_id=report.batch_id, now=now, writer=writer, to_pool=entity == "lead")  # type: ignore[arg-type]
    dedupe = Deduper(session, entity, (), by_external_ref=True)  # type: ignore[arg-type]
    counts = report.count(entity)
    ids: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        record = convert.contact(entity, item)
        if record is None:
            continue
        existing = dedupe.find(record)
        if existing is None:
            if since is not None and record.created_at is not None and record.created_at < since:
                continue  # older than --since and not in tscrm: left out on purpose
            record_id = store.create(record)
            dedupe.remember(record, record_id)
            counts.created += 1
        else:
            record_id = existing
            if record.owner_id is None and entity == "lead":
                record.owner_id = DEFAULT_OWNER  # an unassigned lead in Teamsale does not take one away here
            changed = store.update(existing, record)
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
        ids[str(item.get("id"))] = record_id
        if number % 200 == 0:
            _tick(progress, entity, number)
    store.finish()
    return ids


def _snapshot_deal(deal: Deal) -> dict[str, Any]:
    return {"fields": {"title": deal.title, "amount": str(deal.amount), "currency": deal.currency, "status": deal.status.value, "owner_id": deal.owner_id}}


def _deals(
    session: Session, writer: BulkWriter, actor: Actor, convert: _Converter, items: Iterable[dict[str, Any]],
    clients: dict[str, int], since: datetime | None, now: datetime, report: TeamsaleReport, progress: ProgressCallback | None,
) -> dict[str, int]:
    counts = report.count("deal")
    created = RangeLog()
    undo: list[tuple] = []
    ids: dict[str, int] = {}
    existing = {ref: did for did, ref in session.exec(select(Deal.id, Deal.external_ref).where(col(Deal.external_ref).startswith(REF_PREFIX)))}
    for number, item in enumerate(items, start=1):
        ref = item.get("id")
        external = f"{REF_PREFIX}{ref}"
        if int(item.get("customer_is_lead") or 0):
            report.error("deal", ref, "customer_id", item.get("customer_id"), _("a deal of a lead: tscrm deals belong to clients"))
            continue
        client_id = clients.get(str(item.get("customer_id")))
        if client_id is None:
            report.error("deal", ref, "customer_id", item.get("customer_id"), _("its client was not imported"))
            continue
        try:
            amount = deals_service.parse_amount(Decimal(str(item.get("budget") or 0)).quantize(Decimal("0.01")), "budget")
        except (InvalidOperation, ValidationError) as exc:
            report.error("deal", ref, "budget", item.get("budget"), str(exc))
            continue
        status = DEAL_STATUSES.get(str(item.get("status") or "new"), DealStatus.NEW)
        owner = convert.user(item.get("responsible_user"))
        title = " ".join(str(item.get("title") or "").split())[:300] or _("Deal {id}").format(id=ref)
        created_at = convert.time(item.get("created_at"))
        try:
            with session.begin_nested():
                if external in existing:
                    deal = session.get(Deal, existing[external])
                    assert deal is not None
                    before = _snapshot_deal(deal)
                    deals_service.update_deal(
                        session, actor, deal.id, title=title, amount=amount, currency=item.get("currency") or None,  # type: ignore[arg-type]
                        owner_id=owner if owner is not None else deal.owner_id, status=status,
                    )
                    if _snapshot_deal(deal) != before:
                        deal.updated_at = now
                        undo.append((report.batch_id, "deal", "updated", deal.id, None, writer.json(before), writer.time(now)))
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
                else:
                    if since is not None and created_at is not None and created_at < since:
                        continue
                    deal = deals_service.create_deal(
                        session, actor, client_id=client_id, title=title, amount=amount,
                        currency=item.get("currency") or None, status=status,
                        owner_id=owner if owner is not None else -1, external_ref=external, created_at=created_at,
                    )
                    created.add(deal.id)  # type: ignore[arg-type]
                    counts.created += 1
        except ValidationError as exc:
            report.error("deal", ref, exc.field or "", item.get(exc.field or "currency", ""), str(exc))
            continue
        ids[str(ref)] = deal.id  # type: ignore[assignment]
        if number % 200 == 0:
            _tick(progress, "deal", number)
    write_undo_rows(writer, [(report.batch_id, "deal", "created", a, b, None, writer.time(now)) for a, b in created.runs] + undo)
    return ids


def _tasks(
    session: Session, writer: BulkWriter, actor: Actor, convert: _Converter, items: Iterable[dict[str, Any]],
    clients: dict[str, int], leads: dict[str, int], deals: dict[str, int], now: datetime,
    report: TeamsaleReport, progress: ProgressCallback | None,
) -> None:
    counts = report.count("task")
    created = RangeLog()
    existing = {ref: tid for tid, ref in session.exec(select(Task.id, Task.external_ref).where(col(Task.external_ref).startswith(REF_PREFIX)))}
    for number, item in enumerate(items, start=1):
        ref = item.get("id")
        external = f"{REF_PREFIX}{ref}"
        client_id = lead_id = None
        for linked in item.get("customers") or []:
            if (linked or {}).get("contact_type") == "lead":
                lead_id = lead_id or leads.get(str(linked.get("id")))
            else:
                client_id = client_id or clients.get(str((linked or {}).get("id")))
        assignee = convert.user(item.get("responsible_user")) or actor.id
        start = convert.time(item.get("start"))
        due = convert.time(item.get("end")) or start
        if start is not None and due is not None and due < start:
            due = start
        fields = {
            "title": " ".join(str(item.get("title") or "").split())[:300] or _("Task {id}").format(id=ref),
            "type": TaskType.CALL if item.get("type") == "call" else TaskType.TASK,
            "description": _quill_text(item.get("description")),
            "start_at": start,
            "due_at": due,
            "assignee_id": assignee,
            "client_id": client_id,
            "lead_id": lead_id,
        }
        done = bool(int(item.get("completed") or 0))
        try:
            with session.begin_nested():
                if external in existing:
                    task = tasks_service.update_task(session, actor, existing[external], **fields)
                    if done and task.completed_at is None:
                        tasks_service.complete_task(session, actor, task.id, at=due or now)  # type: ignore[arg-type]
                    counts.updated += 1
                else:
                    task = tasks_service.create_task(session, actor, external_ref=external, **fields)  # type: ignore[arg-type]
                    if done:
                        tasks_service.complete_task(session, actor, task.id, at=due or now)  # type: ignore[arg-type]
                    created.add(task.id)  # type: ignore[arg-type]
                    counts.created += 1
        except TscrmError as exc:
            report.error("task", ref, getattr(exc, "field", "") or "", item.get("title"), str(exc))
        if number % 200 == 0:
            _tick(progress, "task", number)
    write_undo_rows(writer, [(report.batch_id, "task", "created", a, b, None, writer.time(now)) for a, b in created.runs])


def _calls(
    session: Session, writer: BulkWriter, actor: Actor, convert: _Converter, items: Iterable[dict[str, Any]],
    clients: dict[str, int], leads: dict[str, int], now: datetime, report: TeamsaleReport, progress: ProgressCallback | None,
) -> None:
    counts = report.count("call")
    created = RangeLog()
    for number, item in enumerate(items, start=1):
        ref = item.get("id")
        external = str(item.get("pbx_call_id") or "").strip() or f"{REF_PREFIX}{ref}"
        started = convert.time(item.get("time"))
        if started is None:
            report.error("call", ref, "time", item.get("time"), _("no start time"))
            continue
        outcome = CALL_OUTCOMES.get(str(item.get("status") or ""))
        duration = int(item.get("duration") or 0)
        answered = started if outcome == CallOutcome.ANSWERED else None
        client_id = lead_id = None
        customer = item.get("contact_customer_id")
        if customer is not None:
            if int(item.get("is_lead") or 0):
                lead_id = leads.get(str(customer))
            else:
                client_id = clients.get(str(customer))
        known = session.exec(select(Call.id).where(Call.external_id == external)).first()
        try:
            with session.begin_nested():
                call = calls_service.log_call(
                    session, actor,
                    direction=CallDirection.INBOUND if item.get("type") == "incoming" else CallDirection.OUTBOUND,
                    their_number=str(item.get("phone") or "").strip() or "?",
                    agent_id=convert.user(item.get("user_id")),
                    started_at=started,
                    answered_at=answered,
                    ended_at=started + timedelta(seconds=max(duration, 0)),
                    outcome=outcome,
                    external_id=external,
                    client_id=client_id,
                    lead_id=lead_id,
                )
        except TscrmError as exc:
            report.error("call", ref, getattr(exc, "field", "") or "", item.get("phone"), str(exc))
            continue
        if known is None:
            created.add(call.id)  # type: ignore[arg-type]
            counts.created += 1
        else:
            counts.updated += 1
        if number % 200 == 0:
            _tick(progress, "call", number)
    write_undo_rows(writer, [(report.batch_id, "call", "created", a, b, None, writer.time(now)) for a, b in created.runs])
