"""indexes for universal search (see tscrm.core.search)

SQLite: ``search_name_fts`` and ``search_text_fts``, contentless FTS5 tables with the trigram
tokenizer, kept in step with ``search_entry`` by triggers. Their rowid is the search tie order, so
that FTS5, which returns matches in rowid order, returns them already ranked within a tier and can
stop after a page::

    rowid = min(length(name_key), 63) << 57 | bucket(name_key[0]) << 52 | ... | bucket(name_key[4]) << 32 | id

A bucket maps a character to 0..31 without breaking code point order (0: no character, 1: space,
2: digit, 4..29: a..z, 31: anything else); rows sharing the high bits are sorted in Python. Columns:
``name`` = "\\x01 " + name_key (prefix: phrase "\\x01 q"; a word of the name: " q"), ``text``,
``digits``, and in both tables ``meta`` = "#c# @<owner>@" (kind and owner; "@p@" for pool leads)
so that visibility and kinds are part of the same index lookup. Entry ids must stay below 2**32.

PostgreSQL: pg_trgm GIN indexes on text, name_key and digits; covering B-trees in tie order (all
entries, per owner, pool leads) for index-only ordered scans and exact name prefixes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID_BITS = 32  # tscrm.core.search.ID_BITS


def _sort_key_sql(row: str) -> str:
    name_key = f"{row}.name_key"
    key = [f"(min(length({name_key}), 63) << 57)"]
    for position in range(5):
        code = f"unicode(substr({name_key}, {position + 1}, 1))"
        bucket = (
            f"CASE WHEN {code} IS NULL THEN 0 WHEN {code} < 48 THEN 1 WHEN {code} < 58 THEN 2 "
            f"WHEN {code} < 97 THEN 3 WHEN {code} < 123 THEN {code} - 93 ELSE 31 END"
        )
        key.append(f"(({bucket}) << {52 - 5 * position})")
    key.append(f"{row}.id")
    return " | ".join(key)


def _meta_sql(row: str) -> str:
    return (
        f"'#' || substr({row}.kind, 1, 1) || '# ' || CASE WHEN {row}.owner_id IS NOT NULL THEN '@' || {row}.owner_id || '@' "
        f"WHEN {row}.kind = 'lead' THEN '@p@' ELSE '@n@' END"
    )


# (table, its columns, the SQL of their values for the search_entry row ``row``)
FTS_TABLES = {
    "search_name_fts": ("rowid, name, meta", lambda row: f"{_sort_key_sql(row)}, char(1) || ' ' || {row}.name_key, {_meta_sql(row)}"),
    "search_text_fts": ("rowid, text, digits, meta", lambda row: f"{_sort_key_sql(row)}, {row}.text, {row}.digits, {_meta_sql(row)}"),
}


def _fts_insert(row: str) -> str:
    return "".join(f"INSERT INTO {t}({cols}) VALUES ({values(row)});\n" for t, (cols, values) in FTS_TABLES.items())


def _fts_delete(row: str) -> str:
    return "".join(f"INSERT INTO {t}({t}, {cols}) VALUES ('delete', {values(row)});\n" for t, (cols, values) in FTS_TABLES.items())


SQLITE_UP = [
    # Two tables, not two columns: a column filter still walks the whole doclist of a trigram, and
    # " gm" is in every gmail address but in almost no name. detail=full for phrases; columnsize=0:
    # nothing uses bm25; case_sensitive: the text is folded already.
    "CREATE VIRTUAL TABLE search_name_fts USING fts5(name, meta, content='', columnsize=0, tokenize='trigram case_sensitive 1')",
    "CREATE VIRTUAL TABLE search_text_fts USING fts5(text, digits, meta, content='', columnsize=0, tokenize='trigram case_sensitive 1')",
    f"""CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN
        SELECT RAISE(ABORT, 'search_entry id beyond 2**32') WHERE new.id >= {1 << ID_BITS};
        {_fts_insert("new")}END""",
    f"""CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN
        {_fts_delete("old")}END""",
    f"""CREATE TRIGGER search_entry_au AFTER UPDATE OF name_key, text, digits, owner_id, kind ON search_entry BEGIN
        {_fts_delete("old")}{_fts_insert("new")}END""",
    *(f"INSERT INTO {t}({cols}) SELECT {values('se')} FROM search_entry se" for t, (cols, values) in FTS_TABLES.items()),
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_entry_au",
    "DROP TRIGGER IF EXISTS search_entry_ad",
    "DROP TRIGGER IF EXISTS search_entry_ai",
    "DROP TABLE IF EXISTS search_text_fts",
    "DROP TABLE IF EXISTS search_name_fts",
]

_TIE_ORDER = '(length(name_key)), (name_key COLLATE "C"), id'
# (name, definition): the bulk loader of bench/search.py drops and rebuilds these around COPY.
# The tie-order B-trees carry text, digits and kind so that the budgeted ordered scans of
# tscrm.core.search are index-only (search.entry_fields caps those columns to fit a B-tree row).
POSTGRES_INDEXES = [
    ("ix_search_entry_text_trgm", "ON search_entry USING gin (text gin_trgm_ops)"),
    ("ix_search_entry_name_key_trgm", "ON search_entry USING gin (name_key gin_trgm_ops)"),
    ("ix_search_entry_digits_trgm", "ON search_entry USING gin (digits gin_trgm_ops)"),
    ("ix_search_entry_tie_order", f"ON search_entry ({_TIE_ORDER}) INCLUDE (text, digits, kind)"),
    ("ix_search_entry_owner_tie_order", f"ON search_entry (owner_id, {_TIE_ORDER}) INCLUDE (text, digits, kind)"),
    (
        "ix_search_entry_pool_tie_order",
        f"ON search_entry ({_TIE_ORDER}) INCLUDE (text, digits, kind) WHERE owner_id IS NULL AND kind = 'lead'",
    ),
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *(f"CREATE INDEX {name} {definition}" for name, definition in POSTGRES_INDEXES),
    "CREATE INDEX ix_phone_rdigits_prefix ON phone (rdigits text_pattern_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_phone_rdigits_prefix",
    *(f"DROP INDEX IF EXISTS {name}" for name, _definition in reversed(POSTGRES_INDEXES)),
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
