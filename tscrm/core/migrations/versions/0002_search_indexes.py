"""substring indexes for universal search

SQLite: an FTS5 table with the trigram tokenizer over search_entry (external content), kept in step
by triggers. PostgreSQL: pg_trgm GIN indexes, and a text_pattern_ops index for name prefixes.

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

SQLITE_UP = [
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        text, digits, content='search_entry', content_rowid='id', tokenize='trigram'
    )""",
    """CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN
        INSERT INTO search_fts(rowid, text, digits) VALUES (new.id, new.text, new.digits);
    END""",
    """CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN
        INSERT INTO search_fts(search_fts, rowid, text, digits) VALUES ('delete', old.id, old.text, old.digits);
    END""",
    """CREATE TRIGGER search_entry_au AFTER UPDATE OF text, digits ON search_entry BEGIN
        INSERT INTO search_fts(search_fts, rowid, text, digits) VALUES ('delete', old.id, old.text, old.digits);
        INSERT INTO search_fts(rowid, text, digits) VALUES (new.id, new.text, new.digits);
    END""",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_entry_au",
    "DROP TRIGGER IF EXISTS search_entry_ad",
    "DROP TRIGGER IF EXISTS search_entry_ai",
    "DROP TABLE IF EXISTS search_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_search_entry_text_trgm ON search_entry USING gin (text gin_trgm_ops)",
    "CREATE INDEX ix_search_entry_digits_trgm ON search_entry USING gin (digits gin_trgm_ops)",
    "CREATE INDEX ix_search_entry_name_prefix ON search_entry (name_key text_pattern_ops)",
    "CREATE INDEX ix_phone_rdigits_prefix ON phone (rdigits text_pattern_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_phone_rdigits_prefix",
    "DROP INDEX IF EXISTS ix_search_entry_name_prefix",
    "DROP INDEX IF EXISTS ix_search_entry_digits_trgm",
    "DROP INDEX IF EXISTS ix_search_entry_text_trgm",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
