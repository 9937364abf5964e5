"""Export of clients, leads, deals and calls to CSV, Excel (.xlsx) or vCard (.vcf).

Rows are read in pages of a few thousand with Core queries (no ORM objects) and written as they
come, so a million clients export in seconds with flat memory. The records are the ones the
services' own filters select (and the actor may see): ``export`` takes a screen's filter as is
(``ClientFilter``, ``LeadFilter``, ``DealFilter``, ``CallFilter``) or the command line's
``ExportFilter``, which only builds one of those, so a file holds exactly what a list shows.

The client and lead columns are the ones the importer recognises, so exporting and importing the
file again gives the same records back (the "tscrm ID" and "Created" columns are informative and
not imported). Phones, emails and tags with several values are joined with ", ".

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage
return) are written with a leading apostrophe; the importer removes it again. In .xlsx such values
are stored as plain text cells, never as formulas.
"""

from __future__ import annotations

import csv
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from tscrm.core.errors import ValidationError
from tscrm.core.models import (
    Call,
    Client,
    ClientTag,
    CustomField,
    Deal,
    Email,
    Lead,
    LeadStatus,
    LeadTag,
    Phone,
    SourceLabel,
    Tag,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import calls as calls_service
from tscrm.core.services import clients as clients_service
from tscrm.core.services import deals as deals_service
from tscrm.core.services import leads as leads_service
from tscrm.core.services.contacts import custom_fields
from tscrm.i18n import _

Kind = Literal["clients", "leads", "deals", "calls"]
Format = Literal["csv", "xlsx", "vcf"]
KINDS: tuple[str, ...] = ("clients", "leads", "deals", "calls")
FORMATS: tuple[str, ...] = ("csv", "xlsx", "vcf")
PAGE = 5000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PHONE_COLUMNS = {"work": "Work phone", "mobile": "Mobile phone", "home": "Home phone", "other": "Other phone"}
CONTACT_COLUMNS = (
    "tscrm ID", "Name", "Company", "Position", "Address", *PHONE_COLUMNS.values(), "Email", "Tags", "Source",
    "Responsible", "External id", "Created",
)
LEAD_COLUMNS = ("Status", "UTM source", "UTM medium", "UTM campaign", "UTM term", "UTM content")
DEAL_COLUMNS = (
    "tscrm ID", "Title", "Client", "Client ID", "Amount", "Currency", "Status", "Responsible", "External id",
    "Created", "Closed",
)
CALL_COLUMNS = (
    "tscrm ID", "Started", "Direction", "Our number", "Their number", "Agent", "Client ID", "Lead ID", "Outcome",
    "Answered", "Ended", "Duration (s)", "Recording", "External id",
)


ServiceFilter = (
    clients_service.ClientFilter | leads_service.LeadFilter | deals_service.DealFilter | calls_service.CallFilter
)
"""A domain service's own filter: what the Clients, Leads, Deals and Calls screens list."""

SERVICE_FILTERS: dict[str, type] = {
    "clients": clients_service.ClientFilter,
    "leads": leads_service.LeadFilter,
    "deals": deals_service.DealFilter,
    "calls": calls_service.CallFilter,
}


@dataclass
class ExportFilter:
    """What to export, as the command line says it; empty means everything the actor may see.

    It only builds the services' own filter (``for_kind``): an export applies exactly the conditions a
    list applies, through the service's ``_filtered``. ``export`` also takes a service filter as is.
    """

    tags: list[str] = field(default_factory=list)  # clients and leads: all of these tags
    owner_id: int | None = None  # responsible (clients, leads, deals) or agent (calls)
    source: str | None = None  # clients and leads
    created_from: datetime | None = None  # calls: started
    created_to: datetime | None = None
    statuses: tuple[str, ...] = ()  # leads or deals; empty: every status
    lead_scope: Literal["mine", "pool", "all"] = "all"

    def for_kind(self, kind: str) -> ServiceFilter:
        """The service filter of ``kind`` with these conditions."""
        if kind == "clients":
            return clients_service.ClientFilter(
                owner_id=self.owner_id, tags=list(self.tags), source=self.source,
                created_from=self.created_from, created_to=self.created_to,
            )
        if kind == "leads":
            try:
                statuses = tuple(LeadStatus(s) for s in self.statuses)
            except ValueError:
                raise ValidationError(
                    _("--status: one of {choices}").format(choices=", ".join(s.value for s in LeadStatus)), "status"
                ) from None
            return leads_service.LeadFilter(
                scope=self.lead_scope, statuses=statuses, source=self.source, owner_id=self.owner_id,
                tags=tuple(self.tags), created_from=self.created_from, created_to=self.created_to,
            )
        if kind == "deals":
            return deals_service.DealFilter(
                owner_id=self.owner_id,
                statuses=tuple(deals_service.parse_status(s) for s in self.statuses),
                created_from=self.created_from,
                created_to=self.created_to,
            )
        return calls_service.CallFilter(agent_id=self.owner_id, started_from=self.created_from, started_to=self.created_to)


def _service_filter(kind: str, filt: ExportFilter | ServiceFilter | None) -> ServiceFilter:
    if filt is None:
        filt = ExportFilter()
    if isinstance(filt, ExportFilter):
        return filt.for_kind(kind)
    expected = SERVICE_FILTERS[kind]
    if not isinstance(filt, expected):
        raise TypeError(f"export {kind}: filter with a {expected.__name__}, not a {type(filt).__name__}")
    return filt


def selected_ids(session: Session, actor: Actor, kind: str, filt: ExportFilter | ServiceFilter | None = None) -> list[int]:
    """The ids of the records of ``kind`` that ``filt`` selects and the actor may see, in id order.

    The conditions are the service's own (``_filtered``), so an export holds what the list shows.
    """
    if kind not in KINDS:
        raise ValidationError(_("export: one of {choices}").format(choices=", ".join(KINDS)), "kind")
    service = _service_filter(kind, filt)
    if kind == "clients":
        query = clients_service._filtered(session, actor, service, select(Client.id)).order_by(col(Client.id))  # type: ignore[arg-type]
    elif kind == "leads":
        query = leads_service._filtered(actor, service, select(Lead.id)).order_by(col(Lead.id))  # type: ignore[arg-type]
    elif kind == "deals":
        query = deals_service._filtered(session, actor, service, select(Deal.id)).order_by(col(Deal.id))  # type: ignore[arg-type]
    else:
        query = calls_service._filtered(session, actor, service, select(Call.id)).order_by(col(Call.id))  # type: ignore[arg-type]
    return list(session.execute(query).scalars())


@dataclass
class ExportProgress:
    rows: int
    total: int | None


@dataclass
class ExportReport:
    kind: str
    format: str
    path: str
    rows: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "file": self.path,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds > 0 else 0.0,
        }


ProgressCallback = Callable[[ExportProgress], None]


def neutralise(value: str) -> str:
    """A CSV cell a spreadsheet will show as text: "=1+1" -> "'=1+1"."""
    return "'" + value if value.startswith(FORMULA_START) else value


# --- reading the records --------------------------------------------------------------------------


def _pages(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), PAGE):
        yield ids[start : start + PAGE]


def _names(session: Session, model: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(col(model.id).in_(ids))).all())


def _user_emails(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.email)).all())


def _contact_rows(session: Session, entity: str, ids: list[int], tz: ZoneInfo) -> tuple[list[str], Iterator[dict[str, Any]], int]:
    model = Client if entity == "client" else Lead
    owner_col = "client_id" if entity == "client" else "lead_id"
    link = ClientTag if entity == "client" else LeadTag
    definitions: list[CustomField] = custom_fields(session, entity)  # type: ignore[arg-type]
    columns = list(CONTACT_COLUMNS) + (list(LEAD_COLUMNS) if entity == "lead" else []) + [d.label for d in definitions]
    users = _user_emails(session)
    sources = dict(session.execute(select(SourceLabel.id, SourceLabel.name)).all())

    def rows() -> Iterator[dict[str, Any]]:
        table = model.__table__  # type: ignore[attr-defined]
        for page in _pages(ids):
            phones: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            for owner, kind, e164 in session.execute(
                select(getattr(Phone, owner_col), Phone.kind, Phone.e164)
                .where(getattr(Phone, owner_col).in_(page)).order_by(col(Phone.position), col(Phone.id))
            ):
                phones[owner][kind.value if hasattr(kind, "value") else kind].append(e164)
            emails: dict[int, list[str]] = defaultdict(list)
            for owner, address in session.execute(
                select(getattr(Email, owner_col), Email.address)
                .where(getattr(Email, owner_col).in_(page)).order_by(col(Email.position), col(Email.id))
            ):
                emails[owner].append(address)
            tags: dict[int, list[str]] = defaultdict(list)
            for owner, name in session.execute(
                select(getattr(link, owner_col), Tag.name).join(Tag, col(Tag.id) == col(link.tag_id))
                .where(getattr(link, owner_col).in_(page)).order_by(col(Tag.key))
            ):
                tags[owner].append(name)
            for row in session.execute(select(table).where(table.c.id.in_(page)).order_by(table.c.id)).mappings():
                rid = row["id"]
                out: dict[str, Any] = {
                    "tscrm ID": rid,
                    "Name": row["name"],
                    "Company": row["company_name"],
                    "Position": row["position"],
                    "Address": row["address"],
                    "Email": ", ".join(emails.get(rid, ())),
                    "Tags": ", ".join(tags.get(rid, ())),
                    "Source": sources.get(row["source_id"]),
                    "Responsible": users.get(row["owner_id"]),
                    "External id": row["external_ref"],
                    "Created": _time(row["created_at"], tz),
                }
                by_kind = phones.get(rid, {})
                for kind, column in PHONE_COLUMNS.items():
                    out[column] = ", ".join(by_kind.get(kind, ()))
                if entity == "lead":
                    status = row["status"]
                    out["Status"] = status.value if hasattr(status, "value") else status
                    for key, column in zip(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"), LEAD_COLUMNS[1:]):
                        out[column] = row[key]
                custom = row["custom"] or {}
                for definition in definitions:
                    out[definition.label] = custom.get(definition.key)
                yield out

    return columns, rows(), len(ids)


def _time(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def _deal_rows(session: Session, ids: list[int], tz: ZoneInfo) -> tuple[list[str], Iterator[dict[str, Any]], int]:
    users = _user_emails(session)

    def rows() -> Iterator[dict[str, Any]]:
        table = Deal.__table__  # type: ignore[attr-defined]
        for page in _pages(ids):
            records = list(session.execute(select(table).where(table.c.id.in_(page)).order_by(table.c.id)).mappings())
            client_names = _names(session, Client, {r["client_id"] for r in records})
            for row in records:
                status = row["status"]
                yield {
                    "tscrm ID": row["id"],
                    "Title": row["title"],
                    "Client": client_names.get(row["client_id"]),
                    "Client ID": row["client_id"],
                    "Amount": format(Decimal(row["amount"]), "f"),
                    "Currency": row["currency"],
                    "Status": status.value if hasattr(status, "value") else status,
                    "Responsible": users.get(row["owner_id"]),
                    "External id": row["external_ref"],
                    "Created": _time(row["created_at"], tz),
                    "Closed": _time(row["closed_at"], tz),
                }

    return list(DEAL_COLUMNS), rows(), len(ids)


def _call_rows(session: Session, ids: list[int], tz: ZoneInfo) -> tuple[list[str], Iterator[dict[str, Any]], int]:
    users = _user_emails(session)

    def rows() -> Iterator[dict[str, Any]]:
        table = Call.__table__  # type: ignore[attr-defined]
        for page in _pages(ids):
            for row in session.execute(select(table).where(table.c.id.in_(page)).order_by(table.c.id)).mappings():
                started, ended = row["started_at"], row["ended_at"]
                direction, outcome = row["direction"], row["outcome"]
                yield {
                    "tscrm ID": row["id"],
                    "Started": _time(started, tz),
                    "Direction": direction.value if hasattr(direction, "value") else direction,
                    "Our number": row["our_number"],
                    "Their number": row["their_number"],
                    "Agent": users.get(row["agent_id"]),
                    "Client ID": row["client_id"],
                    "Lead ID": row["lead_id"],
                    "Outcome": (outcome.value if hasattr(outcome, "value") else outcome) or "",
                    "Answered": _time(row["answered_at"], tz),
                    "Ended": _time(ended, tz),
                    "Duration (s)": int((ended - (row["answered_at"] or started)).total_seconds()) if ended else "",
                    "Recording": row["recording_ref"],
                    "External id": row["external_id"],
                }

    return list(CALL_COLUMNS), rows(), len(ids)


# --- writing -------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterator[dict[str, Any]], tick: Callable[[int], None]) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # the BOM lets Excel read UTF-8
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([neutralise(_cell(row.get(c))) for c in columns])
            count += 1
            if count % 1000 == 0:
                tick(count)
    return count


def _write_xlsx(path: Path, columns: Sequence[str], rows: Iterator[dict[str, Any]], tick: Callable[[int], None], title: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(columns))
    count = 0
    for row in rows:
        cells: list[Any] = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, str) and value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # text, never a formula
                cells.append(cell)
            else:
                cells.append(value if value != "" else None)
        sheet.append(cells)
        count += 1
        if count % 1000 == 0:
            tick(count)
    workbook.save(path)
    return count


def _vcard_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def _fold_line(line: str) -> str:
    """vCard lines longer than 75 octets continue on the next line after a space (RFC 6350 3.2)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts: list[str] = []
    current = ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > (75 if not parts else 74):
            parts.append(current)
            current = ""
        current += ch
    parts.append(current)
    return "\r\n ".join(parts)


_VCARD_TEL = {"work": "WORK,VOICE", "mobile": "CELL", "home": "HOME,VOICE", "other": "VOICE"}


def _write_vcf(path: Path, entity: str, rows: Iterator[dict[str, Any]], tick: Callable[[int], None]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for row in rows:
            lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:tscrm-{entity}-{row['tscrm ID']}"]
            name = row["Name"] or ""
            lines.append("FN:" + _vcard_escape(name))
            lines.append("N:" + _vcard_escape(name) + ";;;;")
            if row.get("Company"):
                lines.append("ORG:" + _vcard_escape(row["Company"]))
            if row.get("Position"):
                lines.append("TITLE:" + _vcard_escape(row["Position"]))
            for kind, column in PHONE_COLUMNS.items():
                for number in filter(None, (row.get(column) or "").split(", ")):
                    lines.append(f"TEL;TYPE={_VCARD_TEL[kind]}:{number}")
            for address in filter(None, (row.get("Email") or "").split(", ")):
                lines.append("EMAIL;TYPE=INTERNET:" + address)
            if row.get("Address"):
                lines.append("ADR;TYPE=WORK:;;" + _vcard_escape(row["Address"]) + ";;;;")
            if row.get("Tags"):
                lines.append("CATEGORIES:" + ",".join(_vcard_escape(t) for t in row["Tags"].split(", ")))
            lines.append("END:VCARD")
            handle.write("\r\n".join(_fold_line(line) for line in lines) + "\r\n")
            count += 1
            if count % 1000 == 0:
                tick(count)
    return count


def export(
    session: Session,
    actor: Actor,
    kind: str,
    fmt: str,
    path: str | os.PathLike[str],
    filt: ExportFilter | ServiceFilter | None = None,
    progress: ProgressCallback | None = None,
) -> ExportReport:
    """Write the records of ``kind`` that ``filt`` selects to ``path`` in ``fmt``.

    ``filt`` is the command line's ``ExportFilter`` or the service filter of ``kind`` as a screen
    lists with it (``clients.ClientFilter``, ``leads.LeadFilter``, ``deals.DealFilter``,
    ``calls.CallFilter``); either way the actor sees only what the right to see all allows.
    """
    actor.require(Right.EXPORT)
    if kind not in KINDS:
        raise ValidationError(_("export: one of {choices}").format(choices=", ".join(KINDS)), "kind")
    if fmt not in FORMATS:
        raise ValidationError(_("--format: one of {choices}").format(choices=", ".join(FORMATS)), "format")
    if fmt == "vcf" and kind not in ("clients", "leads"):
        raise ValidationError(_("--format vcf: only clients and leads are contacts"), "format")
    started = time.perf_counter()
    tz = ZoneInfo(actor.timezone or "UTC")
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise ValidationError(_("-o: the folder {folder} does not exist").format(folder=target.parent), "output")
    ids = selected_ids(session, actor, kind, filt)
    if kind in ("clients", "leads"):
        columns, rows, total = _contact_rows(session, kind[:-1], ids, tz)
    elif kind == "deals":
        columns, rows, total = _deal_rows(session, ids, tz)
    else:
        columns, rows, total = _call_rows(session, ids, tz)

    def tick(count: int) -> None:
        if progress is not None:
            progress(ExportProgress(count, total))

    if fmt == "csv":
        count = _write_csv(target, columns, rows, tick)
    elif fmt == "xlsx":
        count = _write_xlsx(target, columns, rows, tick, title=_(kind.capitalize()))
    else:
        count = _write_vcf(target, kind[:-1], rows, tick)
    tick(count)
    return ExportReport(kind, fmt, str(target), count, time.perf_counter() - started)
