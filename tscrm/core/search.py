"""Universal search over clients, leads and deals: one query, ranked, paged, fast on a million rows.

Every searchable record has one ``search_entry`` row, kept current by the services (``index_*``):

- ``name_key``: the name folded (lower case, no accents) with punctuation turned into spaces;
- ``text``: `` <name_key> <company> <emails> <tags>``, each folded the same way and each word
  preceded by a space, so "a word starts with q" is the substring ``" " + q``;
- ``digits``: the phone numbers' digits (E.164 without "+"), space separated.

Ranking (``Tier``): exact name > name prefix > a later word of the name starts with the query >
phone digits contain it > a word anywhere starts with it > plain substring > every word of a
multi-word query starts a word somewhere. Ties: shorter ``name_key``, then ``name_key`` (code point
order), then the entry id, so the order is total and pages never overlap. The query is folded like
the names, so quotes, ``%``, ``_``, ``*`` or ``OR`` are never syntax: only letters and digits count.

Each tier is read as a stream already in tie order, tier after tier until the page is full, so no
query ranks all the matches of a common term:

- SQLite: two FTS5 trigram tables (names; text and digits) whose rowid *is* the tie order (length
  and first letters of ``name_key`` in the high bits, the entry id in the low 32 bits, see migration
  0002). FTS5 returns matches in rowid order, so ``ORDER BY rowid LIMIT n`` stops after n matches;
  owner and kind are tokens of the same tables, so an intern's query never walks other people's rows.
- PostgreSQL: name prefixes are read one name length at a time from a covering B-tree in tie order
  (exact). The other tiers share one index-only scan of the first visible entries in tie order,
  which answers every tier that has enough matches there (all of them for a user who sees only
  their own entries and the pool, when those are few enough to be read to the end). A tier that
  does not is looked up in the pg_trgm GIN indexes: a capped sample tells a rare term (all its
  matches, sorted) from a common one. The sample being a random share of a common term's matches,
  its shortest names tell up to which name length (the first key of the tie order) the first page
  lies: the matches up to that length are read through the trigram bitmap ANDed with a B-tree
  bitmap of name lengths (migration 0007) and sorted. A very common term (3 % of the entries) is
  met soon enough by a longer ordered scan. The planner is kept to bitmap scans for trigram reads
  (``_plan``), switched only when the next statement needs another kind of scan.

Before the tiers after the name prefix, the stream that covers them all (the substring one) is
probed: if it has fewer matches than the page needs, they are every match of those tiers, and a
rare term costs one lookup instead of one per tier. Rows a stream returns that belong to a higher
tier were taken already (they are skipped by id); Python checks a row's tier with the same plain
substring tests as the SQL (``tier_of``) wherever a stream may return other rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

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
MAX_LIMIT = 500
MAX_RESULTS = 10_000  # how deep paging goes: past that, a narrower query is the way
_MIN_PHONE_DIGITS = 4
# Caps on what an entry stores, so that a PostgreSQL B-tree row holding name_key, text and digits
# stays under its ~2.7 kB limit whatever the script (3-4 bytes a character). Real records are far
# shorter; text beyond the cap (the 40th email of a client) is simply not searchable.
_NAME_KEY_MAX = 300
_NAME_KEY_MAX_BYTES = 400
_TEXT_MAX_BYTES = 1600
_DIGITS_MAX = 300
_NOT_WORD = re.compile(r"[\W_]+")
_NON_DIGIT = re.compile(r"\D")

# SQLite: the FTS5 rowid is (sort key << 32) | search_entry.id; see migration 0002.
ID_BITS = 32
ID_MASK = (1 << ID_BITS) - 1
# Markers inside the FTS5 columns: the name column starts with NAME_START, meta holds kind/owner tokens.
NAME_START = "\x01"
POOL_TOKEN = "@p@"
NO_OWNER_TOKEN = "@n@"

# SQLite: matches a probe may read (rowids, then their entries): one phrase lookup instead of three
SQLITE_PROBE_ROWS = 1000
# PostgreSQL: entries scanned in tie order (index-only) before asking the trigram index, and the
# number of matches below which the trigram index's answer is sorted instead.
PG_SCAN_BUDGET = 8000
# entries the prefetch scans per row wanted (beyond PG_SCAN_BUDGET): for a deep page of a common term,
# a longer prefetch only delays the scan that goes on to the end anyway (offset 2,000: 20 per row cost
# 14 ms of a 57 ms page); the rate it finds matches at tells each tier whether to scan further
PG_PREFETCH_PER_ROW = 4
PG_SAMPLE = 500  # matches read through the trigram index to tell a rare term from a common one
PG_SORT_ALL_MAX = 40000  # estimated matches up to which sorting them all beats a long ordered scan
PG_BAND_MAX_SHARE = 0.03  # share of the entries matching above which an ordered scan beats reading them by length
PG_BAND_MARGIN = 3  # standard deviations (+1) of sample rows taken beyond the expected share, to be sure
PG_BITMAP_ONLY = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")  # planner settings for trigram reads
PG_ORDERED_ONLY = ("enable_bitmapscan",)  # for a scan in tie order that must stop after n matches
PG_PLANS = {"bitmaps": PG_BITMAP_ONLY, "ordered": PG_ORDERED_ONLY}  # settings turned off for each kind of read
PG_SCAN_ALL = 40000  # visible entries (a user who sees only their own) up to which one ordered scan reads them all


class Tier(IntEnum):
    """Why a record matched; higher ranks first. The value is the hit's ``score``."""

    EXACT = 100
    PREFIX = 80
    NAME_WORD = 60
    PHONE = 50
    WORD = 40
    SUBSTRING = 20
    ALL_WORDS = 10


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


# --- what an entry holds ----------------------------------------------------------------------


def search_key(value: str | None) -> str:
    """Folded, punctuation as spaces: "  O'Brien-Smith " -> "o brien smith". Queries get the same."""
    return " ".join(_NOT_WORD.sub(" ", fold(value)).split())


def _cut(value: str, max_bytes: int) -> str:
    encoded = value.encode()
    return value if len(encoded) <= max_bytes else encoded[:max_bytes].decode(errors="ignore")


def name_key(name: str | None) -> str:
    """The stored (and compared) form of a name or a query."""
    return _cut(search_key(name)[:_NAME_KEY_MAX], _NAME_KEY_MAX_BYTES).rstrip()


def entry_text(name: str, company: str | None, emails: Sequence[str], tags: Sequence[str], extra: str = "") -> str:
    """The searchable text: " <name_key> <company> <emails> <tags> <extra>", every word after a space."""
    parts = (name_key(name), *(search_key(p) for p in (company, *emails, *tags, extra)))
    return _cut("".join(" " + part for part in parts if part), _TEXT_MAX_BYTES)


def phone_digits(e164_numbers: Iterable[str]) -> str:
    digits = " ".join(number.lstrip("+") for number in e164_numbers)
    return digits if len(digits) <= _DIGITS_MAX else digits[: digits.rfind(" ", 0, _DIGITS_MAX + 1)]


@dataclass(frozen=True)
class EntryFields:
    """The columns of a ``search_entry`` besides kind, ref_id and owner_id."""

    name: str
    name_key: str
    text: str
    digits: str


def entry_fields(
    name: str,
    company: str | None = None,
    emails: Sequence[str] = (),
    tags: Sequence[str] = (),
    phones: Sequence[str] = (),
) -> EntryFields:
    """What the services store for a record (the bulk loaders call this too, to store the same)."""
    return EntryFields(
        name=name[:_NAME_KEY_MAX],
        name_key=name_key(name),
        text=entry_text(name, company, emails, tags),
        digits=phone_digits(phones),
    )


# --- keeping entries current ------------------------------------------------------------------


def _upsert(session: Session, kind: str, ref_id: int, owner_id: int | None, fields: EntryFields) -> SearchEntry:
    entry = session.exec(select(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.ref_id == ref_id)).first()
    if entry is None:
        entry = SearchEntry(kind=kind, ref_id=ref_id)
        session.add(entry)
    entry.owner_id = owner_id
    entry.name = fields.name
    entry.name_key = fields.name_key
    entry.text = fields.text
    entry.digits = fields.digits
    return entry


def remove(session: Session, kind: str, ref_id: int) -> None:
    session.execute(delete(SearchEntry).where(col(SearchEntry.kind) == kind, col(SearchEntry.ref_id) == ref_id))


def _contact_fields(session: Session, owner: str, owner_id: int, name: str, company: str | None) -> EntryFields:
    phone_col = Phone.client_id if owner == "client" else Phone.lead_id
    email_col = Email.client_id if owner == "client" else Email.lead_id
    link = ClientTag if owner == "client" else LeadTag
    link_col = ClientTag.client_id if owner == "client" else LeadTag.lead_id
    phones = session.exec(select(Phone.e164).where(col(phone_col) == owner_id).order_by(col(Phone.position))).all()
    emails = session.exec(select(Email.address).where(col(email_col) == owner_id).order_by(col(Email.position))).all()
    tags = session.exec(
        select(Tag.name).join(link, col(link.tag_id) == col(Tag.id)).where(col(link_col) == owner_id).order_by(col(Tag.name))
    ).all()
    return entry_fields(name, company, list(emails), list(tags), list(phones))


def index_client(session: Session, client: Client) -> None:
    session.flush()
    cid: int = client.id  # type: ignore[assignment]
    old_name = session.exec(
        select(SearchEntry.name).where(SearchEntry.kind == "client", SearchEntry.ref_id == cid)
    ).first()
    _upsert(session, "client", cid, client.owner_id, _contact_fields(session, "client", cid, client.name, client.company_name))
    if old_name is not None and old_name != client.name[:_NAME_KEY_MAX]:
        # a deal's entry carries its client's name
        for deal in session.exec(select(Deal).where(Deal.client_id == cid)):
            index_deal(session, deal, client.name)


def index_lead(session: Session, lead: Lead) -> None:
    session.flush()
    lid: int = lead.id  # type: ignore[assignment]
    if lead.status in (LeadStatus.BAD_QUALITY, LeadStatus.FINISHED):
        remove(session, "lead", lid)
        return
    _upsert(session, "lead", lid, lead.owner_id, _contact_fields(session, "lead", lid, lead.name, lead.company_name))


def index_deal(session: Session, deal: Deal, client_name: str | None = None) -> None:
    session.flush()
    if client_name is None:
        client = session.get(Client, deal.client_id)
        client_name = client.name if client else ""
    _upsert(session, "deal", deal.id, deal.owner_id, entry_fields(deal.title, client_name))  # type: ignore[arg-type]


# --- understanding a query ----------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A query as the tiers see it: ``key`` folded like ``name_key``, ``phone`` digits or None."""

    key: str
    phone: str | None
    words: tuple[str, ...]

    def cover(self, tier: Tier) -> Tier:
        """The tier whose stream holds every row of ``tier`` (it may be ``tier`` itself)."""
        if tier in (Tier.PHONE, Tier.ALL_WORDS):
            return tier
        if len(self.key) >= 3:
            return Tier.SUBSTRING  # q in text: the name is in the text, " q" contains q
        return Tier.WORD if len(self.key) == 2 else Tier.PREFIX

    @cached_property
    def tiers(self) -> tuple[Tier, ...]:
        tiers = [Tier.EXACT, Tier.PREFIX]
        if len(self.key) >= 2:  # word starts are trigrams " xy" from two characters on
            tiers += [Tier.NAME_WORD]
        if self.phone:
            tiers += [Tier.PHONE]
        if len(self.key) >= 2:
            tiers += [Tier.WORD]
        if len(self.key) >= 3:
            tiers += [Tier.SUBSTRING]
        if len(self.words) > 1 and any(len(w) >= 2 for w in self.words):
            tiers += [Tier.ALL_WORDS]
        return tuple(tiers)


def parse_query(raw: str) -> Query | None:
    """None when nothing searchable is left (e.g. only punctuation)."""
    key = name_key(raw)
    if not key:
        return None
    return Query(key=key, phone=phone_fragment(raw), words=tuple(dict.fromkeys(key.split())))


def phone_fragment(raw: str) -> str | None:
    """The digits to look for when the query is a phone fragment: 4+ digits and no letters.

    "+34 612", "0034612", "34-612-345" and "612 34" all become runs of stored digits; a national
    trunk "0" ("06 12 34 ...") is dropped, as stored numbers carry the country code instead.
    """
    if any(ch.isalpha() for ch in raw):
        return None
    digits = _NON_DIGIT.sub("", raw)
    if len(digits) < _MIN_PHONE_DIGITS:
        return None
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0") and not raw.strip().startswith("+") and len(digits) > _MIN_PHONE_DIGITS:
        digits = digits[1:]
    return digits if len(digits) >= 3 else None


@dataclass(frozen=True)
class _Row:
    """A match as the streams return it: enough to order it, and its text when it must be classified."""

    id: int
    name_key: str
    text: str | None = None  # None: a "light" row, whose stream condition is exactly "this tier or higher"
    digits: str | None = None

    @property
    def order(self) -> tuple[int, str, int]:
        return (len(self.name_key), self.name_key, self.id)


def tier_of(name_key: str, text_: str, digits: str, query: Query) -> Tier | None:
    """The best tier a record reaches for ``query`` (None: no match). Plain substring tests."""
    q = query.key
    if name_key == q:
        return Tier.EXACT
    if name_key.startswith(q):
        return Tier.PREFIX
    word = " " + q
    if len(q) >= 2 and word in " " + name_key:
        return Tier.NAME_WORD
    if query.phone and query.phone in digits:
        return Tier.PHONE
    if len(q) >= 2 and word in text_:
        return Tier.WORD
    if len(q) >= 3 and q in text_:
        return Tier.SUBSTRING
    if Tier.ALL_WORDS in query.tiers and all(" " + w in text_ for w in query.words):
        return Tier.ALL_WORDS
    return None


@dataclass(frozen=True)
class _Scope:
    """Who may see what: ``me`` None means everything (Right.SEE_ALL)."""

    me: int | None
    kinds: tuple[str, ...]

    @property
    def all_kinds(self) -> bool:
        return set(self.kinds) >= set(KINDS)


# --- the streams ------------------------------------------------------------------------------

Batch = tuple[list[_Row], object, bool]  # rows in tie order, the cursor after them, exhausted


def _bind_list(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(":" + n for n in names), names


def _visibility_sql(scope: _Scope) -> tuple[str, dict]:
    if scope.me is None:
        return "", {}
    return " AND (se.owner_id = :me OR (se.owner_id IS NULL AND se.kind = 'lead'))", {"me": scope.me}


def _kinds_sql(scope: _Scope) -> tuple[str, dict]:
    if scope.all_kinds:
        return "", {}
    names, binds = _bind_list("kind", scope.kinds)
    return f" AND se.kind IN ({names})", binds


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_string(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _columns(full: bool) -> str:
    return "se.id, se.name_key, se.text, se.digits" if full else "se.id, se.name_key"


class _Streams:
    """The rows matching a tier's condition, in tie order, batch after batch from a cursor.

    Every condition implies "this tier or higher" except ALL_WORDS on SQLite (one-letter words are
    left to Python), which is why that stream always returns full rows.
    """

    def __init__(self, session: Session, query: Query, scope: _Scope) -> None:
        self.session = session
        self.query = query
        self.scope = scope

    def batch(self, tier: Tier, cursor: object, n: int, full: bool) -> Batch:
        """About n rows after ``cursor`` (None: from the start)."""
        raise NotImplementedError

    def probe(self, tier: Tier, n: int) -> Batch:
        """The first n rows, when that is cheap to learn; else it may give up (not exhausted, no rows)."""
        return self.batch(tier, None, n, full=True)

    def prefetch(self, tiers: Sequence[Tier], n: int) -> dict[Tier, tuple[list[_Row], bool]]:
        """For some ``tiers``, their first rows (up to n, exactly of that tier, in order) learnt at
        once, and whether those are all of them."""
        return {}

    def worth_probing(self, found_by_prefetch: int) -> bool:
        """Whether to probe a covering stream whose tiers the prefetch found this many rows of."""
        return True

    def _rows(self, sql: str, params: dict) -> list[tuple]:
        return [tuple(r) for r in self.session.execute(text(sql), params)]

    def _exact(self, cursor: object, n: int, full: bool) -> Batch:
        """Exact name: all rows share the key, so id order is tie order (and the B-tree's order)."""
        vis, vparams = _visibility_sql(self.scope)
        kinds, kparams = _kinds_sql(self.scope)
        rows = self._rows(
            f"SELECT {_columns(full)} FROM search_entry se WHERE se.name_key = :q AND se.id > :after{vis}{kinds} "
            "ORDER BY se.id LIMIT :n",
            {"q": self.query.key, "after": cursor or 0, "n": n, **vparams, **kparams},
        )
        out = [_Row(*r) for r in rows]
        return out, (out[-1].id if out else cursor), len(out) < n


class _SqliteStreams(_Streams):
    def _match(self, tier: Tier) -> tuple[str, str]:
        """(FTS5 table, MATCH expression) of a tier's stream."""
        q, words = self.query.key, self.query.words
        table = "search_text_fts"
        if tier == Tier.PREFIX:
            table, expr = "search_name_fts", "name : " + _fts_string(NAME_START + " " + q)
        elif tier == Tier.NAME_WORD:
            table, expr = "search_name_fts", "name : " + _fts_string(" " + q)
        elif tier == Tier.PHONE:
            expr = "digits : " + _fts_string(self.query.phone or "")
        elif tier == Tier.WORD:
            expr = "text : " + _fts_string(" " + q)
        elif tier == Tier.SUBSTRING:
            expr = "text : " + _fts_string(q)
        else:  # ALL_WORDS: one-letter words are checked in Python only
            expr = " AND ".join("text : " + _fts_string(" " + w) for w in words if len(w) >= 2)
        expr = "(" + expr + ")"
        if self.scope.me is not None:
            expr += f' AND (meta : "@{self.scope.me}@" OR meta : "{POOL_TOKEN}")'
        if not self.scope.all_kinds:
            expr += " AND (" + " OR ".join(f'meta : "#{k[0]}#"' for k in self.scope.kinds) + ")"
        return table, expr

    def probe(self, tier: Tier, n: int) -> Batch:
        """Up to SQLITE_PROBE_ROWS rowids from the FTS5 table alone (a common term stops there at little
        cost); when there are fewer, their entries answer every tier the stream covers at once."""
        table, match = self._match(tier)
        limit = max(n, SQLITE_PROBE_ROWS)
        rowids = [r[0] for r in self._rows(f"SELECT rowid FROM {table} WHERE {table} MATCH :m ORDER BY rowid LIMIT :n", {"m": match, "n": limit})]
        if len(rowids) >= limit:
            return [], None, False
        if not rowids:
            return [], None, True
        names, binds = _bind_list("r", [r & ID_MASK for r in rowids])  # type: ignore[arg-type]
        rows = self._rows(f"SELECT {_columns(True)} FROM search_entry se WHERE se.id IN ({names})", binds)
        return sorted((_Row(*r) for r in rows), key=lambda r: r.order), rowids[-1], True

    def batch(self, tier: Tier, cursor: object, n: int, full: bool) -> Batch:
        if tier == Tier.EXACT:
            return self._exact(cursor, n, full)
        after = -1 if cursor is None else int(cursor)  # type: ignore[call-overload]
        table, match = self._match(tier)
        sql = (
            f"SELECT f.rowid, {_columns(full)} FROM {table} f JOIN search_entry se ON se.id = (f.rowid & {ID_MASK}) "
            f"WHERE {table} MATCH :m AND f.rowid > :after{{upper}} ORDER BY f.rowid{{limit}}"
        )
        rows = self._rows(sql.format(upper="", limit=" LIMIT :n"), {"m": match, "after": after, "n": n})
        exhausted = len(rows) < n
        if rows and not exhausted:
            # The rowid orders by length and first letters only: read the rest of the last group.
            group_end = ((rows[-1][0] >> ID_BITS) + 1) << ID_BITS
            rows += self._rows(
                sql.format(upper=" AND f.rowid < :upper", limit=""), {"m": match, "after": rows[-1][0], "upper": group_end}
            )
            after = group_end - 1
        elif rows:
            after = rows[-1][0]
        out = sorted((_Row(*r[1:]) for r in rows), key=lambda r: r.order)
        return out, after, exhausted


class _PostgresStreams(_Streams):
    """Index-only scans of the covering tie-order B-trees; pg_trgm for rare terms."""

    def __init__(self, session: Session, query: Query, scope: _Scope) -> None:
        super().__init__(session, query, scope)
        self._samples: dict[tuple, list[tuple]] = {}
        self._plan_mode: str | None = None  # the PG_PLANS entry in force (None: the session's own settings)
        self._replaced: list = []  # the values its settings had before
        self._prefetched_budget = 0
        self._prefetched_hits: dict[Tier, int] = {}

    _KEY = 'length({t}.name_key), ({t}.name_key COLLATE "C"), {t}.id'
    # the sort key as output columns, so that a UNION ALL of two index scans merges in order
    _SCANNED = 'se.id, se.name_key, se.text, se.digits, se.kind, length(se.name_key) AS k_len, (se.name_key COLLATE "C") AS k_name'
    _ORDER = "v.k_len, v.k_name, v.id"
    # the table's size as the planner knows it (relpages, reltuples: both -1 or 0 before the first ANALYZE)
    _SIZE = "(SELECT greatest({}, 1) FROM pg_class WHERE oid = 'search_entry'::regclass)"

    def _condition(self, tier: Tier, name: str = "p", trigrams: bool = False) -> tuple[str, dict]:
        """A tier's stream condition on ``v``, its parameters named after ``name``.

        ``trigrams``: the same condition as the trigram indexes read it fastest, for a query of
        several words. "A word starts with w" is "w is in it" for the index (``LIKE '%w%'``), then a
        plain test of " w" on the rows found (``strpos``, which no index reads): each pattern
        ``'% w%'`` would add the trigrams "  w" and " w" to the lookup, which are in nearly every
        row and make a lookup of several words several times slower. A word too short to have
        trigrams of its own is only tested on the rows found, unless no word is longer. (For one
        word, those trigrams are what keeps "w inside a word" out of the rows found: kept.)
        """
        q, words = self.query.key, self.query.words
        if tier == Tier.PHONE:
            return f"v.digits LIKE :{name}", {name: "%" + _like_escape(self.query.phone or "") + "%"}
        if tier == Tier.SUBSTRING:
            return f"v.text LIKE :{name}", {name: "%" + _like_escape(q) + "%"}
        column, starts = ("v.name_key", (q,)) if tier == Tier.NAME_WORD else ("v.text", (q,) if tier == Tier.WORD else words)
        own_trigrams = [any(len(part) >= 3 for part in w.split()) for w in starts]  # a run of 3 letters
        indexed = trigrams and any(own_trigrams) and len(self.query.words) > 1
        conds, params = [], {}
        for i, w in enumerate(starts):
            key = f"{name}{i}"
            if not indexed:
                conds.append(f"{column} LIKE :{key}")
                params[key] = "% " + _like_escape(w) + "%"
                continue
            if own_trigrams[i]:
                conds.append(f"{column} LIKE :{key}")
                params[key] = "%" + _like_escape(w) + "%"
            conds.append(f"strpos({column}, :{key}s) > 0")
            params[f"{key}s"] = " " + w
        return "(" + " AND ".join(conds) + ")", params

    def _after(self, cursor: object) -> tuple[str, dict]:
        if cursor is None:
            return "", {}
        length, key, rid = cursor  # type: ignore[misc]
        return f' AND ({self._KEY.format(t="se")}) > (:al, (:ak COLLATE "C"), :aid)', {"al": length, "ak": key, "aid": rid}

    def _visible(self, where: str, tail: str = "") -> str:
        """The visible entries meeting ``where`` as one SELECT (own entries and pool leads: UNION ALL)."""
        if self.scope.me is None:
            return f"SELECT {self._SCANNED} FROM search_entry se WHERE TRUE{where} {tail}"
        return (
            f"(SELECT {self._SCANNED} FROM search_entry se WHERE se.owner_id = :me{where} {tail}) UNION ALL "
            f"(SELECT {self._SCANNED} FROM search_entry se WHERE se.owner_id IS NULL AND se.kind = 'lead'{where} {tail})"
        )

    @staticmethod
    def _columns(full: bool) -> str:
        return "v.id, v.name_key, v.text, v.digits" if full else "v.id, v.name_key"

    def _batch_of(self, rows: list[tuple], n: int, cursor: object) -> Batch:
        out = [_Row(*r) for r in rows[:n]]
        next_cursor = (len(out[-1].name_key), out[-1].name_key, out[-1].id) if out else cursor
        return out, next_cursor, len(rows) < n

    def _prefix(self, cursor: object, n: int, full: bool, params: dict) -> Batch:
        """Name prefix, exactly: for each name length in turn, the range [q, q+1) of the tie-order B-tree."""
        q = self.query.key
        after, aparams = self._after(cursor)
        params.update(aparams, lo=q, hi=q[:-1] + chr(ord(q[-1]) + 1), minlen=max(len(q), aparams.get("al", 0)))
        kinds, kparams = _kinds_sql(self.scope)
        params.update(kparams)
        where = f' AND length(se.name_key) = l.len AND (se.name_key COLLATE "C") >= :lo AND (se.name_key COLLATE "C") < :hi{kinds}{after}'
        one_length = self._visible(where, 'ORDER BY (se.name_key COLLATE "C"), se.id LIMIT :n')
        if self.scope.me is not None:
            one_length = f"SELECT * FROM ({one_length}) u ORDER BY u.k_name, u.id LIMIT :n"
        sql = (
            f"SELECT {self._columns(full)} FROM generate_series(:minlen, (SELECT max(length(name_key)) FROM search_entry)) "
            f"AS l(len) CROSS JOIN LATERAL ({one_length}) v LIMIT :n"
        )
        return self._batch_of(self._rows(sql, params), n, cursor)

    def _all_matches(self, cond: str, where: str, cap: int | None) -> str:
        """Every visible match (found through the trigram indexes) in tie order; at most ``cap``, then
        in physical order, with the heap block of each (how far through the table the scan got) and
        the table's size (blocks, rows)."""
        if cap is None:
            return f"SELECT {self._columns(True)} FROM ({self._visible(where)}) v WHERE {cond} ORDER BY {self._ORDER}"
        block = ", (se.ctid::text::point)[0]::int AS block"
        visible = self._visible(where).replace(f"{self._SCANNED} FROM", f"{self._SCANNED}{block} FROM")
        size = self._SIZE
        return f"SELECT {self._columns(True)}, v.block, {size.format('relpages')}, {size.format('reltuples')} FROM ({visible}) v WHERE {cond} LIMIT :cap"

    def batch(self, tier: Tier, cursor: object, n: int, full: bool, give_up: bool = False) -> Batch:
        if tier == Tier.EXACT:
            return self._exact(cursor, n, full)
        params: dict = {"n": n, **_visibility_sql(self.scope)[1]}
        if tier == Tier.PREFIX:
            return self._prefix(cursor, n, full, params)
        cond, after, sparams = self._stream(tier, cursor)
        tcond, _after, tparams = self._stream(tier, cursor, trigrams=True)
        params.update(sparams, **tparams)
        # 1. the first visible entries in tie order (index-only): exact as soon as n of them match
        in_order = f"ORDER BY {self._ORDER.replace('v.', '')} LIMIT :budget"  # per branch too: merged, not sorted
        ordered = (
            f"SELECT {self._columns(full)} FROM (SELECT * FROM ({self._visible(after, in_order)}) v "
            f"ORDER BY {self._ORDER} LIMIT :budget) v WHERE {cond} ORDER BY {self._ORDER} LIMIT :n"
        )
        budget = max(PG_SCAN_BUDGET, n * 20)
        hits = self._prefetched_hits.get(tier, 0) if cursor is None else 0
        # (else prefetch() found fewer than n there; or at the rate it found them, that far holds too few)
        if cursor is not None or (budget > self._prefetched_budget and hits * budget >= n * self._prefetched_budget // 2):
            rows = self._rows(ordered, {**params, "budget": budget})
            if len(rows) >= n:
                return self._batch_of(rows, n, cursor)
        # 2. many there (the prefetch counted them): scan on in tie order, about as far again as they
        # promise n (a sample of the first, shortest names only), or further when they are so many
        # (a deep page of a common term) that step 4 would do the same after a sample
        if hits * 4 >= n or (hits * 25 >= n and hits >= PG_BAND_MAX_SHARE * self._prefetched_budget):
            far = min(budget * 25, 3 * n * self._prefetched_budget // hits) if hits * 4 >= n else budget * 25
            rows = self._rows(ordered, {**params, "budget": far})
            if len(rows) >= n:
                return self._batch_of(rows, n, cursor)
        # 3. few there: the first PG_SAMPLE matches through the trigram index, in physical order; if
        # that was all of them (a rare term), every one in tie order. A word of the name is a word of
        # the text: when the latter are that few, they hold the former (and the next tier's sample)
        if tier == Tier.NAME_WORD and cursor is None and Tier.WORD in self.query.tiers and not self._prefetched_hits.get(Tier.WORD):
            words = self._sample(Tier.WORD, None)
            if len(words) < PG_SAMPLE:
                return self._all_of(words, cursor)
        sample = self._sample(tier, cursor)
        if len(sample) < PG_SAMPLE:
            return self._all_of(sample, cursor)
        if give_up:
            return [], cursor, False
        # 4. common: how many there are, from how far the sample got through the table. Unless they
        # are so many that an ordered scan soon meets n of them: the sample being a random share of
        # them, its shortest names tell up to which name length (the first key of the tie order) the
        # first n are bound to be; all the matches up to that length (trigram bitmap AND length
        # bitmap), sorted, give the first n if there are n of them
        estimate = PG_SAMPLE * sample[0][5] / max(1, max(r[4] for r in sample) + 1)
        expected = n * min(1.0, PG_SAMPLE / estimate)  # sample rows among the first n matches
        k = int(expected + PG_BAND_MARGIN * (math.sqrt(expected) + 1))
        if k < len(sample) and estimate < PG_BAND_MAX_SHARE * sample[0][6]:
            band = sorted(len(r[1]) for r in sample)[k]
            band = max(band, cursor[0]) if cursor is not None else band  # type: ignore[index]
            where = f"{after} AND length(se.name_key) <= :band"
            rows = self._bitmap_rows(self._all_matches(tcond, where, None) + " LIMIT :n", {**params, "band": band})
            if len(rows) >= n:
                return self._batch_of(rows, n, cursor)
        # else sort every match if there are not too many, or scan on in tie order, where a page
        # of them is bound to come soon
        if estimate > PG_SORT_ALL_MAX:
            rows = self._ordered_to_the_end(cond, after, full, params)
            if len(rows) >= n:
                return self._batch_of(rows, n, cursor)
        return self._batch_of(self._bitmap_rows(self._all_matches(tcond, after, None) + " LIMIT :n", params), n, cursor)

    def _ordered_to_the_end(self, cond: str, after: str, full: bool, params: dict) -> list[tuple]:
        """The first n matches of ``cond`` in tie order, scanning as far as it takes: the condition
        is the index-only scan's own filter (no bounding subquery, whose row-by-row hand-over cost a
        third of the time of a deep page), and bitmap scans are off for it, so the planner cannot
        trade the scan that stops after n matches for one that reads every match."""
        where = f"{after} AND {cond.replace('v.', 'se.')}"
        in_order = f"ORDER BY {self._ORDER.replace('v.', '')} LIMIT :n"  # per branch too: merged, not sorted
        sql = f"SELECT {self._columns(full)} FROM ({self._visible(where, in_order)}) v ORDER BY {self._ORDER} LIMIT :n"
        self._plan("ordered")
        return super()._rows(sql, params)

    def _stream(self, tier: Tier, cursor: object, trigrams: bool = False) -> tuple[str, str, dict]:
        """A tier's stream: its condition on ``v`` (``_condition``), the condition on ``se`` of entries
        after ``cursor``, and their parameters."""
        cond, params = self._condition(tier, "t" if trigrams else "p", trigrams)
        kinds, kparams = _kinds_sql(self.scope)
        after, aparams = self._after(cursor)
        return cond + kinds.replace("se.", "v."), after, {**params, **kparams, **aparams}

    def _sample(self, tier: Tier, cursor: object) -> list[tuple]:
        """The first PG_SAMPLE visible matches of a tier's stream after ``cursor`` (kept for the next
        call): physical order, with their heap block and the table's size (``_all_matches``)."""
        key = (tier, repr(cursor))
        if key not in self._samples:
            cond, after, params = self._stream(tier, cursor, trigrams=True)
            params.update(_visibility_sql(self.scope)[1], cap=PG_SAMPLE)
            self._samples[key] = self._bitmap_rows(self._all_matches(cond, after, PG_SAMPLE), params)
        return self._samples[key]

    @staticmethod
    def _all_of(sample: list[tuple], cursor: object) -> Batch:
        rows = sorted((_Row(*r[:4]) for r in sample), key=lambda r: r.order)
        return rows, (rows[-1].order if rows else cursor), True

    def _tier_sql(self, tiers: Sequence[Tier]) -> tuple[str, dict]:
        """``tier_of`` as a SQL CASE over ``v`` (the same plain substring tests)."""
        q, words = self.query.key, self.query.words
        params: dict = {"tq": q, "tprefix": _like_escape(q) + "%", "tword": "% " + _like_escape(q) + "%"}
        cases = ["WHEN v.name_key = :tq THEN 100", "WHEN v.name_key LIKE :tprefix THEN 80"]
        if Tier.NAME_WORD in tiers:
            cases.append("WHEN (' ' || v.name_key) LIKE :tword THEN 60")
        if Tier.PHONE in tiers:
            params["tphone"] = "%" + _like_escape(self.query.phone or "") + "%"
            cases.append("WHEN v.digits LIKE :tphone THEN 50")
        if Tier.WORD in tiers:
            cases.append("WHEN v.text LIKE :tword THEN 40")
        if Tier.SUBSTRING in tiers:
            params["tsub"] = "%" + _like_escape(q) + "%"
            cases.append("WHEN v.text LIKE :tsub THEN 20")
        if Tier.ALL_WORDS in tiers:
            params.update({f"tw{i}": "% " + _like_escape(w) + "%" for i, w in enumerate(words)})
            cases.append("WHEN " + " AND ".join(f"v.text LIKE :tw{i}" for i in range(len(words))) + " THEN 10")
        return f"CASE {' '.join(cases)} ELSE 0 END", params

    def prefetch(self, tiers: Sequence[Tier], n: int) -> dict[Tier, tuple[list[_Row], bool]]:
        """One ordered scan of the first visible entries for all the substring tiers at once. The rows
        of a tier found there are its first rows; if the scan saw every visible entry, all of them."""
        wanted = [t for t in tiers if t not in (Tier.EXACT, Tier.PREFIX)]
        if not wanted:
            return {}
        case, params = self._tier_sql(tiers)
        kinds, kparams = _kinds_sql(self.scope)
        if kinds:  # other kinds count as scanned, and match nothing
            case = case.replace("CASE ", f"CASE WHEN NOT (TRUE{kinds.replace('se.', 'v.')}) THEN 0 ", 1)
        budget = max(PG_SCAN_BUDGET, n * PG_PREFETCH_PER_ROW)
        visible = self._visible_count() if self.scope.me is not None else None  # None: too many to count
        if visible is not None and visible > PG_SCAN_ALL:
            visible = None
        if visible is not None:
            budget = max(budget, visible + 1)  # all of them: every tier answered by this one scan
        self._prefetched_budget = budget
        in_order = f"ORDER BY {self._ORDER.replace('v.', '')} LIMIT :budget"
        scanned = ":visible" if visible is not None else f"(SELECT count(*) FROM (SELECT 1 FROM ({self._visible('', in_order)}) c LIMIT :budget) c)"
        # the covering conditions first (one or two LIKEs a row), the tiers of the few rows left after
        covers = []
        for i, cover in enumerate(dict.fromkeys(self.query.cover(t) for t in wanted)):
            condition, cparams = self._condition(cover, f"cover{i}_")
            covers.append(condition)
            params.update(cparams)
        sql = (
            f"SELECT y.tier, y.id, y.name_key, y.scanned FROM (SELECT x.*, "
            f"row_number() OVER (PARTITION BY x.tier ORDER BY x.k_len, x.k_name, x.id) AS rn FROM ("
            f"SELECT v.*, {case} AS tier FROM (SELECT w.*, {scanned} AS scanned FROM "
            f"(SELECT * FROM ({self._visible('', in_order)}) v ORDER BY {self._ORDER} LIMIT :budget) w) v "
            f"WHERE {' OR '.join(covers)}) x) y "
            "WHERE y.tier > 0 AND y.rn <= :n ORDER BY y.tier DESC, length(y.name_key), (y.name_key COLLATE \"C\"), y.id"
        )
        rows = self._rows(sql, {**params, **kparams, **_visibility_sql(self.scope)[1], "budget": budget, "n": n, "visible": visible})
        everything = (visible is not None and visible < budget) or (bool(rows) and rows[0][3] < budget)
        found = {tier: [_Row(r[1], r[2]) for r in rows if r[0] == tier] for tier in wanted}
        self._prefetched_hits = {tier: len(found_rows) for tier, found_rows in found.items()}
        return {tier: (found_rows, everything) for tier, found_rows in found.items()}

    def _visible_count(self) -> int:
        """How many entries a restricted scope sees (own entries and pool leads), up to PG_SCAN_ALL + 1."""
        sql = (
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_entry WHERE owner_id = :me LIMIT :cap) o) + "
            "(SELECT count(*) FROM (SELECT 1 FROM search_entry WHERE owner_id IS NULL AND kind = 'lead' LIMIT :cap) p)"
        )
        return int(self._rows(sql, {"me": self.scope.me, "cap": PG_SCAN_ALL + 1})[0][0])

    def worth_probing(self, found_by_prefetch: int) -> bool:
        return found_by_prefetch == 0  # matches among the first entries: not a rare term, the probe would fail

    def probe(self, tier: Tier, n: int) -> Batch:
        """Up to the trigram sample: a rare term is answered, a common one given up at once."""
        return self.batch(tier, None, n, full=True, give_up=True)

    def _rows(self, sql: str, params: dict) -> list[tuple]:
        self._plan(None)
        return super()._rows(sql, params)

    def _bitmap_rows(self, sql: str, params: dict) -> list[tuple]:
        """Rows through the trigram (bitmap) indexes only: with a LIMIT, the planner may otherwise
        prefer a sequential or ordered scan that stops early in theory and reads everything in fact."""
        self._plan("bitmaps")
        return super()._rows(sql, params)

    def _plan(self, mode: str | None) -> None:
        """Turn off the planner settings of ``PG_PLANS[mode]`` (None: the session's own again), only
        when the next statement needs another kind of scan than the last one (each switch is a round
        trip; ``search`` restores every one of these settings at the end in any case)."""
        if mode == self._plan_mode:
            return
        if self._plan_mode is not None:
            names = PG_PLANS[self._plan_mode]
            restore = ", ".join(f"set_config('{n}', :v{i}, true)" for i, n in enumerate(names))
            self.session.execute(text(f"SELECT {restore}"), {f"v{i}": v for i, v in enumerate(self._replaced)})
            self._plan_mode, self._replaced = None, []
        if mode is not None:
            swap = ", ".join(f"current_setting('{n}'), set_config('{n}', 'off', true)" for n in PG_PLANS[mode])
            self._replaced = list(self.session.execute(text(f"SELECT {swap}")).one())[::2]
            self._plan_mode = mode


# --- searching ----------------------------------------------------------------------------------


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
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    parsed = parse_query(query or "")
    wanted_kinds = tuple(k for k in KINDS if k in kinds)
    if parsed is None or not wanted_kinds or offset >= MAX_RESULTS:
        return SearchPage([], offset, limit, False)
    limit = min(limit, MAX_RESULTS - offset)
    me = None if actor is None or actor.can(Right.SEE_ALL) else actor.id
    scope = _Scope(me=me, kinds=wanted_kinds)
    dialect = session.get_bind().dialect.name
    streams: _Streams = (_SqliteStreams if dialect == "sqlite" else _PostgresStreams)(session, parsed, scope)
    need = min(offset + limit + 1, MAX_RESULTS)  # one more than shown tells whether there is a next page
    if dialect == "postgresql":
        # no parallel workers, no JIT: for reads this short, starting either costs more than it saves
        # (JIT compiles for ~80 ms as soon as an estimate passes jit_above_cost)
        with pg_settings(session, {"max_parallel_workers_per_gather": "0", "jit": "off"}, (*PG_BITMAP_ONLY, *PG_ORDERED_ONLY)):
            ranked = _ranked(streams, parsed, need)
    else:
        ranked = _ranked(streams, parsed, need)
    shown = ranked[offset : offset + limit]
    details = _details(session, [row.id for _tier, row in shown])
    # (an entry deleted since the ranking, which PostgreSQL's READ COMMITTED lets one see, is left out)
    hits = [SearchHit(*details[row.id][:3], int(tier), details[row.id][3]) for tier, row in shown if row.id in details]
    return SearchPage(hits, offset, limit, len(ranked) > offset + limit)


@contextmanager
def pg_settings(session: Session, settings: dict[str, str], also_restore: Sequence[str] = ()) -> Iterator[None]:
    """Planner settings for the statements run inside, restored afterwards (transaction-local), with
    those of ``also_restore`` that the statements inside may change."""
    names = [*settings, *also_restore]
    swap = ", ".join(
        f"current_setting('{n}'), " + (f"set_config('{n}', '{settings[n]}', true)" if n in settings else "NULL") for n in names
    )
    row = session.execute(text(f"SELECT {swap}")).one()
    yield  # after an error the transaction is aborted, and its rollback drops these settings anyway
    restore = ", ".join(f"set_config('{n}', :v{i}, true)" for i, n in enumerate(names))
    session.execute(text(f"SELECT {restore}"), {f"v{i}": row[2 * i] for i in range(len(names))})


def _details(session: Session, ids: list[int]) -> dict[int, tuple[str, int, str, int | None]]:
    """kind, ref_id, name and owner of the entries shown."""
    if not ids:
        return {}
    names, binds = _bind_list("id", ids)  # type: ignore[arg-type]
    rows = session.execute(text(f"SELECT id, kind, ref_id, name, owner_id FROM search_entry WHERE id IN ({names})"), binds)
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def _found(prefetched: dict[Tier, tuple[list[_Row], bool]], query: Query, cover: Tier) -> int:
    """How many rows of the tiers ``cover`` covers the prefetch found."""
    return sum(len(prefetched.get(t, ([], False))[0]) for t in query.tiers if query.cover(t) == cover)


def _enough(prefetched: dict[Tier, tuple[list[_Row], bool]], tier: Tier, wanted: int) -> bool:
    rows, complete = prefetched.get(tier, ([], False))
    return complete or len(rows) >= wanted


def _ranked(streams: _Streams, query: Query, need: int) -> list[tuple[Tier, _Row]]:
    """The first ``need`` matches in rank order, reading tier after tier.

    Exact name and name prefix are read directly (cheap and exact on both databases). For the tiers
    after them, what the streams learn cheaply comes first: the prefetch (PostgreSQL: one ordered
    scan for all of them), then one probe of the stream covering them (``Query.cover``), which
    answers all its tiers at once when the term is rare. A tier still unanswered is streamed.
    """
    probes: dict[Tier, Batch] = {}
    prefetched: dict[Tier, tuple[list[_Row], bool]] | None = None
    taken: list[tuple[Tier, _Row]] = []
    seen: set[int] = set()

    def take(tier: Tier, rows: list[_Row]) -> None:
        for row in rows:
            if len(taken) >= need:
                return
            if row.id in seen:
                continue  # a higher tier took it: those streams were read to the end first
            if row.text is not None and tier_of(row.name_key, row.text, row.digits or "", query) != tier:
                continue
            seen.add(row.id)
            taken.append((tier, row))

    def first_batch(tier: Tier) -> Batch:
        nonlocal prefetched
        cover = query.cover(tier)
        if tier in (Tier.EXACT, Tier.PREFIX) or cover == Tier.PREFIX:
            return streams.batch(tier, None, need, full=False)
        if prefetched is None:
            prefetched = streams.prefetch(query.tiers, need)
        if _enough(prefetched, tier, need - len(taken)):
            return prefetched[tier][0], None, True  # all that is needed, or all there is
        if cover not in probes:
            found = _found(prefetched, query, cover)
            if found >= need or not streams.worth_probing(found):
                probes[cover] = ([], None, False)  # it would not be exhausted: skip it
            else:
                probes[cover] = streams.probe(cover, need)
        rows, cursor, exhausted = probes[cover]
        if exhausted or (cover == tier and rows):
            return rows, cursor, exhausted  # all of them (to sort into tiers), or this tier's first ones
        return streams.batch(tier, None, need, full=tier == Tier.ALL_WORDS)

    for tier in query.tiers:
        rows, cursor, exhausted = first_batch(tier)
        take(tier, rows)
        while len(taken) < need and not exhausted:
            rows, cursor, exhausted = streams.batch(tier, cursor, max(need - len(taken), 50), full=tier == Tier.ALL_WORDS)
            take(tier, rows)
        if len(taken) >= need:
            break
    return taken
