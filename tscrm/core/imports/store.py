"""Writing the clients or leads of one import batch, and finding the records they duplicate.

:class:`ContactStore` creates records in chunks through :class:`BulkWriter` (no ORM), exactly as the
services would have made them -- phones with their reversed digits, lower-case emails, tags, the
source, a CREATED entry in the feed, a search entry -- and updates existing records one by one,
keeping their previous values in the undo log. Without a writer (a dry run) it computes the same
outcome and writes nothing.

:class:`Deduper` knows the phones, emails (and external references) of the existing records and of
the records this batch already wrote, so that a row matches both what was there and an earlier row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session

from tscrm.core.errors import PermissionDenied
from tscrm.core.imports.bulk import BulkWriter
from tscrm.core.imports.records import DEFAULT_OWNER, Record
from tscrm.core.models import ActivityKind, LeadStatus, SQLModel
from tscrm.core.permissions import Actor
from tscrm.core.text import fold
from tscrm.i18n import N_, Phrase, _

Entity = Literal["client", "lead"]
OPEN_LEAD_STATUSES = (LeadStatus.UNPROCESSED.value, LeadStatus.IN_PROGRESS.value)
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class RangeLog:
    """Ids written by a batch, kept as (first, last) runs: a million created rows are a few runs."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []

    def add(self, record_id: int) -> None:
        if self.runs and self.runs[-1][1] + 1 == record_id:
            self.runs[-1][1] = record_id
        else:
            self.runs.append([record_id, record_id])

    def __contains__(self, record_id: int) -> bool:
        return any(a <= record_id <= b for a, b in self.runs)

    def __len__(self) -> int:
        return sum(b - a + 1 for a, b in self.runs)


@dataclass
class _IdSource:
    """Fresh ids for one table: counted locally on SQLite and in dry runs, from the sequence on PostgreSQL."""

    writer: BulkWriter | None
    table: str
    start: int
    block: int = 50  # PostgreSQL: ids fetched per round trip, doubling up to 5000
    _ready: list[int] = field(default_factory=list)

    def next(self) -> int:
        if self.writer is None or self.writer.is_sqlite:
            self.start += 1
            return self.start
        if not self._ready:
            self._ready = self.writer.next_ids(self.table, self.block)[::-1]
            self.block = min(self.block * 2, 5000)
        return self._ready.pop()


@dataclass
class ContactState:
    """An existing record as it is now: what an update merges into and what undo puts back."""

    record: Record
    owner_id: int | None
    source_id: int | None
    status: str | None
    updated_at: datetime
    snapshot: dict[str, Any]


class ContactStore:
    """Creates and updates the clients or leads of one batch (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        entity: Entity,
        *,
        batch_id: int | None,
        now: datetime,
        writer: BulkWriter | None,
        to_pool: bool = False,
        chunk_size: int = 5000,
    ) -> None:
        self.session = session
        self.actor = actor
        self.entity = entity
        self.batch_id = batch_id
        self.now = now
        self.writer = writer
        self.to_pool = to_pool
        self.chunk_size = chunk_size
        self.table = SQLModel.metadata.tables[entity]
        self.link_table = f"{entity}_tag"
        self.owner_column = f"{entity}_id"
        self.pending: dict[int, Record] = {}
        self._search_rows: list[tuple] = []
        self.search_chunk = max(chunk_size, 50_000)
        self.created = RangeLog()
        self.updated_existing: set[int] = set()
        self.undo_rows: list[tuple] = []
        self.phones_written = 0
        conn = session.connection()
        self._tags: dict[str, tuple[int, str]] = {
            key: (tag_id, name) for tag_id, key, name in conn.exec_driver_sql("SELECT id, key, name FROM tag")
        }
        self._sources: dict[str, int] = {name: sid for sid, name in conn.exec_driver_sql("SELECT id, name FROM source_label")}
        # labels this batch made: undo removes them again when nothing uses them any more
        self.new_tags: list[tuple[int, str]] = []  # (id, key)
        self.new_sources: list[tuple[int, str]] = []  # (id, name)
        self._fake_id = 0
        highest = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {entity}").scalar() or 0
        self.highest_existing_id = int(highest)
        self.ids = _IdSource(writer, entity, self.highest_existing_id)
        self._now_value = writer.time(now) if writer else None

    # -- labels --------------------------------------------------------------------------------------

    def _fake(self) -> int:
        self._fake_id -= 1
        return self._fake_id

    def tag(self, name: str) -> tuple[int, str]:
        """(id, stored name) of a tag, created on first use ("VIP" and "vip" are one tag)."""
        key = fold(name)
        found = self._tags.get(key)
        if found is None:
            if self.writer is None:
                found = (self._fake(), name)
            else:
                rows = self.writer.execute("INSERT INTO tag (name, key) VALUES (?, ?) RETURNING id", (name, key))
                found = (rows[0][0], name)
                self.new_tags.append((found[0], key))
            self._tags[key] = found
        return found

    def source(self, name: str | None) -> int | None:
        if not name:
            return None
        found = self._sources.get(name)
        if found is None:
            if self.writer is None:
                found = self._fake()
            else:
                found = self.writer.execute("INSERT INTO source_label (name) VALUES (?) RETURNING id", (name,))[0][0]
                self.new_sources.append((found, name))
            self._sources[name] = found
        return found

    def owner_of(self, record: Record) -> int | None:
        if record.owner_id != DEFAULT_OWNER:
            return record.owner_id
        return None if (self.entity == "lead" and self.to_pool) else self.actor.id

    def stop_writing(self) -> None:
        """From now on compute only (``--strict`` after the first bad row: nothing will be kept)."""
        self.writer = None
        self.pending.clear()
        self._search_rows = []

    # -- creating -------------------------------------------------------------------------------------

    def create(self, record: Record) -> int:
        record_id = self.ids.next()
        pending = self.pending
        pending[record_id] = record
        self.created.add(record_id)
        if len(pending) >= self.chunk_size:
            self.flush()
        return record_id

    def flush(self) -> None:
        """Write the pending created records (one bulk insert per table)."""
        if not self.pending:
            return
        chunk, self.pending = self.pending, {}
        for record in chunk.values():
            self.phones_written += len(record.phones)
        writer = self.writer
        if writer is None:
            return
        if writer.is_sqlite:
            # SQLite hands out the ids of deleted rows again: a search entry left behind by a deletion
            # that forgot it must not block (or be mistaken for) the new record's
            ids = list(chunk)
            writer.execute_later("DELETE FROM search_entry WHERE kind = ? AND ref_id BETWEEN ? AND ?", (self.entity, ids[0], ids[-1]))
        now = self._now_value
        actor_id = self.actor.id
        entity = self.entity
        owner_col = self.owner_column
        data = writer.json({"import_batch": self.batch_id})
        main_rows: list[tuple] = []
        phone_rows: list[tuple] = []
        email_rows: list[tuple] = []
        link_rows: list[tuple] = []
        activity_rows: list[tuple] = []
        search_rows: list[tuple] = []
        # the same text and data for every created row of a kind: rendered once (see activity.record)
        phrases = {"client": Phrase(N_("Client created")), "lead": Phrase(N_("Lead created")), "pool": Phrase(N_("Lead added to the pool"))}
        created_entries = {
            key: (phrase.render(), writer.json({"import_batch": self.batch_id, "phrase": phrase.to_data()}))
            for key, phrase in phrases.items()
        }
        created_kind, note_kind = ActivityKind.CREATED.value, ActivityKind.NOTE.value
        default_owner = None if (entity == "lead" and self.to_pool) else actor_id
        sources, tags = self._sources, self._tags
        for record_id, record in chunk.items():
            owner = record.owner_id if record.owner_id != DEFAULT_OWNER else default_owner
            created = writer.time(record.created_at) if record.created_at else now
            custom = writer.json(record.custom) if record.custom else "{}"
            source_id = (sources.get(record.source) or self.source(record.source)) if record.source else None
            if entity == "client":
                main_rows.append(
                    (record_id, record.name, record.company_name, record.position, record.address, owner, source_id,
                     actor_id, custom, record.external_ref, created, now)
                )
            else:
                status = record.status or (LeadStatus.IN_PROGRESS.value if owner is not None else LeadStatus.UNPROCESSED.value)
                utm = record.utm
                closed = now if status not in OPEN_LEAD_STATUSES else None
                main_rows.append(
                    (record_id, record.name, record.company_name, record.position, record.address, status, owner,
                     source_id, actor_id, utm.get("utm_source"), utm.get("utm_medium"), utm.get("utm_campaign"),
                     utm.get("utm_term"), utm.get("utm_content"), custom, record.external_ref, created, now,
                     now if owner is not None else None, closed)
                )
            for position, (kind, e164) in enumerate(record.phones):
                phone_rows.append((record_id, kind, e164, e164[1:][::-1], position))
            for position, address in enumerate(record.emails):
                email_rows.append((record_id, address, position))
            for name in record.tags:
                link_rows.append((record_id, (tags.get(fold(name)) or self.tag(name))[0]))
            kind_text, kind_data = created_entries[entity if entity == "client" or owner is not None else "pool"]
            activity_rows.append((created_kind, record_id, actor_id, kind_text, kind_data, created))
            for note in record.notes:
                activity_rows.append((note_kind, record_id, actor_id, note, data, now))
            if entity == "client" or (main_rows[-1][5] in OPEN_LEAD_STATUSES):
                search_rows.append((record_id, owner, *(record.search or record.search_fields())))
        if entity == "client":
            writer.insert(
                "client",
                ("id", "name", "company_name", "position", "address", "owner_id", "source_id", "created_by_id",
                 "custom", "external_ref", "created_at", "updated_at"),
                main_rows,
            )
        else:
            writer.insert(
                "lead",
                ("id", "name", "company_name", "position", "address", "status", "owner_id", "source_id",
                 "created_by_id", *UTM_FIELDS, "custom", "external_ref", "created_at", "updated_at",
                 "claimed_at", "closed_at"),
                main_rows,
            )
        writer.insert("phone", (owner_col, "kind", "e164", "rdigits", "position"), phone_rows)
        writer.insert("email", (owner_col, "address", "position"), email_rows)
        if link_rows:
            writer.insert(self.link_table, (owner_col, "tag_id"), link_rows)
        writer.insert("activity", ("kind", owner_col, "author_id", "text", "data", "created_at"), activity_rows)
        self._search_rows.extend(search_rows)
        if len(self._search_rows) >= self.search_chunk:
            self.flush_search()

    def flush_search(self) -> None:
        """Write the waiting search entries: in large sorted runs the FTS index grows fastest."""
        rows, self._search_rows = self._search_rows, []
        self.insert_search(self.entity, rows)

    def insert_search(self, kind: str, rows: list[tuple]) -> None:
        """Search entries (ref_id, owner_id, name, name_key, text, digits); the triggers index them."""
        if self.writer is None or not rows:
            return
        self.writer.insert_sorted(
            "search_entry",
            ("kind", "ref_id", "owner_id", "name", "name_key", "text", "digits"),
            [(kind, *row) for row in rows],
            order_by="length(name_key), name_key",
        )

    # -- updating -------------------------------------------------------------------------------------

    def load_state(self, record_id: int) -> ContactState | None:
        table = self.table
        conn = self.session.connection()
        row = conn.execute(sa_select(table).where(table.c.id == record_id)).mappings().first()
        if row is None:
            return None
        oc = self.owner_column
        phones = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT kind, e164 FROM phone WHERE {oc} = {int(record_id)} ORDER BY position, id")]
        emails = [r[0] for r in conn.exec_driver_sql(
            f"SELECT address FROM email WHERE {oc} = {int(record_id)} ORDER BY position, id")]
        tags = list(conn.exec_driver_sql(
            f"SELECT t.id, t.name FROM tag t JOIN {self.link_table} l ON l.tag_id = t.id WHERE l.{oc} = {int(record_id)} ORDER BY t.key"))
        source_name = None
        if row["source_id"] is not None:
            source_name = conn.exec_driver_sql(f"SELECT name FROM source_label WHERE id = {int(row['source_id'])}").scalar()
        custom = dict(row["custom"] or {})
        record = Record(
            0,
            row["name"],
            row["company_name"],
            row["position"],
            row["address"],
            [(str(k.value if hasattr(k, "value") else k), e) for k, e in phones],
            list(emails),
            [name for _i, name in tags],
            source_name,
            row["owner_id"],
            dict(custom),
            row["external_ref"],
        )
        fields = {
            "name": row["name"],
            "company_name": row["company_name"],
            "position": row["position"],
            "address": row["address"],
            "owner_id": row["owner_id"],
            "source_id": row["source_id"],
            "custom": custom,
            "external_ref": row["external_ref"],
        }
        status = None
        if self.entity == "lead":
            status = row["status"].value if hasattr(row["status"], "value") else row["status"]
            fields["status"] = status
            for key in UTM_FIELDS:
                fields[key] = row[key]
                if row[key]:
                    record.utm[key] = row[key]
            record.status = status
        snapshot = {
            "fields": fields,
            "phones": [list(p) for p in record.phones],
            "emails": list(emails),
            "tag_ids": [tag_id for tag_id, _n in tags],
        }
        return ContactState(record, row["owner_id"], row["source_id"], status, row["updated_at"], snapshot)

    def update(self, record_id: int, incoming: Record) -> list[str]:
        """Merge ``incoming`` into record ``record_id``; returns the changed fields (empty: nothing new).

        Raises ``PermissionDenied`` when the actor may not change that record.
        """
        pending = self.pending.get(record_id)
        if pending is not None:  # created earlier in this chunk, not written yet
            return pending.merge(incoming)
        if self._search_rows and record_id in self.created:
            self.flush_search()  # its search entry must exist before it is updated
        if self.writer is not None:
            self.writer.drain()  # what follows reads the database
        state = self.load_state(record_id)
        if state is None:
            return []
        if not self.actor.can_edit(state.owner_id):
            raise PermissionDenied(_("{user} may not change {what}").format(user=self.actor.name, what=state.record.name))
        if incoming.notes:  # a note already in the record's feed is not added again (a second run)
            known = {t for (t,) in self.session.connection().exec_driver_sql(
                f"SELECT text FROM activity WHERE kind = 'note' AND {self.owner_column} = {int(record_id)}")}
            incoming.notes = [n for n in incoming.notes if n not in known]
        current = state.record
        changed = current.merge(incoming)
        if not changed and not incoming.notes:
            return []
        phones_before = len(state.snapshot["phones"])
        self.phones_written += len(current.phones) - phones_before
        writer = self.writer
        if writer is None:
            return changed or ["notes"]
        created_in_batch = record_id in self.created
        if not created_in_batch and record_id not in self.updated_existing:
            self.updated_existing.add(record_id)
            self.undo_rows.append(
                (self.batch_id, self.entity, "updated", record_id, None, writer.json(state.snapshot), self._now_value)
            )
        owner = current.owner_id
        sets = {
            "name": current.name,
            "company_name": current.company_name,
            "position": current.position,
            "address": current.address,
            "owner_id": owner,
            "source_id": self.source(current.source),
            "custom": writer.json(current.custom),
            "external_ref": current.external_ref,
            "updated_at": self._now_value,
        }
        if self.entity == "lead":
            for key in UTM_FIELDS:
                sets[key] = current.utm.get(key)
            if "status" in changed and current.status:
                sets["status"] = current.status
                sets["closed_at"] = self._now_value if current.status not in OPEN_LEAD_STATUSES else None
        assignments = ", ".join(f"{k} = ?" for k in sets)
        writer.execute(f"UPDATE {self.entity} SET {assignments} WHERE id = ?", (*sets.values(), record_id))
        oc = self.owner_column
        if "phones" in changed:
            writer.insert("phone", (oc, "kind", "e164", "rdigits", "position"),
                          [(record_id, k, e, e[1:][::-1], pos) for pos, (k, e) in enumerate(current.phones) if pos >= phones_before])
        if "emails" in changed:
            before = len(state.snapshot["emails"])
            writer.insert("email", (oc, "address", "position"),
                          [(record_id, a, pos) for pos, a in enumerate(current.emails) if pos >= before])
        if current.tags:
            old_ids = set(state.snapshot["tag_ids"])
            links = []
            for name in current.tags:
                tag_id = self.tag(name)[0]
                if tag_id not in old_ids:
                    links.append((record_id, tag_id))
                    old_ids.add(tag_id)
            if links:
                writer.insert(self.link_table, (oc, "tag_id"), links)
        rows = []
        if changed:
            phrase = Phrase(N_("Client edited") if self.entity == "client" else N_("Lead edited"))
            data = {"import_batch": self.batch_id, "fields": [f for f in changed if f != "notes"], "phrase": phrase.to_data()}
            rows.append((ActivityKind.EDITED.value, record_id, self.actor.id, phrase.render(), writer.json(data), self._now_value))
        for note in incoming.notes:
            rows.append((ActivityKind.NOTE.value, record_id, self.actor.id, note, writer.json({"import_batch": self.batch_id}), self._now_value))
        writer.insert("activity", ("kind", oc, "author_id", "text", "data", "created_at"), rows)
        self._reindex(record_id, current, owner)
        return changed or ["notes"]

    def _reindex(self, record_id: int, record: Record, owner: int | None) -> None:
        writer = self.writer
        assert writer is not None
        values = (owner, *record.search_fields())
        exists = writer.execute("SELECT id FROM search_entry WHERE kind = ? AND ref_id = ?", (self.entity, record_id))
        if exists:
            writer.execute(
                "UPDATE search_entry SET owner_id = ?, name = ?, name_key = ?, text = ?, digits = ? WHERE id = ?",
                (*values, exists[0][0]),
            )
        elif self.entity == "client" or record.status in OPEN_LEAD_STATUSES:
            self.insert_search(self.entity, [(record_id, *values)])

    # -- the end -----------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Write what is pending and the undo log (created ranges, previous values of updates)."""
        self.flush()
        self.flush_search()
        writer = self.writer
        if writer is None:
            return
        rows = [(self.batch_id, self.entity, "created", a, b, None, self._now_value) for a, b in self.created.runs]
        rows.extend(self.undo_rows)
        self.undo_rows = []
        write_undo_rows(writer, rows)
        if self.batch_id is not None and (self.new_tags or self.new_sources):
            remember_created_labels(writer, self.batch_id, self.new_tags, self.new_sources)
            self.new_tags, self.new_sources = [], []


def remember_created_labels(writer: BulkWriter, batch_id: int, tags: list[tuple[int, str]], sources: list[tuple[int, str]]) -> None:
    """Note on the batch the tags (id, key) and source labels (id, name) it created, for undo."""
    writer.drain()
    table = SQLModel.metadata.tables["import_batch"]
    conn = writer.connection
    options = dict(conn.execute(sa_select(table.c.options).where(table.c.id == batch_id)).scalar() or {})
    options["created_tags"] = [*options.get("created_tags", []), *([i, k] for i, k in tags)]
    options["created_sources"] = [*options.get("created_sources", []), *([i, n] for i, n in sources)]
    conn.execute(table.update().where(table.c.id == batch_id).values(options=options))


def write_undo_rows(writer: BulkWriter, rows: Iterable[tuple]) -> None:
    """Rows (batch_id, entity, action, record_id, last_id, previous JSON, stamp) of ``import_record``."""
    rows = list(rows)
    if rows:
        writer.insert("import_record", ("batch_id", "entity", "action", "record_id", "last_id", "previous", "stamp"), rows)


class Deduper:
    """Which record a row duplicates: by phone and/or email, or by external reference."""

    def __init__(self, session: Session, entity: Entity, match: Iterable[str], *, by_external_ref: bool = False) -> None:
        self.match = frozenset(match)
        self.by_ref = by_external_ref
        self.phones: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self.refs: dict[str, int] = {}
        conn = session.connection()
        oc = f"{entity}_id"
        if entity == "lead":
            open_ids = "SELECT id FROM lead WHERE status IN ('unprocessed', 'in_progress')"
            scope = f" AND {oc} IN ({open_ids})"
        else:
            scope = ""
        if "phone" in self.match:
            for e164, rid in conn.exec_driver_sql(f"SELECT e164, {oc} FROM phone WHERE {oc} IS NOT NULL{scope} ORDER BY {oc} DESC"):
                self.phones[e164] = rid  # the oldest record wins (rows come newest first)
        if "email" in self.match:
            for address, rid in conn.exec_driver_sql(f"SELECT address, {oc} FROM email WHERE {oc} IS NOT NULL{scope} ORDER BY {oc} DESC"):
                self.emails[address] = rid
        if by_external_ref:
            for ref, rid in conn.exec_driver_sql(f"SELECT external_ref, id FROM {entity} WHERE external_ref IS NOT NULL ORDER BY id DESC"):
                self.refs[ref] = rid

    def find(self, record: Record) -> int | None:
        if self.by_ref and record.external_ref:
            found = self.refs.get(record.external_ref)
            if found is not None:
                return found
        if "phone" in self.match:
            for _kind, e164 in record.phones:
                found = self.phones.get(e164)
                if found is not None:
                    return found
        if "email" in self.match:
            for address in record.emails:
                found = self.emails.get(address)
                if found is not None:
                    return found
        return None

    def remember(self, record: Record, record_id: int) -> None:
        """The record's keys now lead to ``record_id`` (the first record keeps a key)."""
        if self.by_ref and record.external_ref:
            self.refs.setdefault(record.external_ref, record_id)
        if "phone" in self.match:
            for _kind, e164 in record.phones:
                self.phones.setdefault(e164, record_id)
        if "email" in self.match:
            for address in record.emails:
                self.emails.setdefault(address, record_id)
