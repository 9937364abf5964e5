"""``tscrm clients``: add, list, show, edit, delete and search clients."""

from typing import Annotated, Any, Literal

import typer
from rich.panel import Panel
from rich.table import Table

from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    format_money,
    new_table,
    parse_day,
    parse_fields,
    print_json,
    print_ok,
    reading,
    show_time,
    text,
    user_id_by_email,
    writing,
)
from tscrm.cli.labels import ACTIVITY_KINDS, DEAL_STATUSES, LEAD_STATUSES, PHONE_KINDS, SEARCH_KINDS, label
from tscrm.cli.records import contact_records, deal_records, feed_records, first_phone, format_phone
from tscrm.i18n import _

app = typer.Typer(help=_("Clients: add, list, show, edit, delete, search."), no_args_is_help=True)

PhoneOpt = Annotated[
    list[str] | None,
    typer.Option("--phone", help=_("Phone number, international or in the company's region; kind:number for mobile/home/other. Repeatable.")),
]
EmailOpt = Annotated[list[str] | None, typer.Option("--email", help=_("Email address. Repeatable."))]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help=_("Tag. Repeatable."))]
FieldOpt = Annotated[list[str] | None, typer.Option("--field", help=_("Custom field as key=value. Repeatable."))]


@app.command("add")
def add_client(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The client's name."))],
    phone: PhoneOpt = None,
    email: EmailOpt = None,
    tag: TagOpt = None,
    company: Annotated[str | None, typer.Option("--company", help=_("Company the client works for."))] = None,
    position: Annotated[str | None, typer.Option("--position", help=_("Position in that company."))] = None,
    address: Annotated[str | None, typer.Option("--address", help=_("Postal address."))] = None,
    source: Annotated[str | None, typer.Option("--source", help=_("Where the client came from."))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=_("Responsible user (email or extension); default: you."))] = None,
    field: FieldOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Add a client (you are the responsible unless --owner says otherwise)."""
    from tscrm.core.services import clients, contacts

    with writing(ctx) as (session, actor):
        data = contacts.ContactInput(
            name=name,
            company_name=company,
            position=position,
            address=address,
            phones=contacts.as_phone_inputs(phone or []),
            emails=list(email or []),
            tags=list(tag or []),
            source=source,
            custom=parse_fields(field),
        )
        owner_id = user_id_by_email(session, owner) if owner else -1
        client = clients.create_client(session, actor, data, owner_id=owner_id)
        record = contact_records(session, "client", [client])[0]
    if as_json:
        print_json(record, actor.timezone)
    else:
        print_ok(_("Client {id} added: {name}").format(id=client.id, name=client.name))


SortChoice = Literal["name", "company", "created"]


@app.command("list")
def list_clients(
    ctx: typer.Context,
    mine: Annotated[bool, typer.Option("--mine", help=_("Only clients you are responsible for."))] = False,
    tag: Annotated[list[str] | None, typer.Option("--tag", help=_("Only clients with this tag (repeat: all of them)."))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=_("Only clients of this user (email or extension)."))] = None,
    source: Annotated[str | None, typer.Option("--source", help=_("Only clients from this source."))] = None,
    since: Annotated[str | None, typer.Option("--since", help=_("Only clients added on or after this day (YYYY-MM-DD)."))] = None,
    sort: Annotated[SortChoice, typer.Option("--sort", help=_("Order of the list (created: newest first)."))] = "name",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=_("At most this many rows."))] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many rows first."))] = 0,
    as_json: JsonOption = False,
) -> None:
    """List clients you may see, with filters."""
    from tscrm.core.services import clients

    with reading(ctx) as (session, actor):
        filt = clients.ClientFilter(
            mine=mine,
            owner_id=user_id_by_email(session, owner),
            tags=list(tag or []),
            source=source,
            created_from=parse_day(since, actor.timezone, "--since"),
        )
        # newest first is what people mean by "sorted by created"
        rows = clients.list_clients(session, actor, filt, sort=sort, descending=sort == "created", limit=limit, offset=offset)
        total = clients.count_clients(session, actor, filt)
        records = contact_records(session, "client", rows)
    if as_json:
        print_json({"total": total, "offset": offset, "limit": limit, "clients": records}, actor.timezone)
        return
    table = new_table(
        _("Clients ({shown} of {total})").format(shown=len(records), total=total),
        [_("ID"), _("Name"), _("Company"), _("Phone"), _("Tags"), _("Responsible"), _("Added")],
        keep_whole=[_("ID"), _("Phone"), _("Added")],
    )
    for r in records:
        table.add_row(
            str(r["id"]),
            text(r["name"]),
            text(r["company"]),
            text(first_phone(r)),
            text(", ".join(r["tags"])),
            text(r["owner"]),
            show_time(r["created_at"], actor.timezone),
        )
    console().print(table)


@app.command("show")
def show_client(
    ctx: typer.Context,
    client_id: Annotated[int, typer.Argument(metavar="ID", help=_("Client id."))],
    as_json: JsonOption = False,
) -> None:
    """Show a client's contact data and feed."""
    from tscrm.core.services import activity, clients, deals

    with reading(ctx) as (session, actor):
        client = clients.get_client(session, actor, client_id)
        record = contact_records(session, "client", [client])[0]
        record["feed"] = feed_records(session, activity.feed(session, client_id=client_id))
        record["deals"] = deal_records(session, deals.list_deals(session, actor, deals.DealFilter(client_id=client_id), limit=1000))
    if as_json:
        print_json(record, actor.timezone)
        return
    print_contact(record, actor.timezone, title=_("Client {id}").format(id=record["id"]))
    if record["deals"]:
        table = new_table(_("Deals"), [_("ID"), _("Title"), _("Amount"), _("Status")], keep_whole=[_("ID"), _("Amount")], right=[_("Amount")])
        for d in record["deals"]:
            table.add_row(str(d["id"]), text(d["title"]), format_money(d["amount"], d["currency"]), text(label(DEAL_STATUSES, d["status"])))
        console().print(table)
    print_feed(record["feed"], actor.timezone)


def print_contact(record: dict[str, Any], tz: str, *, title: str) -> None:
    """The contact card of a client or a lead."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows: list[tuple[str, Any]] = [
        (_("Name"), record["name"]),
        (_("Company"), record["company"]),
        (_("Position"), record["position"]),
        (_("Address"), record["address"]),
        (_("Status"), label(LEAD_STATUSES, record["status"]) if "status" in record else None),
        (_("Phones"), ", ".join(f"{format_phone(p['number'])} ({label(PHONE_KINDS, p['kind'])})" for p in record["phones"])),
        (_("Emails"), ", ".join(record["emails"])),
        (_("Tags"), ", ".join(record["tags"])),
        (_("Source"), record["source"]),
        (_("Responsible"), record["owner"] or _("(pool)")),
        (_("Added"), show_time(record["created_at"], tz)),
    ]
    rows += [(key, value) for key, value in record["custom"].items()]
    rows += [(key, value) for key, value in record.get("utm", {}).items()]
    for name, value in rows:
        if value not in (None, ""):
            grid.add_row(text(name), text(value))
    console().print(Panel(grid, title=text(title), title_align="left"))


def print_feed(entries: list[dict[str, Any]], tz: str) -> None:
    if not entries:
        console().print(_("No activity yet."))
        return
    table = new_table(_("Feed"), [_("When"), _("Who"), _("What"), _("Text")], keep_whole=[_("When")])
    for e in entries:
        table.add_row(show_time(e["at"], tz), text(e["author"]), text(label(ACTIVITY_KINDS, e["kind"])), text(e["text"]))
    console().print(table)


@app.command("edit")
def edit_client(
    ctx: typer.Context,
    client_id: Annotated[int, typer.Argument(metavar="ID", help=_("Client id."))],
    name: Annotated[str | None, typer.Option("--name", help=_("New name."))] = None,
    company: Annotated[str | None, typer.Option("--company", help=_("New company (empty: remove)."))] = None,
    position: Annotated[str | None, typer.Option("--position", help=_("New position (empty: remove)."))] = None,
    address: Annotated[str | None, typer.Option("--address", help=_("New address (empty: remove)."))] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", help=_("Phones: replace all of them with these. Repeatable."))] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help=_("Emails: replace all of them with these. Repeatable."))] = None,
    add_tag: Annotated[list[str] | None, typer.Option("--add-tag", help=_("Attach a tag. Repeatable."))] = None,
    remove_tag: Annotated[list[str] | None, typer.Option("--remove-tag", help=_("Detach a tag. Repeatable."))] = None,
    source: Annotated[str | None, typer.Option("--source", help=_("New source (empty: remove)."))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=_("New responsible user (email or extension)."))] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help=_("Custom field key=value (key= clears it). Repeatable."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a client. Only the options given are changed."""
    from tscrm.core.services import clients

    changes: dict[str, Any] = {}
    for key, value in (("name", name), ("company_name", company), ("position", position), ("address", address), ("source", source)):
        if value is not None:
            changes[key] = value
    if phone is not None:
        changes["phones"] = list(phone)
    if email is not None:
        changes["emails"] = list(email)
    if field:
        changes["custom"] = parse_fields(field)
    with writing(ctx) as (session, actor):
        if owner is not None:
            changes["owner_id"] = user_id_by_email(session, owner)
        if not changes and not add_tag and not remove_tag:
            raise fail(_("Nothing to change: give at least one option (see `tscrm clients edit --help`)."))
        client = clients.update_client(session, actor, client_id, **changes) if changes else clients.get_client(session, actor, client_id)
        if add_tag:
            clients.bulk_add_tags(session, actor, [client_id], list(add_tag))
        if remove_tag:
            clients.bulk_remove_tags(session, actor, [client_id], list(remove_tag))
        record = contact_records(session, "client", [client])[0]
    if as_json:
        print_json(record, actor.timezone)
    else:
        print_ok(_("Client {id} changed: {name}").format(id=client.id, name=client.name))


@app.command("delete")
def delete_client(
    ctx: typer.Context,
    client_id: Annotated[int, typer.Argument(metavar="ID", help=_("Client id."))],
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a client with its phones, deals, tasks and feed."""
    from tscrm.core.services import clients

    with writing(ctx) as (session, actor):
        client = clients.get_client(session, actor, client_id)
        if not (yes or as_json):
            question = _("Delete client {id} ({name}) and everything attached to it?").format(id=client.id, name=client.name)
            if not typer.confirm(question, default=False):
                raise typer.Abort()
        name = client.name
        clients.delete_client(session, actor, client_id)
    if as_json:
        print_json({"deleted": client_id, "name": name})
    else:
        print_ok(_("Client {id} deleted: {name}").format(id=client_id, name=name))


@app.command("search")
def search_clients(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help=_("Name, company, email, tag or phone digits."))],
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help=_("Results per page."))] = 20,
    page: Annotated[int, typer.Option("--page", min=1, help=_("Page number, from 1."))] = 1,
    as_json: JsonOption = False,
) -> None:
    """Search clients, leads and deals at once."""
    from tscrm.core import search

    with reading(ctx) as (session, actor):
        result = search.search(session, actor, query, limit=limit, offset=(page - 1) * limit)
    hits = [{"kind": h.kind, "id": h.id, "name": h.name, "score": h.score} for h in result.hits]
    if as_json:
        print_json({"query": query, "page": page, "limit": limit, "has_more": result.has_more, "hits": hits})
        return
    if not hits:
        console().print(_("Nothing found for {query!r}.").format(query=query))
        return
    table = new_table(_("Search: {query}").format(query=query), [_("Kind"), _("ID"), _("Name")], keep_whole=[_("ID")])
    for h in hits:
        table.add_row(text(label(SEARCH_KINDS, h["kind"])), str(h["id"]), text(h["name"]))
    console().print(table)
    if result.has_more:
        console().print(_("More results: --page {next}").format(next=page + 1))


# --- saved filters ----------------------------------------------------------------------------------

filters_app = typer.Typer(help=_("Saved client filters (a name for tag=vip,owner=me,...): save, list, remove."), no_args_is_help=True)
app.add_typer(filters_app, name="filters")


@filters_app.command("save")
def save_filter(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Name to give the filter."))],
    spec: Annotated[str, typer.Argument(metavar="SPEC", help=_("tag=vip,source=web,owner=me,mine,created_from=2026-01-01,field.KEY=value"))],
    as_json: JsonOption = False,
) -> None:
    """Save a client filter under a name (used by `tscrm dial --filter NAME` and `tscrm sms send --filter NAME`)."""
    from tscrm.core.services import saved_filters

    with writing(ctx) as (session, actor):
        saved_filters.save_filter(session, actor, name, spec)
    if as_json:
        print_json({"name": name, "spec": spec})
        return
    print_ok(_("Filter {name!r} saved.").format(name=name))


@filters_app.command("list")
def list_filters(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your saved client filters."""
    from tscrm.core.services import saved_filters

    with reading(ctx) as (session, actor):
        stored = saved_filters.saved_filters(session, actor)
    if as_json:
        print_json([{"name": n, "spec": s} for n, s in stored.items()])
        return
    table = new_table(_("Saved filters"), [_("Name"), _("Filter")])
    for n, s in stored.items():
        table.add_row(text(n), text(s))
    console().print(table)


@filters_app.command("remove")
def remove_filter(ctx: typer.Context, name: Annotated[str, typer.Argument(help=_("Name of the filter."))], as_json: JsonOption = False) -> None:
    """Forget a saved client filter."""
    from tscrm.core.services import saved_filters

    with writing(ctx) as (session, actor):
        saved_filters.remove_filter(session, actor, name)
    if as_json:
        print_json({"removed": name})
        return
    print_ok(_("Filter {name!r} removed.").format(name=name))
