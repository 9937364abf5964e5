"""Secrets: stored encrypted (never in clear) when there is no keyring, and reported clearly when missing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tscrm.core import secrets
from tscrm.core.errors import ConfigError


def test_secret_round_trip_is_encrypted_at_rest(db):
    with db.write() as s:
        ref = secrets.store_secret(s, "mail/1/password", "hunter2-päss")
    assert ref == "db:mail/1/password"
    with db.read() as s:
        stored = s.execute(text("SELECT ciphertext FROM stored_secret")).scalar_one()
        assert "hunter2" not in stored
        assert secrets.load_secret(s, ref) == "hunter2-päss"
    with db.write() as s:
        assert secrets.store_secret(s, "mail/1/password", "new") == ref
    with db.read() as s:
        assert secrets.load_secret(s, ref) == "new"
    with db.write() as s:
        secrets.delete_secret(s, ref)
    with db.read() as s, pytest.raises(ConfigError, match="missing"):
        secrets.load_secret(s, ref)


def test_wrong_or_missing_key_is_named(db, monkeypatch):
    with db.write() as s:
        ref = secrets.store_secret(s, "sip/2", "pw")
    monkeypatch.setenv("TSCRM_SECRET_KEY", "another key")
    with db.read() as s, pytest.raises(ConfigError, match="TSCRM_SECRET_KEY"):
        secrets.load_secret(s, ref)
    monkeypatch.delenv("TSCRM_SECRET_KEY")
    with db.write() as s, pytest.raises(ConfigError, match="TSCRM_SECRET_KEY"):
        secrets.store_secret(s, "sip/3", "pw")


def test_bad_backend_setting_is_named(db, monkeypatch):
    monkeypatch.setenv("TSCRM_SECRET_BACKEND", "vault")
    with db.write() as s, pytest.raises(ConfigError, match="TSCRM_SECRET_BACKEND"):
        secrets.store_secret(s, "x", "y")
