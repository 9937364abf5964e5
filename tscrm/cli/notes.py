"""``tscrm notes``: free text in the feed of a client, lead or deal."""

from typing import Annotated

import typer

from tscrm.cli.common import JsonOption, fail, print_json, print_ok, writing
from tscrm.i18n import _

app = typer.Typer(help=_("Notes in the feed of a client, lead or deal."), no_args_is_help=True)


@app.command("add")
def add_note(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help=_("The note."))],
    client_id: Annotated[int | None, typer.Option("--client", metavar="ID", help=_("On this client's feed."))] = None,
    lead_id: Annotated[int | None, typer.Option("--lead", metavar="ID", help=_("On this lead's feed."))] = None,
    deal_id: Annotated[int | None, typer.Option("--deal", metavar="ID", help=_("On this deal's feed."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a note to one client, lead or deal."""
    from tscrm.core.services import activity, notes

    targets = [t for t in (client_id, lead_id, deal_id) if t is not None]
    if len(targets) != 1:
        raise fail(_("Give exactly one of --client, --lead, --deal."), "--client")
    with writing(ctx) as (session, actor):
        entry = notes.add_note(session, actor, text, client_id=client_id, lead_id=lead_id, deal_id=deal_id)
        result = {"id": entry.id, "client_id": entry.client_id, "lead_id": entry.lead_id, "deal_id": entry.deal_id, "text": activity.display_text(entry), "at": entry.created_at}
    if as_json:
        print_json(result, actor.timezone)
    else:
        print_ok(_("Note {id} added.").format(id=entry.id))
