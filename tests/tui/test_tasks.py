"""The tasks section: the kanban by time, the list with its filters, and the four types of task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from tscrm.core.models import Task
from tscrm.core.services import tasks
from tscrm.core.services.clients import create_client, new_contact
from tscrm.tui.messages import OpenSection

from .conftest import wait_until

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2025, 6, 11, 8, 0, tzinfo=UTC)  # Wednesday 11 June, 10:00 in Madrid


def _at(d, h, mi=0):
    return datetime(2025, 6, d, h, mi, tzinfo=MADRID)


def _add(db, actor, title, when=None, **kw):
    with db.write() as s:
        return tasks.create_task(s, actor, title=title, due_at=when, **kw).id


def _row(db, task_id) -> Task:
    with db.read() as s:
        return s.get(Task, task_id)


def _board(app) -> dict[str, list[int]]:
    found = app.screen.query("#tasks-kanban")  # none while a language switch rebuilds the screen
    return found.first().card_keys() if found else {}


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _detail(app) -> str:
    return str(app.screen.query_one("#tasks-detail").content)


def _table_titles(app) -> list[str] | None:
    found = app.screen.query("#tasks-table")  # None while a language switch rebuilds the screen
    if not found:
        return None
    table = found.first()
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def _open_tasks(app, pilot) -> None:
    await pilot.press("5")
    await wait_until(pilot, lambda: app.current_mode == "tasks" and any(_board(app).values()))


async def _focus_card(app, pilot, task_id: int) -> None:
    kanban = app.screen.query_one("#tasks-kanban")
    await wait_until(pilot, lambda: kanban.focus_card(task_id))
    await pilot.pause(0.05)


def _new_app(make_app, actor, *, watch_changes: bool = False):
    app = make_app(actor, watch_changes=watch_changes)
    app.clock = lambda: NOW
    return app


async def test_kanban_buckets_and_completed_column(db, admin, make_app):
    late = _add(db, admin, "Yesterday's", _at(10, 9))
    earlier_today = _add(db, admin, "This morning", _at(11, 9))  # already past: overdue
    today = _add(db, admin, "This afternoon", _at(11, 16))
    tomorrow = _add(db, admin, "Tomorrow", _at(12, 0, 30))
    friday = _add(db, admin, "Friday", _at(13, 9), type="call")
    sunday = _add(db, admin, "Sunday night", _at(15, 23, 30))
    next_week = _add(db, admin, "Next week", _at(16, 9), type="video")
    undated = _add(db, admin, "Someday")
    done = _add(db, admin, "Done already", _at(10, 12))
    with db.write() as s:
        tasks.complete_task(s, admin, done, at=NOW)
    app = _new_app(make_app, admin)
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        assert _board(app) == {
            "overdue": [late, earlier_today],
            "today": [today],
            "tomorrow": [tomorrow],
            "this_week": [friday, sunday],
            "later": [next_week, undated],
        }
        header = str(app.screen.query("#tasks-kanban .kanban-header").first().content)
        assert header.startswith("Overdue") and "2" in header
        await pilot.press("c")  # "completed tasks" ticked: the done column appears
        await wait_until(pilot, lambda: _board(app).get("done") == [done])
        assert app.screen.query_one("#tasks-done").value is True
        await pilot.press("c")
        await wait_until(pilot, lambda: "done" not in _board(app))


async def test_what_each_type_offers(db, admin, make_user, make_app):
    colleague = make_user("Manager", name="Carla Colleague")
    with db.write() as s:
        client = create_client(s, admin, new_contact("Bob Builder", ["+34 612 345 678"])).id
    visit = _add(db, admin, "Visit Bob", _at(11, 16), client_id=client, participant_ids=[colleague.id])
    call = _add(db, admin, "Call Bob", _at(11, 17), type="call", client_id=client)
    video = _add(db, admin, "Demo", _at(12, 11), type="video")
    sms = _add(db, admin, "Remind Bob", _at(12, 9), type="sms", sms_text="See you tomorrow", client_id=client)
    url = _row(db, video).meeting_url
    from .fake_backend import FakeBackend

    fake = FakeBackend("sip")
    app = _new_app(make_app, admin)
    app.phone.backend_factory = lambda session, user: fake
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        cards = {c.card.key: str(c.content) for c in app.screen.query("CardView")}
        assert cards[visit].startswith("• Visit Bob") and cards[call].startswith("☎ Call Bob")
        assert cards[video].startswith("▶ Demo") and cards[sms].startswith("✉ Remind Bob")

        await _focus_card(app, pilot, visit)
        assert "Participants: Carla Colleague" in _detail(app) and "Linked to: Bob Builder" in _detail(app)

        await _focus_card(app, pilot, call)
        assert "Number to dial: +34 612 34 56 78" in _detail(app)
        await pilot.press("enter")  # the call task is placed through the phone
        await wait_until(pilot, lambda: any(c[0] == "originate" for c in fake.calls))
        assert fake.calls[-1][2].endswith("612345678") and app.phone.call.name == "Bob Builder"
        app.phone.call = None  # the test's far end never answers; forget the call

        await _focus_card(app, pilot, video)
        assert url in _detail(app)
        await pilot.press("y")
        assert app.clipboard == url
        await wait_until(pilot, lambda: any(f"Meeting link copied: {url}" in n for n in _notices(app)))

        await _focus_card(app, pilot, sms)
        assert "SMS scheduled for 2025-06-12 09:00: See you tomorrow" in _detail(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("SMS scheduled for 2025-06-12 09:00" in n for n in _notices(app)))

        await _focus_card(app, pilot, visit)
        await pilot.press("enter")  # a plain task opens what it is linked to
        await wait_until(
            pilot,
            lambda: type(app.screen).__name__ == "ClientCardScreen" or "There is no card screen for client records yet." in _notices(app),
        )


async def test_list_filters_and_dashboard_presets(db, admin, make_user, make_app):
    intern = make_user("Intern", name="Ivy Intern", timezone="Europe/Madrid")
    with db.write() as s:
        client = create_client(s, admin, new_contact("Bob Builder")).id
    _add(db, admin, "Late call", _at(10, 9), type="call", client_id=client)
    _add(db, admin, "Today's visit", _at(11, 16), client_id=client)
    _add(db, admin, "Next month", datetime(2025, 7, 20, 9, tzinfo=MADRID), type="video")
    done = _add(db, admin, "Finished", _at(9, 9))
    _add(db, intern, "Ivy's own", _at(11, 12))
    with db.write() as s:
        tasks.complete_task(s, admin, done, at=NOW - timedelta(days=1))
    app = _new_app(make_app, admin)
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        app.post_message(OpenSection("tasks", "overdue"))  # what the dashboard's widget does
        await wait_until(pilot, lambda: app.screen.query_one("#tasks-table").display and _table_titles(app) == ["Late call"])
        assert app.screen.query_one("#filter-overdue").value is True

        app.post_message(OpenSection("tasks", "week"))  # this week's tasks, done ones too
        await wait_until(pilot, lambda: _table_titles(app) == ["Finished", "Late call", "Today's visit"])
        assert app.screen.query_one("#filter-from").value == "2025-06-09"
        old_table = app.screen.query_one("#tasks-table")
        app.switch_language("fr")  # every widget is rebuilt in the new language: same filters, same rows
        await wait_until(pilot, lambda: app.screen.query("#tasks-table") and app.screen.query_one("#tasks-table") is not old_table)
        await wait_until(pilot, lambda: _table_titles(app) == ["Finished", "Late call", "Today's visit"])
        assert app.screen.query_one("#filter-from").value == "2025-06-09" and app.screen.query_one("#tasks-done").value
        french_table = app.screen.query_one("#tasks-table")
        app.switch_language("en")
        await wait_until(pilot, lambda: app.screen.query("#tasks-table") and app.screen.query_one("#tasks-table") is not french_table)
        await wait_until(pilot, lambda: _table_titles(app) == ["Finished", "Late call", "Today's visit"])

        app.post_message(OpenSection("tasks", "overdue"))
        await wait_until(pilot, lambda: _table_titles(app) == ["Late call"])
        await pilot.press("space")  # done from the list
        await wait_until(pilot, lambda: _table_titles(app) == [])
        app.post_message(OpenSection("tasks", "week"))
        await wait_until(pilot, lambda: "Late call" in _table_titles(app))
        await pilot.press("d")  # the cursor is on "Finished": reopen it
        await wait_until(pilot, lambda: _row(db, done).completed_at is None)

        # type, record and due range, typed in the filter bar
        app.post_message(OpenSection("tasks", "open"))
        await wait_until(pilot, lambda: not app.screen.query_one("#tasks-table").display)
        await pilot.press("f")  # to the list's filters
        assert app.screen.focused.id == "filter-type"
        app.screen.query_one("#filter-type").value = "video"
        await wait_until(pilot, lambda: _table_titles(app) == ["Next month"])
        app.screen.query_one("#filter-type").clear()
        app.screen.query_one("#filter-link-kind").value = "client"
        app.screen.query_one("#filter-link-id").focus()
        await pilot.press(*str(client))
        await wait_until(pilot, lambda: _table_titles(app) == ["Today's visit"])  # "Late call" is done
        app.screen.query_one("#filter-link-kind").clear()
        app.screen.query_one("#filter-link-id").value = ""
        app.screen.query_one("#filter-from").focus()
        await pilot.press(*"2025-06-11")
        app.screen.query_one("#filter-to").focus()
        await pilot.press(*"2025-07-19")
        await wait_until(pilot, lambda: _table_titles(app) == ["Today's visit"])
        await pilot.press("backspace")  # "2025-07-1" is not a date: said, and left out
        await wait_until(pilot, lambda: "is not a date" in str(app.screen.query_one("#tasks-status").content))
        assert _table_titles(app) == ["Today's visit", "Next month"]

        # another user's tasks: with the right to see other calendars
        app.screen.query_one("#filter-from").value = ""
        app.screen.query_one("#filter-to").value = ""
        app.screen.query_one("#filter-assignee").value = intern.id
        await wait_until(pilot, lambda: _table_titles(app) == ["Ivy's own"])


async def test_an_intern_only_has_own_tasks(db, admin, make_user, make_app):
    intern = make_user("Intern", name="Ivy Intern", timezone="Europe/Madrid")
    mine = _add(db, intern, "Ivy's own", _at(11, 12))
    _add(db, admin, "Ana's", _at(11, 13))
    app = _new_app(make_app, intern, watch_changes=True)
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        assert _board(app)["today"] == [mine] and sum(map(len, _board(app).values())) == 1
        given = _add(db, admin, "From Ana", _at(12, 9), assignee_id=intern.id)  # someone else, meanwhile
        await wait_until(pilot, lambda: _board(app)["tomorrow"] == [given])
        await pilot.press("v")
        await wait_until(pilot, lambda: _table_titles(app) == ["Ivy's own", "From Ana"])
        assert app.screen.query_one("#filter-assignee").disabled


async def _fill_dialog(app, pilot, task_type: str, title: str, due: str, sms: str = "") -> None:
    await pilot.press("n")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
    app.screen.query_one("#task-type").value = task_type
    await pilot.pause(0.05)
    app.screen.query_one("#task-due").value = due
    if sms:
        app.screen.query_one("#task-sms").value = sms
    app.screen.query_one("#task-title").value = title
    app.screen.query_one("#task-title").focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "TasksScreen")


async def test_create_complete_and_reopen_each_type(db, admin, make_app):
    app = _new_app(make_app, admin)
    _add(db, admin, "Already there", _at(10, 9))
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        await _fill_dialog(app, pilot, "task", "Prepare offer", "2025-06-11 16:00")
        await _fill_dialog(app, pilot, "call", "Call Bob", "2025-06-12 09:30")
        await _fill_dialog(app, pilot, "video", "Demo", "2025-06-13 11:00")
        await _fill_dialog(app, pilot, "sms", "Remind Bob", "2025-06-20 09:00", sms="See you Friday")
        with db.read() as s:
            made = {t.title: t for t in s.exec(select(Task).where(Task.title != "Already there"))}
        assert {t: made[t].type.value for t in made} == {"Prepare offer": "task", "Call Bob": "call", "Demo": "video", "Remind Bob": "sms"}
        assert made["Demo"].meeting_url.startswith("https://meet.jit.si/tscrm-")
        assert made["Remind Bob"].sms_text == "See you Friday"
        assert made["Call Bob"].due_at == _at(12, 9, 30) and all(t.assignee_id == admin.id for t in made.values())
        await wait_until(
            pilot,
            lambda: _board(app)["today"] == [made["Prepare offer"].id]
            and _board(app)["tomorrow"] == [made["Call Bob"].id]
            and _board(app)["this_week"] == [made["Demo"].id]
            and _board(app)["later"] == [made["Remind Bob"].id],
        )
        for task in made.values():
            await _focus_card(app, pilot, task.id)
            await pilot.press("space")
            await wait_until(pilot, lambda t=task.id: _row(db, t).completed_at == NOW)
        await wait_until(pilot, lambda: sum(map(len, _board(app).values())) == 1)  # only "Already there" left
        await pilot.press("c")  # the done column, to reopen from it
        await wait_until(pilot, lambda: len(_board(app).get("done", [])) == 4)
        for task in made.values():
            await _focus_card(app, pilot, task.id)
            await pilot.press("d")
            await wait_until(pilot, lambda t=task.id: _row(db, t).completed_at is None and t not in _board(app)["done"])


async def test_tasks_for_others_need_the_right(db, admin, make_user, make_app):
    manager = make_user("Manager", name="Mia Manager", timezone="Europe/Madrid")
    intern = make_user("Intern", name="Ivy Intern", timezone="Europe/Madrid")
    app = _new_app(make_app, manager)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.press("5")
        await wait_until(pilot, lambda: app.current_mode == "tasks")
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        assignee = app.screen.query_one("#task-assignee")
        await wait_until(pilot, lambda: len(app.screen.users) == 3)
        assignee.value = intern.id
        app.screen.query_one("#task-due").value = "2025-06-12 10:00"
        app.screen.query_one("#task-title").focus()
        await pilot.press(*"Follow up", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TasksScreen")
    with db.read() as s:
        task = s.exec(select(Task)).one()
    assert (task.title, task.assignee_id, task.created_by_id) == ("Follow up", intern.id, manager.id)

    app = _new_app(make_app, intern)
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_tasks(app, pilot)
        assert _board(app)["tomorrow"] == [task.id]
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        assert not app.screen.query("#task-assignee")  # an intern's tasks are the intern's own
