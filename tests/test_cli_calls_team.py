"""``tscrm calls list`` and ``tscrm team list``: tables, filters, --json, exit codes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from tscrm.cli import calls as cli_calls
from tscrm.cli import labels
from tscrm.core.models import CallDirection, CallOutcome, User
from tscrm.core.services import calls, clients, leads, users
from tscrm.core.services.clients import new_contact
from tscrm.core.types import utcnow

# 2025-06-11 09:00 UTC is 11:00 in Madrid (the admin's zone)
T0 = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def run(cli):
    return cli


@pytest.fixture
def log(db, admin, make_user):
    """Four calls of two agents: Ana (admin) and Bob (intern), with a client and a lead on the line."""
    bob = make_user("Intern", name="Bob Agent", email="bob@acme.test", extension="201")
    with db.write() as s:
        lucia = clients.create_client(s, admin, new_contact("Lucía García", ["+34612345678"]))
        pedro = leads.create_lead(s, bob, new_contact("Pedro Lead", ["+33612345678"]))

        def add(agent, minutes: int, direction: str, number: str, outcome: str, talk: int = 0, **kw):
            start = T0 + timedelta(minutes=minutes)
            return calls.log_call(
                s,
                None,
                direction=direction,
                their_number=number,
                agent_id=agent.id,
                started_at=start,
                answered_at=start + timedelta(seconds=5) if talk else None,
                ended_at=start + timedelta(seconds=5 + talk) if talk else start + timedelta(seconds=30),
                outcome=outcome,
                **kw,
            ).id

        ids = {
            "ana_in": add(admin, 0, "inbound", "+34612345678", "answered", 150, recording_ref="/rec/1.wav"),
            "ana_out": add(admin, 60, "outbound", "+34612345678", "no_answer"),
            "bob_out": add(bob, 120, "outbound", "+33612345678", "answered", 3725),
            "bob_late": add(bob, 60 * 24, "inbound", "+34699000111", "busy"),  # the next day
        }
    return {"bob": bob, "lucia": lucia.id, "pedro": pedro.id, **ids}


def test_choices_and_labels_follow_the_models():
    assert list(get_args(cli_calls.DirectionChoice)) == [d.value for d in CallDirection]
    assert list(get_args(cli_calls.OutcomeChoice)) == [o.value for o in CallOutcome]
    assert list(labels.CALL_DIRECTIONS) == [d.value for d in CallDirection]
    assert list(labels.CALL_OUTCOMES) == [o.value for o in CallOutcome]


def test_calls_list_table_shows_names_numbers_and_durations(run, log):
    out = run("calls", "list").stdout
    assert "Calls (4 of 4)" in out
    lines = out.splitlines()
    ana_in = next(line for line in lines if "2025-06-11 11:00" in line)
    assert "← inbound" in ana_in and "+34 612 34 56 78" in ana_in and "Lucía García" in ana_in
    assert "Ana Admin" in ana_in and "answered" in ana_in and "2:30" in ana_in and "yes" in ana_in
    bob_out = next(line for line in lines if "2025-06-11 13:00" in line)
    assert "Pedro Lead (lead)" in bob_out and "1:02:05" in bob_out and "Bob Agent" in bob_out


def test_calls_list_filters(run, log):
    def ids(*args: str, user: str | None = None) -> list[int]:
        data = json.loads(run("calls", "list", *args, "--json", user=user).stdout)
        assert data["total"] == len(data["calls"])
        return [c["id"] for c in data["calls"]]

    assert ids() == [log["bob_late"], log["bob_out"], log["ana_out"], log["ana_in"]]  # newest first
    assert ids("--agent", "bob@acme.test") == [log["bob_late"], log["bob_out"]]
    assert ids("--agent", "201", "--outcome", "answered") == [log["bob_out"]]
    assert ids("--direction", "inbound") == [log["bob_late"], log["ana_in"]]
    assert ids("--outcome", "no_answer") == [log["ana_out"]]
    assert ids("--from", "2025-06-12") == [log["bob_late"]]
    assert ids("--to", "2025-06-11") == [log["bob_out"], log["ana_out"], log["ana_in"]]  # the whole day counts
    assert ids("--from", "2025-06-11", "--to", "2025-06-11", "--number", "0034 612 34 56 78") == [log["ana_out"], log["ana_in"]]
    assert ids("--number", "612 34 56 78") == [log["bob_out"], log["ana_out"], log["ana_in"]]  # no region: digits anywhere
    assert ids("--number", "+33 6 12 34 56 78") == [log["bob_out"]]
    assert ids("--number", "000111") == [log["bob_late"]]  # a fragment of digits
    # an intern sees only their own calls
    assert ids(user="bob@acme.test") == [log["bob_late"], log["bob_out"]]


def test_calls_list_json_record(run, log, admin):
    data = json.loads(run("calls", "list", "--json", "--limit", "1", "--offset", "3").stdout)
    assert (data["total"], data["offset"], data["limit"]) == (4, 3, 1)
    (record,) = data["calls"]
    assert record == {
        "id": log["ana_in"],
        "started_at": "2025-06-11T11:00:00+02:00",
        "answered_at": "2025-06-11T11:00:05+02:00",
        "ended_at": "2025-06-11T11:02:35+02:00",
        "direction": "inbound",
        "outcome": "answered",
        "their_number": "+34612345678",
        "our_number": None,
        "agent_id": admin.id,
        "agent": "Ana Admin",
        "client_id": log["lucia"],
        "client": "Lucía García",
        "lead_id": None,
        "lead": None,
        "duration": 150,
        "recording_ref": "/rec/1.wav",
        "transcript": None,
    }


def test_calls_list_mistakes_exit_with_a_message(run, log):
    result = run("calls", "list", "--agent", "nobody@acme.test", code=3)
    assert "No user nobody@acme.test" in result.stderr
    result = run("calls", "list", "--from", "11/06/2025", code=2)
    assert "--from: '11/06/2025' is not a date" in result.stderr
    result = run("calls", "list", "--outcome", "maybe", code=2)
    assert "maybe" in result.stderr


def test_team_list_shows_presence_and_working_hours(db, admin, make_user, run):
    bob = make_user("Intern", name="Bob Agent", email="bob@acme.test", extension="201", phone="+34611000000")
    with db.write() as s:
        s.get(User, bob.id).last_seen_at = utcnow() - timedelta(seconds=15)
        s.get(User, admin.id).last_seen_at = utcnow() - timedelta(minutes=3)
        users.set_working_hours(s, bob, bob.id, {"mon": ["08:00", "15:00"], "tue": ["08:00", "15:00"]})
    out = run("team", "list").stdout
    assert "Team (2, 1 online)" in out
    ana_line = next(line for line in out.splitlines() if "Ana Admin" in line)
    bob_line = next(line for line in out.splitlines() if "Bob Agent" in line)
    assert "○ offline" in ana_line and "100" in ana_line and "Mon–Fri 09:00–18:00" in ana_line and "Admin" in ana_line
    assert "● online" in bob_line and "201" in bob_line and "+34611000000" in bob_line and "Mon–Tue 08:00–15:00" in bob_line

    data = json.loads(run("team", "list", "--json").stdout)
    assert [(m["name"], m["online"], m["extension"], m["group"]) for m in data] == [
        ("Ana Admin", False, "100", "Admin"),
        ("Bob Agent", True, "201", "Intern"),
    ]
    assert data[1]["working_hours"] == {"mon": ["08:00", "15:00"], "tue": ["08:00", "15:00"]}
    assert data[0]["working_hours"]["fri"] == ["09:00", "18:00"] and "sat" not in data[0]["working_hours"]
    assert data[1]["email"] == "bob@acme.test" and data[1]["phone"] == "+34611000000"
    assert data[0]["last_seen_at"].endswith(("+02:00", "+01:00"))  # in the acting user's zone (Madrid)


def test_an_intern_does_not_see_the_name_of_a_colleagues_client(db, admin, make_user, run):
    bob = make_user("Intern", name="Bob Agent", email="bob@acme.test", extension="201")
    with db.write() as s:
        lucia = clients.create_client(s, admin, new_contact("Lucía García", ["+34612345678"]))
        calls.log_call(s, None, direction="inbound", their_number="+34612345678", agent_id=bob.id, started_at=T0)
    (mine,) = json.loads(run("calls", "list", "--json", user="bob@acme.test").stdout)["calls"]
    assert (mine["client_id"], mine["client"]) == (lucia.id, None)  # Ana's client: linked, but not named to Bob
    (seen_by_admin,) = json.loads(run("calls", "list", "--json").stdout)["calls"]
    assert seen_by_admin["client"] == "Lucía García"
