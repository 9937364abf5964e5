"""The Analytics section: per-agent tables and charts for a period, the keys, and the rights."""

from __future__ import annotations

from test_analytics import NOW, team  # noqa: F401  (the March 2026 data and its fixture)

from .conftest import wait_until

SIZE = (150, 45)


def _app(make_app, actor):
    app = make_app(actor, watch_changes=False)
    app.clock = lambda: NOW
    return app


def _rows(app, table_id: str) -> dict[str, tuple[str, ...]]:
    """The rows of one table by their first cell ({} while another screen shows)."""
    if type(app.screen).__name__ != "AnalyticsScreen" or not app.screen.query(f"#{table_id}"):
        return {}
    table = app.screen.query_one(f"#{table_id}")
    rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
    return {row[0]: row[1:] for row in rows}


def _text(app, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}").render())


async def test_figures_per_agent_and_the_keys(team, make_app):  # noqa: F811
    admin, _bob, _carl, _ivan = team
    app = _app(make_app, admin)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await wait_until(pilot, lambda: "Bob Boss" in _rows(app, "calls-table"))
        calls = _rows(app, "calls-table")
        assert list(calls) == ["Ana Admin", "Bob Boss", "Carl Caller", "Ivan Intern", "(nobody)", "Total"]
        assert calls["Bob Boss"] == ("5", "3", "2", "3", "1", "1", "3:31", "1:10")
        assert calls["Total"][:2] == ("10", "4")
        assert "This month (1 Mar 2026 – 31 Mar 2026)" in _text(app, "analytics-bar")
        assert _rows(app, "deals-table")["Total"] == ("5", "2", "€1,420.00", "1", "66.7 %", "€710.00")
        assert _rows(app, "funnel-table")["in progress"] == ("1", "€1,840.00")
        assert _rows(app, "sources-table") == {"Web": ("2",), "Fair": ("1",), "(no source)": ("1",), "Total": ("4",)}
        assert _rows(app, "tasks-table")["Bob Boss"] == ("3", "1", "1")

        await pilot.press("a", "a")  # everybody -> Ana -> Bob
        await wait_until(pilot, lambda: list(_rows(app, "calls-table")) == ["Bob Boss", "Total"])
        assert "Agent: Bob Boss" in _text(app, "analytics-bar")
        assert _rows(app, "calls-table")["Total"][0] == "5"

        await pilot.press("p")  # this month -> last 30 days (17 Feb - 18 Mar)
        await wait_until(pilot, lambda: "Last 30 days (17 Feb 2026 – 18 Mar 2026)" in _text(app, "analytics-bar"))
        await wait_until(pilot, lambda: _rows(app, "calls-table").get("Total", ("",))[0] == "6")  # 28 Feb 23:59 too

        await pilot.press("right_square_bracket")
        assert app.screen.query_one("#analytics-tabs").active == "tab-deals"


async def test_custom_period_from_the_dialog(team, make_app):  # noqa: F811
    admin = team[0]
    app = _app(make_app, admin)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await wait_until(pilot, lambda: "Total" in _rows(app, "calls-table"))
        await pilot.press("c")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "PeriodDialog")
        app.screen.query_one("#period-from").value = "2026-03-05"
        app.screen.query_one("#period-to").value = "2026-03-01"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "PeriodDialog"  # refused: the end is before the start
        assert "before" in _text(app, "period-error")
        app.screen.query_one("#period-to").value = "2026-03-06"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Custom (5 Mar 2026 – 6 Mar 2026)" in _text(app, "analytics-bar"))
        await wait_until(pilot, lambda: _rows(app, "calls-table").get("Total", ("",))[0] == "3")


async def test_only_ones_own_figures_without_the_right_to_see_all(team, make_app):  # noqa: F811
    carl = team[2]
    app = _app(make_app, carl)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await wait_until(pilot, lambda: "Total" in _rows(app, "calls-table"))
        assert list(_rows(app, "calls-table")) == ["Carl Caller", "Total"]
        await pilot.press("a")
        await pilot.pause(0.1)
        assert any("only your own figures" in str(n.message) for n in app._notifications)


async def test_without_the_right_it_says_so(team, make_app):  # noqa: F811
    ivan = team[3]
    app = _app(make_app, ivan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AnalyticsScreen")
        assert "do not have the right to see analytics" in _text(app, "analytics-note")
        assert not app.screen.query("#analytics-tabs")
        await pilot.press("p", "a", "c")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "AnalyticsScreen"
