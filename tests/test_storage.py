"""Storage: migrations, the schema check, backups, configuration, exact money and UTC times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel, select

from tscrm.core import config, migrate
from tscrm.core.db import SCHEMA_HEAD, Database
from tscrm.core.errors import ConfigError, SchemaOutOfDate
from tscrm.core.models import Client, CurrencyRate, Deal
from tscrm.core.services import company
from tscrm.core.services.clients import create_client, new_contact


def test_schema_head_constant_matches_alembic():
    assert migrate.head_revision() == SCHEMA_HEAD


def test_migrations_match_the_models(db):
    """What the migrations build is exactly what the models describe (no drift)."""
    from tscrm.core.models import load_all_models

    load_all_models()
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, SQLModel.metadata) if not _is_search_extra(d)]
    assert diff == []


def _hand_written_names() -> set[str]:
    """Tables and indexes that migrations 0002 and 0007 create by hand (FTS tables, search indexes)."""
    import re

    versions = migrate.MIGRATIONS / "versions"
    source = "".join((versions / name).read_text() for name in ("0002_search_indexes.py", "0007_search_tuning.py"))
    created = re.findall(r"CREATE (?:VIRTUAL TABLE|INDEX|UNIQUE INDEX|TRIGGER)(?: IF NOT EXISTS)? (\w+)", source)
    named = re.findall(r"[\"'](ix_\w+|\w*fts\w*)[\"']", source)
    return set(created) | set(named)


def _is_search_extra(diff) -> bool:
    # The substring indexes and FTS tables of migration 0002 are not described by the models.
    names = _hand_written_names()
    obj = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    name = getattr(obj, "name", "") or ""
    return name in names or any(name.startswith(f"{n}_") for n in names)


def test_fresh_database_refuses_until_set_up(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(SchemaOutOfDate, match="tscrm init"):
        db.check_schema()


def test_schema_behind_names_the_fix_and_upgrade_backs_up(tmp_path):
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db, "0001")
    with pytest.raises(SchemaOutOfDate, match="tscrm db upgrade"):
        db.check_schema()
    backup = db.upgrade()
    assert backup is not None and backup.exists() and backup.name.startswith("old.db.")
    db.check_schema()
    # the backup is the database as it was: still at 0001
    assert Database(f"sqlite:///{backup}").current_revision() == "0001"


def test_schema_ahead_is_refused(sqlite_db):
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaOutOfDate, match="newer"):
        sqlite_db.check_schema()


def test_postgres_migrates_up_and_down(postgres_server):
    from conftest import need_service

    if postgres_server.db is None:
        need_service("PostgreSQL", postgres_server.error or "")
    db = Database(postgres_server.fresh_database())
    db.upgrade()
    assert db.current_revision() == SCHEMA_HEAD
    migrate.downgrade(db, "base")
    assert db.current_revision() is None
    db.upgrade()
    db.check_schema()
    db.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_money_is_exact_decimal(db, admin):
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9213456789")
        client = create_client(s, admin, new_contact("Money Test"))
        s.add(Deal(client_id=client.id, title="Big", amount=Decimal("12345678901234.57"), currency="EUR"))
    with db.read() as s:
        deal = s.exec(select(Deal)).one()
        assert deal.amount == Decimal("12345678901234.57") and isinstance(deal.amount, Decimal)
        assert s.exec(select(CurrencyRate)).one().rate == Decimal("0.9213456789")


def test_times_are_stored_utc_and_naive_is_refused(db, admin):
    madrid = timezone(timedelta(hours=2))
    with db.write() as s:
        client = create_client(s, admin, new_contact("Time Test"), created_at=datetime(2026, 6, 1, 12, 0, tzinfo=madrid))
    with db.read() as s:
        stored = s.get(Client, client.id).created_at
        assert stored == datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc) and stored.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive"):
        with db.write() as s:
            create_client(s, admin, new_contact("Naive"), created_at=datetime(2026, 6, 1, 12, 0))


def test_database_url_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("TSCRM_CONFIG", str(cfg))
    assert config.resolve_database_url().startswith("sqlite:///")
    cfg.write_text('database_url = "postgresql://crm@db.example/crm"\n')
    assert config.resolve_database_url() == "postgresql+psycopg://crm@db.example/crm"
    monkeypatch.setenv("TSCRM_DATABASE_URL", "postgres://env@h/e")
    assert config.resolve_database_url() == "postgresql+psycopg://env@h/e"
    assert config.resolve_database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_bad_config_and_url_are_named(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text("database_url = \n")
    monkeypatch.setenv("TSCRM_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=str(cfg)):
        config.load_settings()
    with pytest.raises(ConfigError, match="mysql://x"):
        config.normalise_database_url("mysql://x")
    assert config.normalise_database_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
