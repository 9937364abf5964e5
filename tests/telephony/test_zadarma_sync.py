"""``tscrm calls sync``: the PBX's history into the call log, idempotent, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, func, select

from tscrm.core.errors import PermissionDenied
from tscrm.core.models import Activity, Call, CallDirection, CallOutcome
from tscrm.core.services import calls, clients, leads
from tscrm.core.services.call_sync import PbxCall, sync_pbx_calls
from tscrm.core.services.clients import new_contact
from tscrm.telephony.zadarma import call_from_statistics, recording_ref

from .zadarma_fixtures import zadarma_server  # noqa: F401
from .zadarma_server import KEY, SECRET, stats_row

MADRID = "Europe/Madrid"


def history() -> list[dict]:
    """January and February 2026 as the PBX reports them (times in Madrid)."""
    return [
        # Lucía (a client) called our DID, Ana (100) answered, recorded
        stats_row("in_aaa", "2026-01-05 10:00:00", clid="34612345678", destination="34911234567", sip="100",
                  disposition="answered", seconds=125, call_id="1767603600.1-in_aaa", is_recorded=True),
        # Ana called Pedro (a lead), no answer
        stats_row("out_bbb", "2026-01-20 12:30:00", clid="100", destination="33612345678", sip="100", disposition="no answer", seconds=20),
        # an unknown number rang Bob (201) and Ana: two legs, Bob answered
        stats_row("in_ccc", "2026-02-03 09:00:00", clid="34699000111", destination="100", sip="100", disposition="no answer", seconds=15),
        stats_row("in_ccc", "2026-02-03 09:00:00", clid="34699000111", destination="201", sip="201", disposition="answered", seconds=300),
        # an internal call, out of range (March) for the January-February syncs
        stats_row("out_ddd", "2026-03-01 09:00:00", clid="100", destination="201", sip="100", seconds=30),
    ]


@pytest.fixture
def team(db, admin, make_user):
    bob = make_user("Intern", name="Bob Agent", email="bob@acme.test", extension="201")
    with db.write() as s:
        lucia = clients.create_client(s, admin, new_contact("Lucía García", ["+34612345678"]))
        pedro = leads.create_lead(s, admin, new_contact("Pedro Lead", ["+33612345678"]))
    return {"ana": admin, "bob": bob, "lucia": lucia.id, "pedro": pedro.id}


def rows(items: list[dict]) -> list[PbxCall]:
    converted = [call_from_statistics(item, MADRID) for item in items]
    return [r for r in converted if r is not None]


def all_calls(db) -> dict[str, Call]:
    with db.read() as s:
        return {c.external_id: c for c in s.exec(select(Call))}


def feed_count(db) -> int:
    with db.read() as s:
        return s.exec(select(func.count()).select_from(Activity)).one()


# --- reading the PBX's rows -----------------------------------------------------------------------------


def test_statistics_rows_become_calls():
    inbound, outbound, leg1, leg2, internal = rows(history())
    assert inbound == PbxCall(
        external_id="in_aaa", direction=CallDirection.INBOUND, their_number="+34612345678",
        started_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC), seconds=125, outcome=CallOutcome.ANSWERED,
        extension="100", our_number=None, source_did="+34911234567", recording_ref=recording_ref("1767603600.1-in_aaa"),
    )
    assert (outbound.direction, outbound.their_number, outbound.extension, outbound.outcome, outbound.recording_ref) == (
        CallDirection.OUTBOUND, "+33612345678", "100", CallOutcome.NO_ANSWER, None,
    )
    assert (leg2.extension, leg2.source_did) == ("201", None)
    assert (internal.direction, internal.their_number, internal.extension) == (CallDirection.INTERNAL, "201", "100")
    assert call_from_statistics({"pbx_call_id": "in_x", "callstart": ""}, MADRID) is None


# --- the core rule ---------------------------------------------------------------------------------------


def test_sync_creates_then_leaves_alone(db, team):
    before = feed_count(db)
    with db.write() as s:
        report = sync_pbx_calls(s, team["ana"], rows(history()))
    assert (report.created, report.updated, report.unchanged, report.errors) == (4, 0, 0, [])
    found = all_calls(db)
    assert set(found) == {"in_aaa", "out_bbb", "in_ccc", "out_ddd"}
    lucia_call = found["in_aaa"]
    assert lucia_call.client_id == team["lucia"] and lucia_call.agent_id == team["ana"].id
    assert lucia_call.started_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert lucia_call.ended_at - lucia_call.answered_at == timedelta(seconds=125)
    assert lucia_call.outcome == CallOutcome.ANSWERED and lucia_call.source_did == "+34911234567"
    assert lucia_call.recording_ref == "zadarma:1767603600.1-in_aaa"
    assert found["out_bbb"].lead_id == team["pedro"] and found["out_bbb"].outcome == CallOutcome.NO_ANSWER
    # two legs, one call: the answered leg's agent
    assert found["in_ccc"].agent_id == team["bob"].id and found["in_ccc"].outcome == CallOutcome.ANSWERED
    assert found["in_ccc"].client_id is None and found["in_ccc"].lead_id is None
    assert found["out_ddd"].direction == CallDirection.INTERNAL
    entries = feed_count(db)
    assert entries == before + 2  # a call entry on Lucía's and on Pedro's feeds

    with db.write() as s:
        again = sync_pbx_calls(s, team["ana"], rows(history()))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert {k: v.model_dump() for k, v in all_calls(db).items()} == {k: v.model_dump() for k, v in found.items()}
    assert feed_count(db) == entries


def test_sync_completes_a_call_the_webhooks_logged_without_overwriting_it(db, team):
    started = datetime(2026, 1, 5, 9, 0, 2, tzinfo=UTC)  # the webhook's own times are exact
    with db.write() as s:
        calls.log_call(
            s, None, direction="inbound", their_number="+34612345678", agent_id=team["ana"].id,
            started_at=started, answered_at=started + timedelta(seconds=7), external_id="in_aaa",
        )
    with db.write() as s:
        report = sync_pbx_calls(s, team["ana"], rows(history()[:1]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    call = all_calls(db)["in_aaa"]
    assert call.started_at == started and call.answered_at == started + timedelta(seconds=7)  # kept
    assert call.ended_at is not None and call.ended_at >= call.answered_at  # filled
    assert call.outcome == CallOutcome.ANSWERED and call.recording_ref == "zadarma:1767603600.1-in_aaa"
    assert call.source_did == "+34911234567"
    with db.write() as s:
        assert sync_pbx_calls(s, team["ana"], rows(history()[:1])).unchanged == 1


def test_a_client_added_later_gets_the_earlier_calls(db, team):
    with db.write() as s:
        sync_pbx_calls(s, team["ana"], rows(history()))
    with db.write() as s:
        newcomer = clients.create_client(s, team["ana"], new_contact("Nuevo Cliente", ["+34699000111"]))
    with db.write() as s:
        report = sync_pbx_calls(s, team["ana"], rows(history()))
    assert (report.updated, report.unchanged) == (1, 3)
    assert all_calls(db)["in_ccc"].client_id == newcomer.id


def test_sync_needs_the_import_right(db, team):
    with db.write() as s, pytest.raises(PermissionDenied, match="Bob Agent"):
        sync_pbx_calls(s, team["bob"], rows(history()))


def test_a_bad_row_is_reported_and_the_rest_written(db, team):
    naive = PbxCall("in_bad", CallDirection.INBOUND, "+34612345678", datetime(2026, 1, 1, 10, 0))  # no zone
    nameless = PbxCall(" ", CallDirection.INBOUND, "+34612345678", datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    with db.write() as s:
        report = sync_pbx_calls(s, team["ana"], [naive, nameless, *rows(history()[:1])])
    assert report.created == 1 and sorted(e.external_id for e in report.errors) == ["", "in_bad"]
    assert sorted(e.field for e in report.errors) == ["external_id", "started_at"]
    assert set(all_calls(db)) == {"in_aaa"}


# --- the command ------------------------------------------------------------------------------------------


@pytest.fixture
def run(cli, monkeypatch):
    monkeypatch.delenv("TSCRM_ZADARMA_KEY", raising=False)
    monkeypatch.delenv("TSCRM_ZADARMA_SECRET", raising=False)
    return cli


def test_calls_sync_command_is_idempotent(run, db, team, zadarma_server):
    zadarma_server.state.pbx_stats = history()
    args = ["calls", "sync", "--from", "2026-01-01", "--to", "2026-02-28", "--key", KEY, "--secret", SECRET, "--base-url", zadarma_server.url]
    first = json.loads(run(*args, "--json").stdout)
    assert (first["created"], first["updated"], first["unchanged"], first["errors"]) == (3, 0, 0, [])
    sent = zadarma_server.requests_to("/v1/statistics/pbx/")
    assert [(s.params["start"], s.params["end"]) for s in sent] == [
        ("2026-01-01 00:00:00", "2026-01-31 23:59:59"),
        ("2026-02-01 00:00:00", "2026-02-28 23:59:59"),
    ]
    assert set(all_calls(db)) == {"in_aaa", "out_bbb", "in_ccc"}
    out = run(*args).stdout
    cells = [line.replace("┃", "│").split("│")[1:-1] for line in out.splitlines() if line.replace("┃", "│").count("│") == 5]
    assert [c.strip() for c in cells[0]] == ["Created", "Updated", "Unchanged", "Errors"]
    assert [c.strip() for c in cells[1]] == ["0", "0", "3", "0"]
    assert len(all_calls(db)) == 3


def test_calls_sync_credentials_from_the_environment(run, db, team, zadarma_server, monkeypatch):
    zadarma_server.state.pbx_stats = history()
    monkeypatch.setenv("TSCRM_ZADARMA_KEY", KEY)
    monkeypatch.setenv("TSCRM_ZADARMA_SECRET", SECRET)
    result = run("calls", "sync", "--from", "2026-02-01", "--to", "2026-02-10", "--base-url", zadarma_server.url, "--json")
    assert json.loads(result.stdout)["created"] == 1
    with db.read() as s:
        assert s.exec(select(func.count()).select_from(Call).where(col(Call.external_id) == "in_ccc")).one() == 1


def test_calls_sync_errors(run, team, zadarma_server):
    base = ["calls", "sync", "--base-url", zadarma_server.url]
    bad_from = run(*base, "--from", "2026-13-01", "--to", "2026-02-01", "--key", KEY, "--secret", SECRET, code=2)
    assert "--from" in bad_from.stderr and "2026-13-01" in bad_from.stderr
    bad_to = run(*base, "--from", "2026-02-01", "--to", "yesterday", "--key", KEY, "--secret", SECRET, code=2)
    assert "--to" in bad_to.stderr
    backwards = run(*base, "--from", "2026-02-01", "--to", "2026-01-01", "--key", KEY, "--secret", SECRET, code=2)
    assert "--to" in backwards.stderr
    missing = run(*base, "--from", "2026-02-01", "--to", "2026-02-02", code=7)
    assert "TSCRM_ZADARMA_KEY" in missing.stderr
    half = run(*base, "--from", "2026-02-01", "--to", "2026-02-02", "--key", KEY, code=2)
    assert "--secret" in half.stderr
    refused = run(*base, "--from", "2026-02-01", "--to", "2026-02-02", "--key", KEY, "--secret", "wrong", code=8)
    assert "HTTP 401" in refused.stderr and "/v1/statistics/pbx/" in refused.stderr
    intern = run(*base, "--from", "2026-02-01", "--to", "2026-02-02", "--key", KEY, "--secret", SECRET, user="bob@acme.test", code=4)
    assert "import right" in intern.stderr
    assert zadarma_server.rejected == 1


def test_calls_sync_reads_the_telephony_settings_first(run, db, team, zadarma_server, monkeypatch):
    from tscrm.core.services import telephony

    zadarma_server.state.pbx_stats = history()
    with db.write() as s:
        telephony.save_company_settings(s, team["ana"], zadarma_key=KEY, pbx_timezone="UTC")
        telephony.set_zadarma_secret(s, team["ana"], SECRET)
    monkeypatch.setenv("TSCRM_ZADARMA_KEY", KEY)
    monkeypatch.setenv("TSCRM_ZADARMA_SECRET", "wrong")  # the settings win
    monkeypatch.setenv("TSCRM_ZADARMA_URL", zadarma_server.url)
    result = run("calls", "sync", "--from", "2026-01-05", "--to", "2026-01-05", "--json")
    assert json.loads(result.stdout)["created"] == 1
    # the PBX's zone is UTC here: 10:00 on its clock is 10:00 UTC
    assert all_calls(db)["in_aaa"].started_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert zadarma_server.rejected == 0
