"""``tscrm calendar accounts|sync``: messages, --json and exit codes, against Radicale."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tscrm.core.services import tasks

from .conftest import USERS, free_port


@pytest.fixture
def run(cli, admin):
    return cli


def add(run, radicale, cal: str, *, password: str = USERS["alice"], url: str | None = None, code: int = 0):
    return run(
        "calendar", "accounts", "add", "Work", "--url", url or radicale.url, "--username", "alice",
        "--password", password, "--calendar", cal, "--json", code=code,
    )


def test_accounts_add_list_test_sync_remove(db, admin, run, radicale):
    cal = radicale.new_calendar("alice")
    with db.write() as s:
        tasks.create_task(s, admin, title="Call Jose", due_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    added = json.loads(add(run, radicale, cal).stdout)
    assert added["id"] == 1 and added["username"] == "alice"
    listed = json.loads(run("calendar", "accounts", "list", "--json").stdout)
    assert [(a["id"], a["name"], a["calendar"]) for a in listed] == [(1, "Work", cal)]
    assert USERS["alice"] not in json.dumps(listed)

    ok = run("calendar", "accounts", "test", "1").stdout
    assert "✓ login:" in ok and f"✓ calendar: {cal} ({cal}): 0 events" in ok

    synced = json.loads(run("calendar", "sync", "--json").stdout)
    assert [(r["account_id"], r["ok"], r["created_remote"], r["created_local"]) for r in synced] == [(1, True, 1, 0)]
    table = run("calendar", "sync").stdout
    assert "Calendar sync" in table and "ok" in table

    assert "Calendar account 1 removed: Work" in run("calendar", "accounts", "remove", "1").stdout
    assert json.loads(run("calendar", "accounts", "list", "--json").stdout) == []
    week = json.loads(run("calendar", "--json", "--date", "2026-12-01").stdout)  # the plain calendar still works
    assert [t["title"] for d in week["days"] for t in d["tasks"]] == ["Call Jose"]


def test_failures_and_exit_codes(db, admin, make_user, run, radicale):
    cal = radicale.new_calendar("alice")
    add(run, radicale, cal, password="wrong")
    failed = run("calendar", "accounts", "test", "1", "--json", code=10)
    (login,) = json.loads(failed.stdout)
    assert login["ok"] is False and "login failed" in login["detail"]
    sync = run("calendar", "sync", "--json", code=10)
    assert json.loads(sync.stdout)[0]["error"].startswith("Work: ")

    nobody = f"http://127.0.0.1:{free_port()}/"
    add(run, radicale, cal, url=nobody)
    unreachable = run("calendar", "accounts", "test", "2", code=10).stdout
    assert "✗ login:" in unreachable and "finding the calendars failed" in unreachable

    other = make_user("Manager")
    refused = run("calendar", "accounts", "test", "1", user=other.email, code=3)
    assert "No calendar account with id 1" in refused.stderr
    assert json.loads(run("calendar", "accounts", "list", "--json", user=other.email).stdout) == []
    bad = run("calendar", "accounts", "add", "X", "--url", "not a url", "--username", "u", "--password", "p", code=2)
    assert "is not a CalDAV address" in bad.stderr


def test_sync_refusal_exit_code(db, admin, run, radicale):
    cal = radicale.new_calendar("alice")
    with db.write() as s:
        for i in range(2):
            tasks.create_task(s, admin, title=f"T{i}", due_at=datetime(2026, 12, 1, 9 + i, tzinfo=UTC))
    add(run, radicale, cal)
    run("calendar", "sync")
    for href in radicale.events(cal):
        radicale.delete(cal, href)
    refused = run("calendar", "sync", code=11)
    assert "refused to sync" in refused.stderr and "--force-delete" in refused.stderr
    forced = json.loads(run("calendar", "sync", "--force-delete", "--json").stdout)
    assert forced[0]["deleted_local"] == 2
