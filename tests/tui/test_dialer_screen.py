"""The Dialer screen and its live panel, driven by the pilot in virtual time against the scripted far
end of the engine tests (tests/dialer/conftest.py): outcomes, pause / resume / skip / stop, the
counters, interrupted calls of an earlier run, and the ways to open the screen."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from tests.dialer.conftest import Peer, ScriptedCallBackend
from tscrm.core.models import Task, TaskType
from tscrm.core.models_dialer import CallListEntry, DialOutcome, EntryState
from tscrm.core.services import dialer
from tscrm.telephony.dialer import VirtualClock
from tscrm.tui.screens.dialer import DialerScreen
from tscrm.tui.widgets.dialer_panel import DialerPanel, current_run

from .conftest import wait_until

SIZE = (140, 45)
NUMBERS = ["+34612345600", "+34612345601", "+34612345602"]


def make_list(db, actor, numbers=NUMBERS, name="Spring campaign"):
    with db.write() as s:
        text = "\n".join(f"{n},Person {i}" for i, n in enumerate(numbers))
        return dialer.create_list(s, actor, name=name, numbers_text=text).list.id


def entries_of(db, list_id):
    with db.read() as s:
        return {e.number: e for e in s.exec(select(CallListEntry).where(CallListEntry.list_id == list_id))}


def panel_text(app) -> str:
    panel = app.screen.query_one(DialerPanel)
    return "\n".join(str(part.render()) for part in panel.query("Static"))


def key_bar(app) -> str:
    from tscrm.tui.widgets.key_bar import KeyBar

    return str(app.screen.query_one(KeyBar).render())


def phase(app) -> str | None:
    run = current_run(app)
    return run.phase if run is not None else None


async def advance(clock: VirtualClock, seconds: float) -> None:
    """Move the far end's time on a thread of its own, as real backend threads would call in."""
    await asyncio.to_thread(clock.advance, seconds)


def phone_app(make_app, actor, backend):
    return make_app(actor, watch_changes=False)


async def open_dialer(pilot, app, backend, clock):
    await wait_until(pilot, lambda: app.phone.status != "off")  # the test company has no telephony settings
    app.phone.backend = backend  # the app's phone line: the dialer uses it rather than a second one
    app.push_screen(DialerScreen(clock=clock))
    await wait_until(pilot, lambda: isinstance(app.screen, DialerScreen) and app.screen.query_one("#dialer-lists").row_count >= 1)
    return app.screen


async def test_a_list_of_three_runs_through_the_screen_answered_busy_and_no_answer(db, admin, make_app):
    clock = VirtualClock()
    list_id = make_list(db, admin)
    backend = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("answer", 2, talk_s=30), NUMBERS[1]: Peer("busy", 3)})  # the third never answers
    app = phone_app(make_app, admin, backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialer(pilot, app, backend, clock)
        assert "Spring campaign" in str(screen.query_one("#dialer-lists").get_row_at(0))
        await pilot.press("enter")
        await wait_until(pilot, lambda: phase(app) == "ringing")
        assert backend.dialled == [NUMBERS[0]]
        await wait_until(pilot, lambda: "Person 0" in panel_text(app) and "ringing" in panel_text(app))

        await advance(clock, 2)
        await wait_until(pilot, lambda: phase(app) == "talking")
        await advance(clock, 10)
        await wait_until(pilot, lambda: "talking 0:10" in panel_text(app))
        await advance(clock, 20)  # the far end hangs up: the outcome keys
        await wait_until(pilot, lambda: phase(app) == "wrap_up")
        assert "i interested" in panel_text(app)
        await wait_until(pilot, lambda: "Interested" in key_bar(app) and "Skip" not in key_bar(app))
        await pilot.press("i")
        await wait_until(pilot, lambda: phase(app) == "waiting")
        await wait_until(pilot, lambda: "Skip" in key_bar(app) and "Interested" not in key_bar(app))
        await wait_until(pilot, lambda: "next call in 5 s" in panel_text(app))
        assert "Person 1" in panel_text(app)
        assert backend.dialled == [NUMBERS[0]]  # the gap first

        await advance(clock, 5)
        await wait_until(pilot, lambda: phase(app) == "ringing" and backend.dialled == NUMBERS[:2])
        await advance(clock, 3)  # busy
        await wait_until(pilot, lambda: phase(app) == "waiting")
        await advance(clock, 5)
        await wait_until(pilot, lambda: phase(app) == "ringing" and backend.dialled == NUMBERS)
        await advance(clock, 30)  # the ring timeout
        await wait_until(pilot, lambda: phase(app) == "finished")

        text = panel_text(app)
        for shown in ("dialled 3", "answered 1", "no answer 1", "busy 1", "talk time 0:30", "interested (0:30)", "finished"):
            assert shown in text, shown
        assert "stopped" not in text
        await wait_until(pilot, lambda: "3" in str(screen.query_one("#dialer-lists").get_row_at(0)[3]))  # the list's progress
    rows = entries_of(db, list_id)
    assert [rows[n].outcome for n in NUMBERS] == [DialOutcome.INTERESTED, DialOutcome.BUSY, DialOutcome.NO_ANSWER]
    assert all(rows[n].state == EntryState.DONE for n in NUMBERS)


async def test_pause_resume_skip_and_stop_from_the_keys(db, admin, make_app):
    clock = VirtualClock()
    list_id = make_list(db, admin, NUMBERS + ["+34612345603"])
    backend = ScriptedCallBackend(clock)  # nobody answers
    app = phone_app(make_app, admin, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialer(pilot, app, backend, clock)
        await pilot.press("enter")
        await wait_until(pilot, lambda: phase(app) == "ringing")
        await pilot.press("s")  # skip the ringing call: cancelled, the next after the gap
        await wait_until(pilot, lambda: phase(app) == "waiting")
        assert backend.hung_up == ["call-1"]
        await pilot.press("p")
        await wait_until(pilot, lambda: phase(app) == "paused")
        assert "Paused before:" in panel_text(app) and "Person 1" in panel_text(app)
        await advance(clock, 60)  # paused: nothing is dialled however long it waits
        assert backend.dialled == [NUMBERS[0]]
        await pilot.press("r")
        await wait_until(pilot, lambda: phase(app) == "waiting")
        await pilot.press("s")  # skip the entry about to be dialled
        await wait_until(pilot, lambda: phase(app) == "waiting" and current_run(app).state.next_entry.number == NUMBERS[2])
        await wait_until(pilot, lambda: "skipped by the agent" in panel_text(app))
        await advance(clock, 5)
        await wait_until(pilot, lambda: phase(app) == "ringing" and backend.dialled == [NUMBERS[0], NUMBERS[2]])
        await pilot.press("x")
        await wait_until(pilot, lambda: phase(app) == "stopped")
        text = panel_text(app)
        assert "dialled 2" in text and "skipped 1" in text
        await advance(clock, 120)
        assert backend.dialled == [NUMBERS[0], NUMBERS[2]]  # stopped means stopped
    rows = entries_of(db, list_id)
    assert rows[NUMBERS[0]].outcome == DialOutcome.CANCELLED
    assert rows[NUMBERS[1]].state == EntryState.SKIPPED and rows[NUMBERS[1]].skip_reason == dialer.SKIP_BY_AGENT
    assert rows[NUMBERS[2]].outcome == DialOutcome.CANCELLED
    assert rows["+34612345603"].state == EntryState.PENDING  # left for another day


async def test_call_back_later_asks_the_time_in_the_users_zone_and_makes_a_task(db, admin, make_app):
    clock = VirtualClock()  # Monday 5 January 2026, 09:00 UTC = 10:00 in Madrid
    list_id = make_list(db, admin, NUMBERS[:1])
    backend = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("answer", 1, talk_s=5)})
    app = phone_app(make_app, admin, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialer(pilot, app, backend, clock)
        await pilot.press("enter")
        await wait_until(pilot, lambda: phase(app) == "ringing")
        await advance(clock, 6)
        await wait_until(pilot, lambda: phase(app) == "wrap_up")
        await pilot.press("c")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallbackDialog")
        when = app.screen.query_one("#callback-when")
        assert when.value == "2026-01-06 10:00"  # tomorrow at 10, the agent's time
        when.value = "16:30"  # today, Madrid time
        await pilot.press("tab", *"after lunch", "enter")
        await wait_until(pilot, lambda: phase(app) == "finished")
    with db.read() as s:
        task = s.exec(select(Task)).one()
        assert task.type == TaskType.CALL and task.description == "after lunch"
        assert task.due_at.isoformat().startswith("2026-01-05T15:30")  # 16:30 Madrid = 15:30 UTC
    assert entries_of(db, list_id)[NUMBERS[0]].outcome == DialOutcome.CALL_BACK


async def test_interrupted_calls_of_an_earlier_run_are_asked_about_and_can_be_called_again(db, admin, make_app):
    clock = VirtualClock()
    list_id = make_list(db, admin, NUMBERS[:2])
    with db.write() as s:  # an earlier run died while dialling the first number
        claim = dialer.claim_next(s, admin, list_id, "dead-run", now=clock.now())
        assert dialer.mark_dialling(s, claim.entry.id, "dead-run", now=clock.now())
    backend = ScriptedCallBackend(clock)
    app = phone_app(make_app, admin, backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialer(pilot, app, backend, clock)
        assert str(screen.query_one("#dialer-lists").get_row_at(0)[5]) == "1"  # shown as interrupted
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ChoiceDialog")
        assert "Person 0" in str(app.screen.query_one(".dialog-title").render())
        assert backend.dialled == [NUMBERS[1]]  # never re-dialled without asking
        await pilot.press("enter")  # "Call them again"
        await wait_until(pilot, lambda: entries_of(db, list_id)[NUMBERS[0]].state == EntryState.PENDING)
        await advance(clock, 30)  # the second number times out; the requeued one follows
        await advance(clock, 5)
        await wait_until(pilot, lambda: backend.dialled == [NUMBERS[1], NUMBERS[0]])


async def test_the_dialer_opens_from_calls_with_D_and_from_a_list_less_start(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_section("calls")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallsScreen")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, DialerScreen))
        await wait_until(pilot, lambda: "No call list yet" in str(app.screen.query_one("#dialer-lists-hint").render()))
        assert "No call list running" in panel_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CallsScreen")


async def test_no_phone_configured_is_said_and_nothing_starts(db, admin, make_app):
    make_list(db, admin)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "not_configured")
        app.push_screen(DialerScreen(clock=VirtualClock()))
        await wait_until(pilot, lambda: isinstance(app.screen, DialerScreen) and app.screen.query_one("#dialer-lists").row_count == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert current_run(app) is None


async def test_add_to_call_list_from_clients_reports_what_was_left_out_and_opens_the_dialer(db, admin, make_app):
    from tscrm.core.services import clients
    from tscrm.core.services.clients import new_contact

    with db.write() as s:
        clients.create_client(s, admin, new_contact("Ana Two Phones", ["+34612000101", "+34612000102"]))
        clients.create_client(s, admin, new_contact("Bea Flagged", ["+34612000201"]))
        clients.create_client(s, admin, new_contact("Ciro Nophone"))
        dialer.set_do_not_call(s, admin, "+34612000201")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current_mode == "clients" and len(app.screen.query_one("#clients-table").page_rows) == 3)
        await pilot.press("ctrl+a", "b")
        await wait_until(pilot, lambda: app.screen.id == "bulk-menu")
        menu = app.screen.query_one("#choice-list")
        menu.highlighted = [menu.get_option_at_index(i).id for i in range(menu.option_count)].index("call_list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.id == "call-list-dialog" and app.screen.ready)
        dialog = app.screen
        dialog.query_one("#call-list-name").value = "Renewals"
        await pilot.click("#call-list-all-phones")  # every phone of each client
        assert dialog.query_one("#call-list-all-phones").value is True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: dialog.created is not None)
        report = str(dialog.query_one("#call-list-report-text").render())
        assert "Call list 'Renewals' created: 2 number(s) to call." in report
        assert "on the do-not-call list" in report and "Left out (1)" in report
        assert "Without a phone (1): Ciro Nophone" in report
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DialerScreen) and app.screen.query_one("#dialer-lists").row_count == 1)
        assert "Renewals" in str(app.screen.query_one("#dialer-lists").get_row_at(0))
    with db.read() as s:
        call_list = dialer.get_list(s, admin, "Renewals")
        assert [(e.number, e.state) for e in dialer.entries(s, call_list.id)] == [
            ("+34612000101", EntryState.PENDING),
            ("+34612000102", EntryState.PENDING),
            ("+34612000201", EntryState.SKIPPED),
        ]


async def test_add_to_call_list_from_leads_takes_the_highlighted_lead(db, admin, make_app):
    from tscrm.core.services import leads
    from tscrm.core.services.clients import new_contact

    with db.write() as s:
        leads.create_lead(s, admin, new_contact("Lola Lead", ["+34612000301"]))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await wait_until(pilot, lambda: app.current_mode == "leads" and app.screen.query_one("#leads-table").row_count == 1)
        await pilot.press("b")
        await wait_until(pilot, lambda: app.screen.id == "call-list-menu")
        await pilot.press("enter")  # the highlighted lead
        await wait_until(pilot, lambda: app.screen.id == "call-list-dialog")
        app.screen.query_one("#call-list-name").value = "Hot leads"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.created is not None)
        assert "1 number(s) to call" in str(app.screen.query_one("#call-list-report-text").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "leads" and app.screen.id == "screen-leads")
    with db.read() as s:
        entries = dialer.entries(s, dialer.get_list(s, admin, "Hot leads").id)
        assert [(e.number, e.name, e.lead_id is not None) for e in entries] == [("+34612000301", "Lola Lead", True)]


async def test_the_run_goes_on_after_leaving_the_screen_and_a_compact_panel_elsewhere_shows_and_drives_it(db, admin, make_app):
    clock = VirtualClock()
    make_list(db, admin)
    backend = ScriptedCallBackend(clock)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialer(pilot, app, backend, clock)
        await pilot.press("enter")
        await wait_until(pilot, lambda: phase(app) == "ringing")
        old_table = app.screen.query_one("#dialer-lists")
        app.switch_language("es")  # the screen is rebuilt in Spanish: the new widgets show the same run
        await wait_until(
            pilot, lambda: app.screen.query_one("#dialer-lists") is not old_table and app.screen.query_one("#dialer-lists").row_count == 1
        )
        await wait_until(pilot, lambda: "Person 0" in panel_text(app))
        app.switch_language("en")
        await wait_until(pilot, lambda: "ringing" in panel_text(app) and "Person 0" in panel_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DialerScreen))
        await wait_until(pilot, lambda: "keeps running" in " ".join(str(n.message) for n in app._notifications))
        await advance(clock, 30)  # nobody answers: the next call comes without the screen
        await wait_until(pilot, lambda: phase(app) == "waiting")

        compact = DialerPanel(compact=True, id="tab-panel")  # as the call widget's Dialer tab embeds it
        await app.screen.mount(compact)
        await wait_until(pilot, lambda: "no answer 1" in "\n".join(str(p.render()) for p in compact.query("Static")))
        compact.focus()
        await pilot.press("x")
        await wait_until(pilot, lambda: phase(app) == "stopped")
        assert backend.dialled == [NUMBERS[0]]


async def test_a_backend_that_cannot_call_pauses_the_dialer_and_says_why(db, admin, make_app):
    clock = VirtualClock()
    make_list(db, admin, NUMBERS + ["+34612345603"])
    backend = ScriptedCallBackend(clock, default=Peer("refuse"))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialer(pilot, app, backend, clock)
        await pilot.press("enter")
        await wait_until(pilot, lambda: phase(app) == "waiting")
        await advance(clock, 5)
        await advance(clock, 5)  # the third failure in a row: the engine stops trying
        await wait_until(pilot, lambda: phase(app) == "paused")
        await wait_until(pilot, lambda: "Dialer paused: cannot call" in " ".join(str(n.message) for n in app._notifications))
        assert "cannot call" in panel_text(app) and "failed 3" in panel_text(app)
        assert "Resume" in key_bar(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: phase(app) == "waiting")
        await advance(clock, 5)
        await wait_until(pilot, lambda: len(backend.dialled) == 4)


async def test_the_palette_entries_open_the_dialer_and_the_bulk_sms_to_a_tag(db, admin, make_app):
    from tscrm.tui.screens.bulk_sms import sms_commands
    from tscrm.tui.screens.dialer import dialer_commands

    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        [dialer_command] = list(dialer_commands(app))
        assert dialer_command.title == "Dialer"
        dialer_command.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, DialerScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DialerScreen))
        [sms_command] = list(sms_commands(app))
        sms_command.callback()
        await wait_until(pilot, lambda: app.screen.id == "text-dialog")
