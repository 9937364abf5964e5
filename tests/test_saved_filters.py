"""Saved client filters: saved per user, used by name for call lists and bulk SMS."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tscrm.cli.main import app
from tscrm.core.errors import NotFound, ValidationError
from tscrm.core.services import clients, saved_filters
from tscrm.core.services.clients import new_contact


def test_save_resolve_and_remove(db, admin, make_user):
    other = make_user("Manager")
    with db.write() as s:
        saved_filters.save_filter(s, admin, "VIP mine", "tag=vip, mine")
        with pytest.raises(ValidationError, match="not understood"):
            saved_filters.save_filter(s, admin, "bad", "colour=red")
        with pytest.raises(ValidationError, match="name"):
            saved_filters.save_filter(s, admin, "  ", "tag=vip")
    with db.read() as s:
        assert saved_filters.saved_filters(s, admin) == {"VIP mine": "tag=vip, mine"}
        assert saved_filters.saved_filters(s, other) == {}  # per user
        filt = saved_filters.resolve_filter(s, admin, "VIP mine")
        assert filt.tags == ["vip"] and filt.mine
        assert saved_filters.resolve_filter(s, admin, "tag=gold").tags == ["gold"]  # a spec still works
        with pytest.raises(NotFound, match="No saved filter named 'VIP'"):
            saved_filters.resolve_filter(s, admin, "VIP")
    with db.write() as s:
        saved_filters.remove_filter(s, admin, "VIP mine")
        with pytest.raises(NotFound):
            saved_filters.remove_filter(s, admin, "VIP mine")


def test_a_call_list_from_a_saved_filter(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, ["--db", url, *args])
        assert result.exit_code == code, result.output
        return result

    run("init", "--company", "Acme", "--admin-name", "Ana", "--admin-email", "ana@acme.test", "--extension", "100")
    run("clients", "add", "José", "--phone", "+34612345001", "--tag", "vip")
    run("clients", "add", "Lucía", "--phone", "+34612345002", "--tag", "vip")
    run("clients", "add", "Marta", "--phone", "+34612345003")
    run("clients", "filters", "save", "VIP", "tag=vip")
    assert json.loads(run("clients", "filters", "list", "--json").stdout) == [{"name": "VIP", "spec": "tag=vip"}]
    made = json.loads(run("dial", "--filter", "VIP", "--name", "VIP calls", "--json").stdout)
    assert made["to_call"] == 2
    assert "No saved filter named 'Gold'" in run("dial", "--filter", "Gold", code=3).output
    run("clients", "filters", "remove", "VIP")
    assert run("clients", "filters", "remove", "VIP", code=3)
