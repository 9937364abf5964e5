"""``tscrm team``: who works here, how to reach them, and who is online (the Team section's twin)."""

from typing import TYPE_CHECKING, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    new_table,
    print_json,
    reading,
    show_time,
    text,
)
from tscrm.i18n import _
from tscrm.present import presence_text  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from tscrm.core.services.users import TeamMember

app = typer.Typer(help=_("Team: colleagues, extensions, working hours, presence."), no_args_is_help=True)


def member_records(members: "list[TeamMember]") -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "name": m.name,
            "email": m.email,
            "extension": m.extension,
            "phone": m.phone,
            "group": m.group,
            "timezone": m.timezone,
            "working_hours": {day: list(span) for day, span in m.working_hours.items()},
            "online": m.online,
            "last_seen_at": m.last_seen_at,
        }
        for m in members
    ]




@app.command("list")
def list_team(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List everyone with extension, email, phone, group, working hours and presence (online = seen in the last 60 s)."""
    from tscrm.core.services.users import team_members, working_hours_text
    from tscrm.core.types import utcnow

    with reading(ctx) as (session, actor):
        members = team_members(session, utcnow())
    if as_json:
        print_json(member_records(members), actor.timezone)
        return
    headers = [_("Name"), _("Ext."), _("Email"), _("Phone"), _("Group"), _("Working hours"), _("Time zone"), _("Status"), _("Last seen")]
    table = new_table(
        _("Team ({n}, {online} online)").format(n=len(members), online=sum(m.online for m in members)),
        headers,
        keep_whole=[_("Ext."), _("Email"), _("Phone"), _("Status"), _("Last seen")],
    )
    for m in members:
        status = presence_text(m.online)
        table.add_row(
            text(m.name),
            text(m.extension),
            text(m.email),
            text(m.phone),
            text(_(m.group)),
            text(working_hours_text(m.working_hours)),
            text(m.timezone),
            f"[green]{status}[/green]" if m.online else f"[dim]{status}[/dim]",
            show_time(m.last_seen_at, actor.timezone),
        )
    console().print(table)
