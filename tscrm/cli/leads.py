"""``tscrm leads``: add leads (one's own or to the pool), claim, close, release."""

from typing import Annotated, Any, Literal

import typer

from tscrm.cli.clients import EmailOpt, FieldOpt, PhoneOpt, TagOpt, print_contact, print_feed
from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    new_table,
    parse_fields,
    print_json,
    print_ok,
    reading,
    show_time,
    text,
    writing,
)
from tscrm.cli.labels import LEAD_STATUSES, label
from tscrm.cli.records import contact_records, feed_records, first_phone
from tscrm.i18n import _

app = typer.Typer(help=_("Leads and the shared pool: add, list, claim, close, release."), no_args_is_help=True)

LeadId = Annotated[int, typer.Argument(metavar="ID", help=_("Lead id."))]


def _utm_option(name: str) -> object:
    return typer.Option(f"--utm-{name}", help=_("UTM {name} of the campaign the lead came from.").format(name=name))


@app.command("add")
def add_lead(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The lead's name."))],
    pool: Annotated[bool, typer.Option("--pool", help=_("Put it in the shared pool instead of your leads."))] = False,
    phone: PhoneOpt = None,
    email: EmailOpt = None,
    tag: TagOpt = None,
    company: Annotated[str | None, typer.Option("--company", help=_("Company the lead works for."))] = None,
    position: Annotated[str | None, typer.Option("--position", help=_("Position in that company."))] = None,
    address: Annotated[str | None, typer.Option("--address", help=_("Postal address."))] = None,
    source: Annotated[str | None, typer.Option("--source", help=_("Where the lead came from."))] = None,
    utm_source: Annotated[str | None, _utm_option("source")] = None,
    utm_medium: Annotated[str | None, _utm_option("medium")] = None,
    utm_campaign: Annotated[str | None, _utm_option("campaign")] = None,
    utm_term: Annotated[str | None, _utm_option("term")] = None,
    utm_content: Annotated[str | None, _utm_option("content")] = None,
    field: FieldOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Add a lead: yours (in progress), or with --pool unowned and unprocessed."""
    from tscrm.core.services import contacts, leads

    utm = {
        key: value
        for key, value in (
            ("utm_source", utm_source),
            ("utm_medium", utm_medium),
            ("utm_campaign", utm_campaign),
            ("utm_term", utm_term),
            ("utm_content", utm_content),
        )
        if value
    }
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
        lead = leads.create_lead(session, actor, data, to_pool=pool, utm=utm)
        record = contact_records(session, "lead", [lead])[0]
    if as_json:
        print_json(record, actor.timezone)
    elif pool:
        print_ok(_("Lead {id} added to the pool: {name}").format(id=lead.id, name=lead.name))
    else:
        print_ok(_("Lead {id} added to your leads: {name}").format(id=lead.id, name=lead.name))


@app.command("list")
def list_leads(
    ctx: typer.Context,
    pool: Annotated[bool, typer.Option("--pool", help=_("Leads in the shared pool."))] = False,
    mine: Annotated[bool, typer.Option("--mine", help=_("Your leads (the default)."))] = False,
    all_: Annotated[bool, typer.Option("--all", help=_("Every open lead you may see."))] = False,
    closed: Annotated[bool, typer.Option("--closed", help=_("Also closed leads (finished, bad quality)."))] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=_("At most this many rows."))] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many rows first."))] = 0,
    as_json: JsonOption = False,
) -> None:
    """List open leads: yours, the pool's, or all you may see."""
    from tscrm.core.services import leads

    if pool + mine + all_ > 1:
        raise fail(_("Choose one of --pool, --mine, --all."), "--pool")
    scope: Literal["mine", "pool", "all"] = "pool" if pool else "all" if all_ else "mine"
    with reading(ctx) as (session, actor):
        filt = leads.LeadFilter(scope=scope, statuses=() if closed else leads.OPEN_STATUSES)
        rows = leads.list_leads(session, actor, filt, limit=limit, offset=offset)
        total = leads.count_leads(session, actor, filt)
        records = contact_records(session, "lead", rows)
    if as_json:
        print_json({"scope": scope, "total": total, "offset": offset, "limit": limit, "leads": records}, actor.timezone)
        return
    titles = {"mine": _("My leads"), "pool": _("Pool"), "all": _("Leads")}
    table = new_table(
        _("{title} ({shown} of {total})").format(title=titles[scope], shown=len(records), total=total),
        [_("ID"), _("Name"), _("Company"), _("Phone"), _("Status"), _("Responsible"), _("Added")],
        keep_whole=[_("ID"), _("Phone"), _("Added")],
    )
    for r in records:
        table.add_row(
            str(r["id"]),
            text(r["name"]),
            text(r["company"]),
            text(first_phone(r)),
            text(label(LEAD_STATUSES, r["status"])),
            text(r["owner"] or _("(pool)")),
            show_time(r["created_at"], actor.timezone),
        )
    console().print(table)


@app.command("show")
def show_lead(ctx: typer.Context, lead_id: LeadId, as_json: JsonOption = False) -> None:
    """Show a lead's contact data and feed."""
    from tscrm.core.services import activity, leads

    with reading(ctx) as (session, actor):
        lead = leads.get_lead(session, actor, lead_id)
        record = contact_records(session, "lead", [lead])[0]
        record["feed"] = feed_records(session, activity.feed(session, lead_id=lead_id))
    if as_json:
        print_json(record, actor.timezone)
        return
    print_contact(record, actor.timezone, title=_("Lead {id}").format(id=record["id"]))
    print_feed(record["feed"], actor.timezone)


def _lead_json(lead: Any) -> dict[str, Any]:
    return {"id": lead.id, "name": lead.name, "status": lead.status.value, "owner_id": lead.owner_id, "client_id": lead.client_id}


@app.command("claim")
def claim(
    ctx: typer.Context,
    lead_id: Annotated[int | None, typer.Argument(metavar="[ID]", help=_("Lead id (or use --next)."))] = None,
    next_: Annotated[bool, typer.Option("--next", help=_("Take the oldest unprocessed lead of the pool."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Take a lead from the pool. If someone was faster, says who."""
    from tscrm.core.services import leads

    if (lead_id is None) == (not next_):
        raise fail(_("Give a lead ID or --next (not both)."), "ID")
    with writing(ctx) as (session, actor):
        lead = leads.claim_next(session, actor) if next_ else leads.claim_lead(session, actor, lead_id)  # type: ignore[arg-type]
        result = _lead_json(lead) if lead is not None else None
    if as_json:
        print_json({"claimed": result})
    elif result is None:
        console().print(_("The pool is empty: no lead to claim."))
    else:
        print_ok(_("Lead {id} is yours: {name}").format(id=result["id"], name=result["name"]))


@app.command("close")
def close(
    ctx: typer.Context,
    lead_id: LeadId,
    as_client: Annotated[bool, typer.Option("--as-client", help=_("Finished: turn the lead into a client."))] = False,
    bad: Annotated[bool, typer.Option("--bad", help=_("Bad quality: gone from lists, still counted in analytics."))] = False,
    reason: Annotated[str, typer.Option("--reason", help=_("Why it is bad quality (goes into the feed)."))] = "",
    as_json: JsonOption = False,
) -> None:
    """Close a lead: --as-client (a client is created) or --bad."""
    from tscrm.core.services import leads

    if as_client == bad:
        raise fail(_("Choose one of --as-client or --bad."), "--as-client")
    if reason and not bad:
        raise fail(_("--reason goes with --bad."), "--reason")
    with writing(ctx) as (session, actor):
        if as_client:
            client = leads.close_as_client(session, actor, lead_id)
            result = {"lead_id": lead_id, "status": "finished", "client_id": client.id}
        else:
            lead = leads.close_as_bad(session, actor, lead_id, reason)
            result = {"lead_id": lead_id, "status": lead.status.value, "client_id": None}
    if as_json:
        print_json(result)
    elif as_client:
        print_ok(_("Lead {id} closed: client {client} created.").format(id=lead_id, client=result["client_id"]))
    else:
        print_ok(_("Lead {id} closed as bad quality.").format(id=lead_id))


OpenStatus = Literal["unprocessed", "in_progress"]


@app.command("status")
def set_status(
    ctx: typer.Context,
    lead_id: LeadId,
    status: Annotated[OpenStatus, typer.Argument(help=_("New status (to close a lead use `tscrm leads close`)."))],
    as_json: JsonOption = False,
) -> None:
    """Mark a lead unprocessed or in progress."""
    from tscrm.core.models import LeadStatus
    from tscrm.core.services import leads

    with writing(ctx) as (session, actor):
        lead = leads.set_status(session, actor, lead_id, LeadStatus(status))
        result = _lead_json(lead)
    if as_json:
        print_json(result)
    else:
        print_ok(_("Lead {id} is now {status}.").format(id=lead_id, status=label(LEAD_STATUSES, status)))


@app.command("release")
def release(ctx: typer.Context, lead_id: LeadId, as_json: JsonOption = False) -> None:
    """Give a lead back to the pool."""
    from tscrm.core.services import leads

    with writing(ctx) as (session, actor):
        result = _lead_json(leads.release_lead(session, actor, lead_id))
    if as_json:
        print_json(result)
    else:
        print_ok(_("Lead {id} is back in the pool.").format(id=lead_id))
