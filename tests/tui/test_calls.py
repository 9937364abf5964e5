"""The Calls section: the log, its filters and search, a call's details, call back, playing recordings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_recordings import fake_player

from tscrm.core.recordings import cache_path
from tscrm.core.services import calls, clients, leads
from tscrm.core.services.calls import CallFilter
from tscrm.core.services.clients import new_contact
from tscrm.core.services.company import get_company
from tscrm.tui.app import CARD_PATHS, _load

from .conftest import wait_until

SIZE = (150, 40)
T0 = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)  # 11:00 in Madrid


def _rows(app) -> list[tuple[str, ...]]:
    table = app.screen.query_one("#calls-table")
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def _shown_ids(app) -> list[int]:
    table = app.screen.query_one("#calls-table")
    return [int(row_key.value) for row_key in table.rows]


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _db_ids(db, actor, **filters) -> list[int]:
    with db.read() as s:
        return [c.id for c in calls.list_calls(s, actor, CallFilter(**filters))]


def _calls_screen_ready(app) -> bool:
    return type(app.screen).__name__ == "CallsScreen" and app.screen.page is not None


async def _open_calls(pilot, app) -> None:
    await pilot.press("6")
    await wait_until(pilot, lambda: _calls_screen_ready(app))


def _make_log(db, admin, bob, recording: str | None = None) -> dict[str, int]:
    """Lucía (client) called Ana twice, Bob called Pedro (a lead) and missed a stranger."""
    with db.write() as s:
        lucia = clients.create_client(s, admin, new_contact("Lucía García", ["+34612345678"]))
        pedro = leads.create_lead(s, admin, new_contact("Pedro Lead", ["+34699111222"]))

        def add(agent, minutes, direction, number, outcome, talk=0, **kw):
            start = T0 + timedelta(minutes=minutes)
            return calls.log_call(
                s,
                None,
                direction=direction,
                their_number=number,
                agent_id=agent.id,
                started_at=start,
                answered_at=start + timedelta(seconds=5) if talk else None,
                ended_at=start + timedelta(seconds=5 + talk) if talk else start + timedelta(seconds=20),
                outcome=outcome,
                **kw,
            ).id

        return {
            "lucia": lucia.id,
            "pedro": pedro.id,
            "ana_answered": add(admin, 0, "inbound", "+34612345678", "answered", 150, recording_ref=recording, transcript="Hola, soy Lucía."),
            "ana_missed": add(admin, 10, "inbound", "+34612345678", "no_answer"),
            "bob_lead": add(bob, 20, "outbound", "+34699111222", "answered", 61),
            "bob_missed": add(bob, 30, "outbound", "+34655000111", "no_answer"),
        }


async def test_filter_the_log_by_outcome_and_agent(db, admin, make_user, make_app):
    bob = make_user("Manager", name="Bob Agent")
    ids = _make_log(db, admin, bob)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        assert _shown_ids(app) == _db_ids(db, admin) == [ids["bob_missed"], ids["bob_lead"], ids["ana_missed"], ids["ana_answered"]]
        first = _rows(app)[-1]
        assert first[:7] == ("2025-06-11 11:00", "← inbound", "+34 612 34 56 78", "Lucía García", "Ana Admin", "answered", "2:30")
        assert _rows(app)[1][3] == "Pedro Lead (lead)"

        await pilot.press("o")  # outcome: answered
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["bob_lead"], ids["ana_answered"]])
        await pilot.press("o")  # outcome: no answer
        await wait_until(pilot, lambda: _shown_ids(app) == _db_ids(db, admin, outcome="no_answer"))
        assert _shown_ids(app) == [ids["bob_missed"], ids["ana_missed"]]
        assert "outcome: no answer" in str(app.screen.query_one("#calls-bar").render())

        await pilot.press("f")  # the agent, in the filter dialog
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallFilterDialog" and len(app.screen.users) == 2)
        app.screen.query_one("#filter-agent").value = bob.id
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: _calls_screen_ready(app) and _shown_ids(app) == [ids["bob_missed"]])
        assert _shown_ids(app) == _db_ids(db, admin, outcome="no_answer", agent_id=bob.id)
        bar = str(app.screen.query_one("#calls-bar").render())
        assert "outcome: no answer" in bar and "agent: Bob Agent" in bar

        await pilot.press("m")  # only mine: the agent becomes me
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["ana_missed"]])


async def test_search_by_name_or_number(db, admin, make_user, make_app):
    bob = make_user("Manager", name="Bob Agent")
    ids = _make_log(db, admin, bob)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        await pilot.press("s")
        await pilot.press(*"lucia")
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["ana_missed"], ids["ana_answered"]])
        assert "name: lucia" in str(app.screen.query_one("#calls-bar").render())
        app.screen.query_one("#calls-search").value = "655 000"
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["bob_missed"]])
        app.screen.query_one("#calls-search").value = "Nobody Here"
        await wait_until(pilot, lambda: _shown_ids(app) == [])
        assert str(app.screen.query_one("#calls-status").render()) == "No calls match."


async def test_open_a_call_shows_its_client_and_opens_the_card(db, admin, make_user, make_app):
    bob = make_user("Manager", name="Bob Agent")
    ids = _make_log(db, admin, bob, recording="/nowhere/rec-1.wav")
    with db.write() as s:
        company = get_company(s)
        company.default_region, company.dial_without_country_code = "ES", True
    from .fake_backend import FakeBackend

    fake = FakeBackend("sip")
    app = make_app(admin, watch_changes=False)
    app.phone.backend_factory = lambda session, user: fake
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        app.screen.query_one("#calls-table").move_cursor(row=3)  # the oldest: Lucía's answered call
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallDetailScreen" and app.screen.record is not None)
        facts = str(app.screen.query_one("#call-facts").render())
        assert "Client" in facts and "Lucía García" in facts
        assert "Duration" in facts and "2:30" in facts and "/nowhere/rec-1.wav" in facts
        assert "Hola, soy Lucía." in str(app.screen.query_one("#call-transcript").render())
        assert "Incoming call · answered" in str(app.screen.query_one("#call-title").render())

        await wait_until(pilot, lambda: app.phone.status == "ready")
        await pilot.press("x")  # call back through the phone (national: the company dials without +34)
        await wait_until(pilot, lambda: any(c[0] == "originate" for c in fake.calls))
        assert fake.calls[-1][2] == "612345678" and app.phone.call.name == "Lucía García"
        assert app.phone.call.record[0] == "client"
        app.phone.call = None
        app.screen.focus()

        await pilot.press("c")
        if _load(CARD_PATHS["client"]) is None:  # the client card is not built yet: the app says so
            await wait_until(pilot, lambda: any("no card screen for client" in n for n in _notices(app)))
        else:
            await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen")
            assert app.screen.client_id == ids["lucia"]


async def test_play_a_recording_with_the_player_found_on_path(db, admin, make_user, make_app, tmp_path, monkeypatch):
    recording = tmp_path / "pbx" / "call-1.wav"
    recording.parent.mkdir()
    recording.write_bytes(b"RIFF-fake-audio")
    log = tmp_path / "player-args.txt"
    fake_player(tmp_path / "bin", "mpv", log)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _make_log(db, admin, make_user("Manager", name="Bob Agent"), recording=str(recording))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        await pilot.press("p")  # the newest call has no recording
        await wait_until(pilot, lambda: "This call has no recording." in _notices(app))
        app.screen.query_one("#calls-table").move_cursor(row=3)
        await pilot.press("p")
        await wait_until(pilot, lambda: log.exists() and log.read_text().strip() != "")
        cached = cache_path(str(recording))
        assert log.read_text().splitlines()[-1] == str(cached)  # the player got the cached copy
        assert cached.read_bytes() == b"RIFF-fake-audio"
        assert cached.parent == Path(tmp_path / "cache" / "recordings")
        await wait_until(pilot, lambda: any(n.startswith("Playing with mpv") for n in _notices(app)))


async def test_without_a_player_the_path_of_the_recording_is_shown(db, admin, make_user, make_app, tmp_path, monkeypatch):
    recording = tmp_path / "call-2.wav"
    recording.write_bytes(b"RIFF-two")
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    _make_log(db, admin, make_user("Manager", name="Bob Agent"), recording=recording.as_uri())
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        app.screen.query_one("#calls-table").move_cursor(row=3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallDetailScreen" and app.screen.record is not None)
        await pilot.press("p")
        cached = cache_path(recording.as_uri())
        await wait_until(pilot, lambda: any("No audio player found" in n for n in _notices(app)))
        notice = next(n for n in _notices(app) if "No audio player found" in n)
        assert "ffplay, mpv, paplay, aplay" in notice and str(cached) in notice
        assert cached.read_bytes() == b"RIFF-two"


async def test_pages_and_the_dashboard_preset(db, admin, make_user, make_app):
    bob = make_user("Manager", name="Bob Agent")
    with db.write() as s:
        for i in range(55):
            calls.log_call(
                s, None, direction="inbound", their_number="+34612345678", agent_id=(admin if i % 5 else bob).id,
                started_at=T0 + timedelta(minutes=i), outcome="no_answer",
            )
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_calls(pilot, app)
        assert len(_shown_ids(app)) == 50
        assert str(app.screen.query_one("#calls-status").render()).startswith("1–50 of 55")
        app.screen.query_one("#calls-table").move_cursor(row=49)
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: len(_shown_ids(app)) == 5)
        assert _shown_ids(app) == _db_ids(db, admin)[50:]
        app.screen.apply_preset("mine")  # the dashboard's "My calls"
        await wait_until(pilot, lambda: str(app.screen.query_one("#calls-status").render()).startswith("1–44 of 44"))
