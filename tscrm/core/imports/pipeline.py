"""The import pipeline: rows -> records -> duplicates -> one batch written in one transaction; and undo.

``run_import`` reads the rows of an open :class:`TableReader`, prepares each row (mapping,
validation, phones in E.164), decides what a duplicate becomes (``skip``, ``update`` or ``create``)
and writes the batch in ONE transaction: killed midway, the database holds none of its rows. Rows with
errors are skipped and listed; with ``strict`` nothing is written when any row is bad; ``dry_run``
does everything but write and returns the same report. ``progress`` is called every thousand rows
(raise :class:`ImportCancelled` from it to stop; nothing is kept).

``preview`` shows the first rows as they will be stored, for a mapping screen. ``undo_batch`` deletes
what a batch created and restores what it updated, leaving alone (and reporting) records edited since.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import and_, delete, exists, not_, or_, select
from sqlmodel import Session, col

from tscrm.core import search
from tscrm.core.db import Database
from tscrm.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    TscrmError,
    ValidationError,
)
from tscrm.core.imports.bulk import BulkWriter
from tscrm.core.imports.mapping import Entity, Mapping, check_mapping
from tscrm.core.imports.reading import RawRow, TableReader
from tscrm.core.imports.records import PrepareContext, Record, RowError, RowPreparer
from tscrm.core.imports.store import ContactStore, Deduper
from tscrm.core.imports.worker import RowStream
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Call,
    Client,
    ClientTag,
    Deal,
    Email,
    ImportBatch,
    ImportRecord,
    ImportStatus,
    Lead,
    LeadTag,
    Phone,
    PhoneKind,
    SearchEntry,
    SQLModel,
    Tag,
    Task,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity
from tscrm.core.services.company import get_company
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

OnDuplicate = Literal["skip", "update", "create"]
ON_DUPLICATE: tuple[str, ...] = ("skip", "update", "create")
MATCH_KEYS: tuple[str, ...] = ("phone", "email")
ERRORS_KEPT = 10_000  # rows of errors listed in a report (all are counted)
ERRORS_IN_HISTORY = 200
PROGRESS_EVERY = 1000


class ImportCancelled(TscrmError):
    """Raised (by a progress callback) to stop an import; nothing of it is kept."""


class _Rejected(Exception):
    """Internal: strict mode met a bad row, so the transaction must not be committed."""


@dataclass
class ImportOptions:
    entity: Entity = "client"
    match: tuple[str, ...] = MATCH_KEYS
    on_duplicate: OnDuplicate = "skip"
    dry_run: bool = False
    strict: bool = False
    to_pool: bool = False  # leads: into the pool (no owner, unprocessed)
    source: str | None = None  # source label of rows that have none
    tags: tuple[str, ...] = ()  # added to every record
    region: str | None = None  # region of national numbers; default: the company's
    chunk_size: int = 5000
    parallel: bool | None = None  # prepare rows in a second process (None: for large files)

    def check(self) -> None:
        if self.entity not in ("client", "lead"):
            raise ValidationError(_("entity: clients or leads"), "entity")
        if self.on_duplicate not in ON_DUPLICATE:
            raise ValidationError(
                _("--on-duplicate: one of {choices}").format(choices=", ".join(ON_DUPLICATE)), "on_duplicate"
            )
        unknown = [m for m in self.match if m not in MATCH_KEYS]
        if unknown or not self.match:
            raise ValidationError(
                _("--match: phone, email or both (phone,email), not {value!r}").format(value=",".join(self.match)),
                "match",
            )
        if self.to_pool and self.entity != "lead":
            raise ValidationError(_("--pool: only leads go to the pool"), "pool")

    def as_dict(self) -> dict[str, Any]:
        return {
            "match": list(self.match),
            "on_duplicate": self.on_duplicate,
            "strict": self.strict,
            "pool": self.to_pool,
            "source": self.source,
            "tags": list(self.tags),
            "region": self.region,
        }


def parse_match(value: str | None) -> tuple[str, ...]:
    """``--match phone,email`` -> ("phone", "email")."""
    if value is None:
        return MATCH_KEYS
    parts = tuple(p.strip().lower() for p in value.replace(";", ",").split(",") if p.strip())
    return parts


@dataclass
class ImportProgress:
    rows: int
    fraction: float | None
    created: int
    updated: int
    skipped: int
    errors: int


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    entity: str
    file: str
    batch_id: int | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    error_rows: int = 0
    phones: int = 0
    errors: list[RowError] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    strict: bool = False
    written: bool = False
    status: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    seconds: float = 0.0

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_rows += 1
        room = ERRORS_KEPT - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "entity": self.entity,
            "file": self.file,
            "status": self.status,
            "dry_run": self.dry_run,
            "strict": self.strict,
            "written": self.written,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "errors": self.error_rows,
            "phones": self.phones,
            "error_list": [e.as_dict() for e in self.errors],
            "unmapped_columns": self.unmapped,
            "mapping": self.mapping,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


ProgressCallback = Callable[[ImportProgress], None]


# --- running an import ----------------------------------------------------------------------------


def _insert_batch(writer: BulkWriter, actor: Actor, kind: str, file_name: str, started: Any, mapping: dict, options: dict) -> int:
    table = SQLModel.metadata.tables["import_batch"]
    result = writer.connection.execute(
        table.insert().values(
            kind=kind,
            file_name=file_name[:500],
            user_id=actor.id,
            started_at=started,
            status=ImportStatus.DONE,
            mapping=mapping,
            options=options,
            error_sample=[],
            undo_report={},
        )
    )
    return int(result.inserted_primary_key[0])


def finish_batch(writer: BulkWriter, batch_id: int, report: ImportReport, **extra: Any) -> None:
    """Counts and the first errors on the batch row; the activity high-water mark for undo."""
    table = SQLModel.metadata.tables["import_batch"]
    high = writer.execute("SELECT COALESCE(MAX(id), 0) FROM activity")[0][0]
    options = writer.connection.execute(select(table.c.options).where(table.c.id == batch_id)).scalar() or {}
    writer.connection.execute(
        table.update()
        .where(table.c.id == batch_id)
        .values(
            finished_at=utcnow(),
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            skipped=report.skipped,
            duplicates=report.duplicates,
            errors=report.error_rows,
            error_sample=[e.as_dict() for e in report.errors[:ERRORS_IN_HISTORY]],
            options={**options, "activity_high_water": int(high), **extra},
        )
    )
    mark_changed(writer.session)


def mark_changed(session: Session) -> None:
    """Tell the session that the database changed (other apps refresh; see ``Database.write``)."""
    try:
        from tscrm.core.db import CHANGED
    except ImportError:  # older core without change notifications
        return
    session.info[CHANGED] = True


def record_unfinished(db: Database, actor: Actor, report: ImportReport, kind: str, status: str, message: str, options: dict) -> int | None:
    """History of an import that wrote nothing (failed, cancelled, rejected by --strict)."""
    try:
        with db.write() as session:
            batch = ImportBatch(
                kind=kind,
                file_name=report.file[:500],
                user_id=actor.id,
                status=status,
                finished_at=utcnow(),
                rows=report.rows,
                errors=report.error_rows,
                mapping=report.mapping,
                options=options,
                error_sample=[e.as_dict() for e in report.errors[:ERRORS_IN_HISTORY]],
                message=message[:2000],
            )
            session.add(batch)
            session.flush()
            return batch.id
    except Exception:  # noqa: BLE001 - the history is a courtesy; the report still says what happened
        return None


def run_import(
    db: Database,
    actor: Actor,
    reader: TableReader,
    mapping: Mapping,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import the rows of ``reader`` as clients or leads (see the module docstring)."""
    options = options or ImportOptions(entity=mapping.entity)
    options.check()
    actor.require(Right.IMPORT)
    if mapping.entity != options.entity:
        raise ValidationError(_("The mapping is for {a}, the import for {b}").format(a=mapping.entity, b=options.entity), "map")
    report = ImportReport(
        entity=options.entity,
        file=reader.info.name,
        mapping=mapping.as_dict(),
        unmapped=mapping.unmapped(),
        dry_run=options.dry_run,
        strict=options.strict,
        encoding=reader.info.encoding,
        delimiter=reader.info.delimiter,
        sheet=reader.info.sheet,
    )
    kind = "clients" if options.entity == "client" else "leads"
    history_options = {**options.as_dict(), "encoding": reader.info.encoding, "delimiter": reader.info.delimiter, "sheet": reader.info.sheet}
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # millions of live strings (duplicate keys): full collections would cost seconds, and rows make no cycles
    try:
        if options.dry_run:
            with db.read() as session:
                _run(session, None, actor, reader, mapping, options, report, progress, kind, history_options)
            report.status = "dry_run"
        else:
            with db.write() as session:
                writer = BulkWriter(session)
                try:
                    _run(session, writer, actor, reader, mapping, options, report, progress, kind, history_options)
                    writer.finish()
                except BaseException:
                    writer.abandon()
                    raise
            report.written = True
            report.status = ImportStatus.DONE
    except _Rejected:
        report.status = "rejected"
        report.batch_id = record_unfinished(
            db, actor, report, kind, "rejected", _("--strict: {n} rows with errors, nothing written").format(n=report.error_rows), history_options
        )
    except ImportCancelled as exc:
        report.status = "cancelled"
        report.batch_id = None
        if not options.dry_run:
            record_unfinished(db, actor, report, kind, "cancelled", str(exc) or _("Cancelled"), history_options)
        raise
    except (TscrmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if not options.dry_run:
            record_unfinished(db, actor, report, kind, ImportStatus.FAILED, f"{type(exc).__name__}: {exc}", history_options)
        raise
    finally:
        if collecting:
            gc.enable()
        report.seconds = time.perf_counter() - started
    return report


def _run(
    session: Session,
    writer: BulkWriter | None,
    actor: Actor,
    reader: TableReader,
    mapping: Mapping,
    options: ImportOptions,
    report: ImportReport,
    progress: ProgressCallback | None,
    kind: str,
    history_options: dict,
) -> None:
    from tscrm.core.services.contacts import custom_fields

    check_mapping(mapping, custom_fields(session, options.entity))
    company = get_company(session)
    region = options.region or company.default_region
    context = PrepareContext.build(
        session, actor, mapping, reader.headers, region=region, default_source=options.source, extra_tags=options.tags
    )
    now = utcnow()
    if writer is not None:
        writer.tune_for_bulk()
        report.batch_id = _insert_batch(writer, actor, kind, reader.info.name, now, mapping.as_dict(), history_options)
    store = ContactStore(
        session, actor, options.entity, batch_id=report.batch_id, now=now, writer=writer,
        to_pool=options.to_pool, chunk_size=options.chunk_size,
    )
    dedupe = Deduper(session, options.entity, options.match)
    if writer is not None:
        if _large_against_table(reader.info.size, store.highest_existing_id):
            defer_lookup_indexes(writer, options.entity)
        writer.start_background()
    policy = options.on_duplicate
    stream = RowStream(reader, context, parallel=options.parallel)
    try:
        for record, errors in stream:
            report.rows += 1
            if record is None:
                report.add_errors(errors)
                if options.strict:
                    store.stop_writing()
            else:
                _place(record, store, dedupe, policy, report, options)
            if progress is not None and report.rows % PROGRESS_EVERY == 0:
                progress(_progress(report, stream))
    finally:
        stream.close()
    store.finish()
    report.phones = store.phones_written
    if progress is not None:
        progress(_progress(report, stream))
    if options.strict and report.error_rows:
        raise _Rejected()
    if writer is not None and report.batch_id is not None:
        writer.stop_background()
        finish_batch(writer, report.batch_id, report)


# Bytes of a typical contact row in a CSV export (name, company, a phone or two, an email, tags).
_BYTES_PER_ROW = 90
_DEFER_INDEXES_FROM_ROWS = 20_000


def _large_against_table(file_bytes: int, highest_id: int) -> bool:
    """Whether the file is large enough, and the table small enough, that the indexes the rows
    land in at random places are cheaper to build again afterwards (see ``BulkWriter.defer_indexes``)."""
    rows = file_bytes // _BYTES_PER_ROW
    return rows >= _DEFER_INDEXES_FROM_ROWS and rows * 2 >= highest_id


def defer_lookup_indexes(writer: BulkWriter, entity: str) -> None:
    """Names, companies, numbers, addresses and search keys arrive in no order: their indexes are
    built after the rows. The indexes the import itself reads (by owner record) stay, as do those
    whose keys arrive in order (owner, creation time, the source of the batch)."""
    writer.defer_indexes(entity, keep_leading=("owner_id", "created_at", "source_id", "external_ref", "status"))
    writer.defer_indexes("phone", keep_leading=("client_id", "lead_id"))
    writer.defer_indexes("email", keep_leading=("client_id", "lead_id"))
    writer.defer_indexes("search_entry", keep_leading=("owner_id", "kind"))


def _place(record: Record, store: ContactStore, dedupe: Deduper, policy: str, report: ImportReport, options: ImportOptions) -> None:
    target = dedupe.find(record)
    if target is None:
        dedupe.remember(record, store.create(record))
        report.created += 1
        return
    report.duplicates += 1
    if policy == "skip":
        report.skipped += 1
    elif policy == "create":
        store.create(record)
        report.created += 1
    else:
        try:
            changed = store.update(target, record)
        except PermissionDenied as exc:
            report.add_errors([RowError(record.row, "", "", str(exc))])
            if options.strict:
                store.stop_writing()
            return
        if changed:
            dedupe.remember(record, target)
            report.updated += 1
        else:
            report.skipped += 1


def _progress(report: ImportReport, stream: RowStream) -> ImportProgress:
    return ImportProgress(report.rows, stream.fraction, report.created, report.updated, report.skipped, report.error_rows)


# --- preview (the mapping screen) -----------------------------------------------------------------


@dataclass
class PreviewRow:
    row: int
    record: Record | None
    errors: list[RowError]
    duplicate_of: int | None = None


def preview(
    session: Session,
    actor: Actor,
    headers: list[str],
    rows: list[RawRow],
    mapping: Mapping,
    options: ImportOptions | None = None,
) -> list[PreviewRow]:
    """The given rows as they will be stored (or why not), and which record each duplicates."""
    options = options or ImportOptions(entity=mapping.entity)
    region = options.region or get_company(session).default_region
    context = PrepareContext.build(session, actor, mapping, headers, region=region, default_source=options.source, extra_tags=options.tags)
    preparer = RowPreparer(context)
    out: list[PreviewRow] = []
    owner_col = Phone.client_id if mapping.entity == "client" else Phone.lead_id
    email_col = Email.client_id if mapping.entity == "client" else Email.lead_id
    for raw in rows:
        record, errors = preparer.prepare(raw)
        duplicate = None
        if record is not None:
            numbers = [e for _k, e in record.phones] if "phone" in options.match else []
            addresses = record.emails if "email" in options.match else []
            if numbers:
                duplicate = session.execute(select(owner_col).where(col(Phone.e164).in_(numbers), owner_col.is_not(None)).limit(1)).scalar()  # type: ignore[union-attr]
            if duplicate is None and addresses:
                duplicate = session.execute(select(email_col).where(col(Email.address).in_(addresses), email_col.is_not(None)).limit(1)).scalar()  # type: ignore[union-attr]
        out.append(PreviewRow(raw.number, record, errors, duplicate))
    return out


# --- history --------------------------------------------------------------------------------------


def list_batches(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> list[ImportBatch]:
    """Imports, newest first."""
    actor.require(Right.IMPORT)
    query = select(ImportBatch).order_by(col(ImportBatch.started_at).desc(), col(ImportBatch.id).desc())
    return list(session.scalars(query.offset(offset).limit(limit)).all())


def get_batch(session: Session, actor: Actor, batch_id: int) -> ImportBatch:
    actor.require(Right.IMPORT)
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(_("No import batch {id}").format(id=batch_id))
    return batch


# --- undo -----------------------------------------------------------------------------------------


@dataclass
class UndoReport:
    batch_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    restored: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)  # records edited since the import
    forced: bool = False
    removed_tags: list[str] = field(default_factory=list)  # tags the batch created, unused now
    removed_sources: list[str] = field(default_factory=list)  # source labels the batch created, unused now

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "deleted": self.deleted,
            "restored": self.restored,
            "kept": self.kept,
            "forced": self.forced,
            "removed_tags": self.removed_tags,
            "removed_sources": self.removed_sources,
        }


_CONTACT_MODELS: dict[str, Any] = {"client": Client, "lead": Lead}
# Undo deletes what depends on other records first.
_DELETE_ORDER = ("call", "task", "deal", "lead", "client")


def undo_batch(db: Database, actor: Actor, batch_id: int, *, force: bool = False) -> UndoReport:
    """Cancel an import: delete what it created, restore what it updated (see the module docstring).

    Records edited since the import (changed, or with new feed entries such as notes or calls) are
    left as they are and listed, unless ``force``.
    """
    actor.require(Right.IMPORT)
    report = UndoReport(batch_id, forced=force)
    with db.write() as session:
        batch = session.get(ImportBatch, batch_id)
        if batch is None:
            raise NotFound(_("No import batch {id}").format(id=batch_id))
        if batch.status == ImportStatus.UNDONE:
            raise Conflict(_("Import {id} was already undone").format(id=batch_id))
        if batch.status != ImportStatus.DONE:
            raise Conflict(_("Import {id} wrote nothing ({status}): there is nothing to undo").format(id=batch_id, status=batch.status))
        if batch.user_id != actor.id and not actor.can(Right.EDIT):
            raise PermissionDenied(_("{user} may not undo another user's import").format(user=actor.name))
        high_water = int((batch.options or {}).get("activity_high_water") or 0)
        records = list(session.scalars(select(ImportRecord).where(ImportRecord.batch_id == batch_id).order_by(col(ImportRecord.id))).all())
        writer = BulkWriter(session)
        try:
            for rec in records:
                if rec.action == "updated":
                    _restore(session, actor, rec, high_water, force, report)
            for entity in _DELETE_ORDER:
                runs = [(r.record_id, r.last_id or r.record_id, r.stamp) for r in records if r.action == "created" and r.entity == entity]
                if runs:
                    report.deleted[entity] = _delete_created(session, writer, entity, runs, high_water, force, report)
            writer.finish()
            _remove_unused_labels(session, batch.options or {}, report)
        except BaseException:
            writer.abandon()
            raise
        batch.status = ImportStatus.UNDONE
        batch.undone_at = utcnow()
        batch.undone_by_id = actor.id
        batch.undo_report = report.as_dict()
        session.add(batch)
        mark_changed(session)
    return report


def _users_of(table_name: str) -> list[Any]:
    """Every column of every table that points to ``table_name``'s id (other areas' tables too)."""
    from tscrm.core.models import load_all_models

    load_all_models()
    return [
        fk.parent
        for table in SQLModel.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == table_name
    ]


def _remove_unused_labels(session: Session, options: dict[str, Any], report: UndoReport) -> None:
    """Delete the tags and source labels the batch created that nothing refers to any more."""
    for table_name, listed, match_column, out in (
        ("tag", options.get("created_tags") or [], "key", report.removed_tags),
        ("source_label", options.get("created_sources") or [], "name", report.removed_sources),
    ):
        if not listed:
            continue
        table = SQLModel.metadata.tables[table_name]
        wanted = {int(i): v for i, v in listed}
        used = [exists().where(c == table.c.id) for c in _users_of(table_name)]
        query = select(table.c.id, table.c.name, table.c[match_column]).where(table.c.id.in_(wanted))
        if used:
            query = query.where(not_(or_(*used)))
        doomed = [(rid, name) for rid, name, value in session.execute(query) if wanted.get(rid) == value]
        if doomed:
            session.execute(delete(table).where(table.c.id.in_([rid for rid, _n in doomed])))
            out.extend(sorted(name for _i, name in doomed))


def _touched_since(model: Any, entity: str, stamp: Any, high_water: int) -> Any:
    """SQL condition: the record changed after the import, or got feed entries of its own since."""
    activity_col = getattr(Activity, f"{entity}_id")
    return or_(
        model.updated_at != stamp,
        exists().where(activity_col == model.id, col(Activity.id) > high_water),
    )


def _delete_created(session: Session, writer: BulkWriter, entity: str, runs: list[tuple[int, int, Any]], high_water: int, force: bool, report: UndoReport) -> int:
    deleted = 0
    if entity in _CONTACT_MODELS:
        model = _CONTACT_MODELS[entity]
        for first, last, stamp in runs:
            in_run = and_(col(model.id) >= first, col(model.id) <= last)
            if force:
                doomed = in_run
            else:
                touched = _touched_since(model, entity, stamp, high_water)
                for rid, name in session.execute(select(model.id, model.name).where(in_run, touched)):
                    report.kept.append({"entity": entity, "id": rid, "name": name, "reason": _("edited since the import")})
                doomed = and_(in_run, not_(touched))
            ids = select(model.id).where(doomed)
            session.execute(delete(SearchEntry).where(SearchEntry.kind == entity, col(SearchEntry.ref_id).in_(ids)))
            if entity == "client":
                deal_ids = select(Deal.id).where(col(Deal.client_id).in_(ids))
                session.execute(delete(SearchEntry).where(SearchEntry.kind == "deal", col(SearchEntry.ref_id).in_(deal_ids)))
            result = session.execute(delete(model).where(doomed))
            deleted += result.rowcount or 0
        return deleted
    model = {"deal": Deal, "task": Task, "call": Call}[entity]
    for first, last, _stamp in runs:
        in_run = and_(col(model.id) >= first, col(model.id) <= last)
        if entity == "deal":
            session.execute(delete(SearchEntry).where(SearchEntry.kind == "deal", col(SearchEntry.ref_id).in_(select(Deal.id).where(in_run))))
        result = session.execute(delete(model).where(in_run))
        deleted += result.rowcount or 0
    return deleted


def _restore_deal(session: Session, actor: Actor, rec: ImportRecord, force: bool, report: UndoReport) -> None:
    deal = session.get(Deal, rec.record_id)
    if deal is None:
        report.kept.append({"entity": "deal", "id": rec.record_id, "name": "", "reason": _("deleted since the import")})
        return
    if not force and rec.stamp is not None and deal.updated_at != rec.stamp:
        report.kept.append({"entity": "deal", "id": deal.id, "name": deal.title, "reason": _("edited since the import")})
        return
    fields = dict((rec.previous or {}).get("fields") or {})
    for key, value in fields.items():
        setattr(deal, key, Decimal(value) if key == "amount" else value)
    deal.updated_at = utcnow()
    session.add(deal)
    session.flush()
    activity.record(
        session, ActivityKind.EDITED, author_id=actor.id, client_id=deal.client_id, deal_id=deal.id,
        text=Phrase(N_("Import {id} undone: previous values restored"), {"id": str(rec.batch_id)}),
        data={"import_batch": rec.batch_id, "undo": True},
    )
    search.index_deal(session, deal)
    report.restored += 1


def _restore(session: Session, actor: Actor, rec: ImportRecord, high_water: int, force: bool, report: UndoReport) -> None:
    entity = rec.entity
    if entity == "deal":
        _restore_deal(session, actor, rec, force, report)
        return
    if entity not in _CONTACT_MODELS:
        return
    model = _CONTACT_MODELS[entity]
    row = session.get(model, rec.record_id)
    if row is None:
        report.kept.append({"entity": entity, "id": rec.record_id, "name": "", "reason": _("deleted since the import")})
        return
    if not force:
        touched = session.execute(
            select(model.id).where(model.id == rec.record_id, _touched_since(model, entity, rec.stamp, high_water))
        ).first()
        if touched:
            report.kept.append({"entity": entity, "id": row.id, "name": row.name, "reason": _("edited since the import")})
            return
    previous = rec.previous or {}
    fields = dict(previous.get("fields") or {})
    for key, value in fields.items():
        if key == "status":
            continue
        setattr(row, key, value)
    row.updated_at = utcnow()
    owner = "client_id" if entity == "client" else "lead_id"
    session.execute(delete(Phone).where(getattr(Phone, owner) == row.id))
    for position, (kind, e164) in enumerate(previous.get("phones") or []):
        session.add(Phone(**{owner: row.id}, kind=PhoneKind(kind), e164=e164, rdigits=e164[1:][::-1], position=position))
    session.execute(delete(Email).where(getattr(Email, owner) == row.id))
    for position, address in enumerate(previous.get("emails") or []):
        session.add(Email(**{owner: row.id}, address=address, position=position))
    link = ClientTag if entity == "client" else LeadTag
    link_owner = getattr(link, owner)
    session.execute(delete(link).where(link_owner == row.id))
    existing_tags = set(session.execute(select(Tag.id).where(col(Tag.id).in_(previous.get("tag_ids") or []))).scalars())
    for tag_id in previous.get("tag_ids") or []:
        if tag_id in existing_tags:
            session.add(link(**{owner: row.id, "tag_id": tag_id}))
    session.add(row)
    session.flush()
    activity.record(
        session,
        ActivityKind.EDITED,
        author_id=actor.id,
        text=Phrase(N_("Import {id} undone: previous values restored"), {"id": str(rec.batch_id)}),
        data={"import_batch": rec.batch_id, "undo": True},
        **{owner: row.id},
    )
    if entity == "client":
        search.index_client(session, row)
    else:
        search.index_lead(session, row)
    report.restored += 1


def import_undo_summary(report: UndoReport) -> str:
    deleted = sum(report.deleted.values())
    text = _("Import {id} undone: {deleted} records deleted, {restored} restored, {kept} edited since and kept").format(
        id=report.batch_id, deleted=deleted, restored=report.restored, kept=len(report.kept)
    )
    if report.removed_tags:
        text += "; " + _("tags removed: {names}").format(names=", ".join(report.removed_tags))
    if report.removed_sources:
        text += "; " + _("sources removed: {names}").format(names=", ".join(report.removed_sources))
    return text
