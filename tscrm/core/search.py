"""Universal search over clients, leads and deals.

Every searchable record has one ``search_entry`` row (kept current by the services and the bulk
paths through ``index_*``). A query runs two cheap, bounded lookups and ranks their union in Python:

1. name prefix: ``name_key`` starts with the query (B-tree index), in name order;
2. substring: the folded text (name, company, emails, tags) or the phone digits contain the query
   (FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL), with a LIMIT and no ORDER BY rank: ranking a
   common term inside the database costs hundreds of milliseconds on a million rows.

Ranking: exact name, then name prefix, then a word of the name starting with the query, then any
other field's word, then plain substring; ties by shorter name, then name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from tscrm.core.models import (
    Client,
    ClientTag,
    Deal,
    Email,
    Lead,
    LeadStatus,
    LeadTag,
    Phone,
    SearchEntry,
    Tag,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.text import fold

KINDS = ("client", "lead", "deal")
_MIN_DIGITS = 4
_NON_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class SearchHit:
    kind: str
    id: int
    name: str
    score: int
    owner_id: int | None


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    offset: int
    limit: int
    has_more: bool


# --- keeping entries current ------------------------------------------------------------------


def entry_text(name: str, company: str | None, emails: list[str], tags: list[str], extra: str = "") -> str:
    return " ".join(part for part in (fold(name), fold(company), *emails, *(fold(t) for t in tags), fold(extra)) if part)


def _upsert(session: Session, kind: str, ref_id: int, owner_id: int | None, name: str, text_: str, digits: str) -> None:
    entry = session.exec(select(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.ref_id == ref_id)).first()
    if entry is None:
        entry = SearchEntry(kind=kind, ref_id=ref_id)
        session.add(entry)
    entry.owner_id = owner_id
    entry.name = name[:300]
    entry.name_key = fold(name)[:300]
    entry.text = text_
    entry.digits = digits


def remove(session: Session, kind: str, ref_id: int) -> None:
    session.execute(delete(SearchEntry).where(col(SearchEntry.kind) == kind, col(SearchEntry.ref_id) == ref_id))


def index_client(session: Session, client: Client) -> None:
    session.flush()
    cid = client.id
    phones = session.exec(select(Phone.e164).where(Phone.client_id == cid).order_by(col(Phone.position))).all()
    emails = session.exec(select(Email.address).where(Email.client_id == cid).order_by(col(Email.position))).all()
    tags = session.exec(
        select(Tag.name).join(ClientTag, col(ClientTag.tag_id) == col(Tag.id)).where(ClientTag.client_id == cid)
    ).all()
    _upsert(
        session,
        "client",
        cid,  # type: ignore[arg-type]
        client.owner_id,
        client.name,
        entry_text(client.name, client.company_name, list(emails), list(tags)),
        " ".join(p[1:] for p in phones),
    )


def index_lead(session: Session, lead: Lead) -> None:
    session.flush()
    if lead.status in (LeadStatus.BAD_QUALITY, LeadStatus.FINISHED):
        remove(session, "lead", lead.id)  # type: ignore[arg-type]
        return
    lid = lead.id
    phones = session.exec(select(Phone.e164).where(Phone.lead_id == lid).order_by(col(Phone.position))).all()
    emails = session.exec(select(Email.address).where(Email.lead_id == lid).order_by(col(Email.position))).all()
    tags = session.exec(
        select(Tag.name).join(LeadTag, col(LeadTag.tag_id) == col(Tag.id)).where(LeadTag.lead_id == lid)
    ).all()
    _upsert(
        session,
        "lead",
        lid,  # type: ignore[arg-type]
        lead.owner_id,
        lead.name,
        entry_text(lead.name, lead.company_name, list(emails), list(tags)),
        " ".join(p[1:] for p in phones),
    )


def index_deal(session: Session, deal: Deal, client_name: str | None = None) -> None:
    session.flush()
    if client_name is None:
        client = session.get(Client, deal.client_id)
        client_name = client.name if client else ""
    _upsert(
        session,
        "deal",
        deal.id,  # type: ignore[arg-type]
        deal.owner_id,
        deal.title,
        entry_text(deal.title, client_name, [], []),
        "",
    )


# --- querying ---------------------------------------------------------------------------------


def _digits_query(query: str) -> str | None:
    """The digits to look for when the query is a phone fragment (4+ digits, little else)."""
    digits = _NON_DIGIT.sub("", query)
    if len(digits) < _MIN_DIGITS:
        return None
    if any(ch.isalpha() for ch in query):
        return None
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0") and not query.strip().startswith("+"):
        return digits[1:]  # a national trunk prefix: 0612 34 56 78 -> 612345678
    return digits


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _visibility(actor: Actor | None) -> tuple[str, dict]:
    if actor is None or actor.can(Right.SEE_ALL):
        return "", {}
    # own records, and pool leads (no owner)
    return " AND (se.owner_id = :me OR (se.owner_id IS NULL AND se.kind = 'lead'))", {"me": actor.id}


def _kinds_clause(kinds: tuple[str, ...]) -> str:
    names = [k for k in kinds if k in KINDS]
    return " AND se.kind IN (" + ",".join(f"'{k}'" for k in names) + ")"


def search(
    session: Session,
    actor: Actor | None,
    query: str,
    *,
    limit: int = 20,
    offset: int = 0,
    kinds: tuple[str, ...] = KINDS,
) -> SearchPage:
    """Ranked, paged results for ``query`` that ``actor`` may see (None: everything)."""
    q = fold(query)
    if not q:
        return SearchPage([], offset, limit, False)
    want = offset + limit + 1
    # Fetch more candidates than shown so ranking across both lookups is stable page to page.
    budget = max(want * 4, 200)
    dialect = session.get_bind().dialect.name
    vis_sql, params = _visibility(actor)
    kinds_sql = _kinds_clause(kinds)
    columns = "se.id, se.kind, se.ref_id, se.name, se.name_key, se.text, se.owner_id"
    rows: dict[int, tuple] = {}

    digits = _digits_query(query)
    if digits:
        if dialect == "sqlite":
            sql = (
                f"SELECT {columns} FROM search_fts JOIN search_entry se ON se.id = search_fts.rowid "
                f"WHERE search_fts MATCH :m{vis_sql}{kinds_sql} LIMIT :n"
            )
            args = {"m": "digits:" + _fts_phrase(digits), "n": budget, **params}
        else:
            sql = f"SELECT {columns} FROM search_entry se WHERE se.digits LIKE :m{vis_sql}{kinds_sql} LIMIT :n"
            args = {"m": "%" + _like_escape(digits) + "%", "n": budget, **params}
        if len(digits) < 3 and dialect == "sqlite":
            sql = f"SELECT {columns} FROM search_entry se WHERE se.digits LIKE :m{vis_sql}{kinds_sql} LIMIT :n"
            args = {"m": "%" + digits + "%", "n": budget, **params}
        for row in session.execute(text(sql), args):
            rows[row[0]] = tuple(row)
        hits = [_score_phone(r) for r in rows.values()]
    else:
        prefix_sql = (
            f"SELECT {columns} FROM search_entry se WHERE se.name_key LIKE :p ESCAPE '\\'{vis_sql}{kinds_sql} "
            "ORDER BY se.name_key LIMIT :n"
        )
        if dialect == "sqlite":
            # the range form uses the B-tree index whatever the LIKE case settings
            prefix_sql = (
                f"SELECT {columns} FROM search_entry se WHERE se.name_key >= :lo AND se.name_key < :hi"
                f"{vis_sql}{kinds_sql} ORDER BY se.name_key LIMIT :n"
            )
        args = {"p": _like_escape(q) + "%", "lo": q, "hi": q + "\U0010ffff", "n": budget, **params}
        for row in session.execute(text(prefix_sql), args):
            rows[row[0]] = tuple(row)
        if len(q) >= 3:
            if dialect == "sqlite":
                sub_sql = (
                    f"SELECT {columns} FROM search_fts JOIN search_entry se ON se.id = search_fts.rowid "
                    f"WHERE search_fts MATCH :m{vis_sql}{kinds_sql} LIMIT :n"
                )
                args = {"m": "text:" + _fts_phrase(q), "n": budget, **params}
            else:
                sub_sql = f"SELECT {columns} FROM search_entry se WHERE se.text LIKE :m ESCAPE '\\'{vis_sql}{kinds_sql} LIMIT :n"
                args = {"m": "%" + _like_escape(q) + "%", "n": budget, **params}
            for row in session.execute(text(sub_sql), args):
                rows.setdefault(row[0], tuple(row))
        hits = [_score_text(r, q) for r in rows.values()]
        hits = [h for h in hits if h.score > 0]

    hits.sort(key=lambda h: (-h.score, len(h.name), h.name.lower(), h.kind, h.id))
    page = hits[offset : offset + limit]
    return SearchPage(page, offset, limit, len(hits) > offset + limit)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _score_text(row: tuple, q: str) -> SearchHit:
    _id, kind, ref_id, name, name_key, text_, owner_id = row
    if name_key == q:
        score = 100
    elif name_key.startswith(q):
        score = 80
    elif (" " + q) in (" " + name_key):
        score = 60
    elif (" " + q) in (" " + text_) or ("@" + q) in text_ or ("." + q) in text_:
        score = 40
    elif q in text_:
        score = 20
    else:
        score = 0  # the trigram index over-approximates only on SQLite's LIKE fallback
    return SearchHit(kind, ref_id, name, score, owner_id)


def _score_phone(row: tuple) -> SearchHit:
    _id, kind, ref_id, name, _key, _text, owner_id = row
    return SearchHit(kind, ref_id, name, 50, owner_id)
