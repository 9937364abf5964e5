"""``tscrm deals``: open deals for clients, list them, move them through the pipeline."""

from typing import Annotated, Literal

import typer
from rich.text import Text

from tscrm.cli.clients import print_feed
from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    format_money,
    new_table,
    print_json,
    print_ok,
    reading,
    show_time,
    text,
    user_id_by_email,
    writing,
)
from tscrm.cli.labels import DEAL_STATUSES, label
from tscrm.cli.records import deal_records, feed_records
from tscrm.i18n import _

app = typer.Typer(help=_("Deals: add, list, show, move through the pipeline, board."), no_args_is_help=True)

# tscrm.core.models.DealStatus, in pipeline order; a test keeps the two equal.
Status = Literal["new", "in_progress", "decision_pending", "payment_expected", "won", "cancelled"]
DealId = Annotated[int, typer.Argument(metavar="ID", help=_("Deal id."))]


@app.command("add")
def add_deal(
    ctx: typer.Context,
    client_id: Annotated[int, typer.Option("--client", metavar="ID", help=_("The client the deal is for."))],
    title: Annotated[str, typer.Option("--title", help=_("What is being sold."))],
    amount: Annotated[str, typer.Option("--amount", help=_("Amount, e.g. 1200.50."))] = "0",
    currency: Annotated[str | None, typer.Option("--currency", help=_("Currency (default: the company's base currency)."))] = None,
    status: Annotated[Status, typer.Option("--status", help=_("Pipeline stage."))] = "new",
    owner: Annotated[str | None, typer.Option("--owner", help=_("Responsible user (email or extension); default: you."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a deal for a client."""
    from tscrm.core.services import deals

    value = deals.parse_amount(amount, "--amount")
    with writing(ctx) as (session, actor):
        owner_id = user_id_by_email(session, owner) if owner else -1
        deal = deals.create_deal(
            session, actor, client_id=client_id, title=title, amount=value, currency=currency, status=status, owner_id=owner_id
        )
        record = deal_records(session, [deal])[0]
    if as_json:
        print_json(record, actor.timezone)
    else:
        print_ok(
            _("Deal {id} added for {client}: {title}, {amount}").format(
                id=deal.id, client=record["client"], title=deal.title, amount=format_money(deal.amount, deal.currency)
            )
        )


SortChoice = Literal["created", "amount", "title", "status", "closed"]


@app.command("list")
def list_deals(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", help=_("Only deals in this stage ({choices}). Repeatable.").format(choices=", ".join(DEAL_STATUSES)))
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help=_("Only deals you are responsible for."))] = False,
    client_id: Annotated[int | None, typer.Option("--client", metavar="ID", help=_("Only deals of this client."))] = None,
    sort: Annotated[SortChoice, typer.Option("--sort", help=_("Order of the list (created, amount, closed: biggest or newest first)."))] = "created",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=_("At most this many rows."))] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many rows first."))] = 0,
    as_json: JsonOption = False,
) -> None:
    """List deals you may see."""
    from tscrm.core.services import deals

    for value in status or ():
        if value not in DEAL_STATUSES:
            raise fail(_("--status: {value!r} is not one of {choices}").format(value=value, choices=", ".join(DEAL_STATUSES)), "--status")
    filt = deals.DealFilter(mine=mine, client_id=client_id, statuses=tuple(deals.parse_status(s) for s in status or ()))
    with reading(ctx) as (session, actor):
        rows = deals.list_deals(session, actor, filt, sort=sort, descending=sort in ("created", "amount", "closed"), limit=limit, offset=offset)
        total = deals.count_deals(session, actor, filt)
        records = deal_records(session, rows)
    if as_json:
        print_json({"total": total, "offset": offset, "limit": limit, "deals": records}, actor.timezone)
        return
    table = new_table(
        _("Deals ({shown} of {total})").format(shown=len(records), total=total),
        [_("ID"), _("Title"), _("Client"), _("Amount"), _("Status"), _("Responsible"), _("Added")],
        keep_whole=[_("ID"), _("Amount"), _("Added")],
        right=[_("Amount")],
    )
    for r in records:
        table.add_row(
            str(r["id"]),
            text(r["title"]),
            text(r["client"]),
            text(format_money(r["amount"], r["currency"])),
            text(label(DEAL_STATUSES, r["status"])),
            text(r["owner"]),
            show_time(r["created_at"], actor.timezone),
        )
    console().print(table)


@app.command("show")
def show_deal(ctx: typer.Context, deal_id: DealId, as_json: JsonOption = False) -> None:
    """Show a deal and its feed."""
    from tscrm.core.services import activity, deals

    with reading(ctx) as (session, actor):
        record = deal_records(session, [deals.get_deal(session, actor, deal_id)])[0]
        record["feed"] = feed_records(session, activity.feed(session, deal_id=deal_id))
    if as_json:
        print_json(record, actor.timezone)
        return
    console().print(
        _("Deal {id}: {title} — {client} — {amount} — {status} — {owner}").format(
            id=record["id"],
            title=record["title"],
            client=record["client"],
            amount=format_money(record["amount"], record["currency"]),
            status=label(DEAL_STATUSES, record["status"]),
            owner=record["owner"] or "",
        ),
        markup=False,
    )
    print_feed(record["feed"], actor.timezone)


@app.command("move")
def move_deal(
    ctx: typer.Context,
    deal_id: DealId,
    status: Annotated[Status, typer.Argument(help=_("The new pipeline stage."))],
    as_json: JsonOption = False,
) -> None:
    """Move a deal to another pipeline stage (won and cancelled close it)."""
    from tscrm.core.services import deals

    with writing(ctx) as (session, actor):
        record = deal_records(session, [deals.move_deal(session, actor, deal_id, status)])[0]
    if as_json:
        print_json(record, actor.timezone)
    else:
        print_ok(_("Deal {id} is now {status}.").format(id=deal_id, status=label(DEAL_STATUSES, status)))


@app.command("board")
def board(
    ctx: typer.Context,
    mine: Annotated[bool, typer.Option("--mine", help=_("Only deals you are responsible for."))] = False,
    cards: Annotated[int, typer.Option("--cards", min=0, max=200, help=_("Newest deals shown per stage (0: totals only)."))] = 5,
    as_json: JsonOption = False,
) -> None:
    """The pipeline as a kanban: each stage with its count, its total in the base currency and its newest deals."""
    from rich.table import Table

    from tscrm.core.services import company, deals

    with reading(ctx) as (session, actor):
        columns = deals.board(session, actor, deals.DealFilter(mine=mine), per_column=cards)
        base = company.get_company(session).base_currency
        records = {r["id"]: r for r in deal_records(session, [d for c in columns for d in c.deals])}
    stages = [
        {
            "status": c.status.value,
            "count": c.count,
            "total": c.total_base,
            "currency": base,
            "unconverted": c.unconverted,
            "deals": [records[d.id] for d in c.deals],
        }
        for c in columns
    ]
    if as_json:
        print_json({"currency": base, "stages": stages}, actor.timezone)
        return
    table = Table(title=_("Pipeline"), show_lines=True, expand=True)
    for s in stages:
        header = Text(label(DEAL_STATUSES, s["status"]), style="bold")
        header.append(f"\n{s['count']} · {format_money(s['total'], base)}", style="")
        for code, amount in sorted(s["unconverted"].items()):
            header.append("\n+ " + _("{amount} (no rate)").format(amount=format_money(amount, code)), style="yellow")
        table.add_column(header, ratio=1, overflow="fold")
    for i in range(max((len(s["deals"]) for s in stages), default=0)):
        table.add_row(*(_board_card(s["deals"][i]) if i < len(s["deals"]) else Text("") for s in stages))
    hidden = [s["count"] - len(s["deals"]) for s in stages]
    if cards and any(hidden):
        table.add_row(*(Text(_("+{n} more").format(n=n) if n else "", style="dim") for n in hidden))
    console().print(table)


def _board_card(record: dict) -> Text:
    card = Text(record["title"], style="bold")
    card.append("\n" + (record["client"] or ""), style="dim")
    card.append("\n" + format_money(record["amount"], record["currency"]), style="cyan")
    return card
