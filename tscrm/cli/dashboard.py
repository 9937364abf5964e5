"""``tscrm dashboard``: the seven dashboard widgets as panels (also what plain ``tscrm`` prints without the app)."""

import dataclasses
import typer
from rich.columns import Columns
from rich.panel import Panel
from rich.table import Table

from tscrm.cli.common import JsonOption, console, print_json, reading, text
from tscrm.i18n import _


def show_dashboard(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Today and this week at a glance: clients, leads, tasks, calls."""
    from tscrm.core.services import dashboard
    from tscrm.core.services.company import get_company

    with reading(ctx) as (session, actor):
        counters = dashboard.counters(session, actor)
        company_name = get_company(session).name
    values = dataclasses.asdict(counters)
    if as_json:
        print_json({"user": actor.email, "company": company_name, "counters": values})
        return
    panels = [_panel(title, rows, colour) for title, rows, colour in widgets(values)]
    console().print(_("{company} — {user}").format(company=company_name, user=actor.name), markup=False, style="bold")
    console().print(Columns(panels, equal=True, expand=False))


def widgets(c: dict[str, int]) -> list[tuple[str, list[tuple[str, str]], str]]:
    """The seven widgets: a title, its lines (label, figure), and a border colour (attention in red/yellow)."""
    return [
        (
            _("Clients"),
            [(_("Total"), str(c["clients_total"])), (_("New this week"), str(c["clients_new_week"])), (_("New today"), str(c["clients_new_today"]))],
            "blue",
        ),
        (
            _("Leads"),
            [(_("Mine (open)"), str(c["my_leads"])), (_("New today"), str(c["leads_new_today"])), (_("New this week"), str(c["leads_new_week"]))],
            "blue",
        ),
        (_("Pool"), [(_("Unprocessed"), str(c["pool_unprocessed"]))], "yellow" if c["pool_unprocessed"] else "blue"),
        (_("Tasks this week"), [(_("Done"), f"{c['tasks_done_week']} / {c['tasks_week']}")], "blue"),
        (
            _("My tasks"),
            [(_("Open"), str(c["my_open_tasks"])), (_("Overdue"), str(c["my_overdue_tasks"]))],
            "red" if c["my_overdue_tasks"] else "blue",
        ),
        (_("Calls today"), [(_("Inbound"), str(c["calls_in_today"])), (_("Outbound"), str(c["calls_out_today"]))], "blue"),
        (_("Calls this week"), [(_("Inbound"), str(c["calls_in_week"])), (_("Outbound"), str(c["calls_out_week"]))], "blue"),
    ]


def _panel(title: str, rows: list[tuple[str, str]], colour: str) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right", style="bold")
    for label, figure in rows:
        grid.add_row(text(label), text(figure))
    return Panel(grid, title=text(title), border_style=colour, width=30)
