"""``tscrm db``: bring the schema up to date, and say where it stands."""

import typer

from tscrm.cli.common import JsonOption, console, print_json, print_ok, state_of
from tscrm.i18n import _

app = typer.Typer(help=_("Database schema: upgrade, status."), no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Migrate the schema to this version of tscrm (a SQLite file is backed up first)."""
    from tscrm.core.db import SCHEMA_HEAD

    database = state_of(ctx).database(check=False)
    before = database.current_revision()
    backup = database.upgrade()
    after = database.current_revision()
    if as_json:
        print_json({"database": database.display_url(), "from": before, "to": after, "head": SCHEMA_HEAD, "backup": str(backup) if backup else None})
        return
    if backup:
        console().print(_("Backup: {path}").format(path=backup))
    if before == after:
        print_ok(_("The schema of {db} is up to date ({rev}).").format(db=database.display_url(), rev=after))
    else:
        print_ok(_("The schema of {db} went from {old} to {new}.").format(db=database.display_url(), old=before or _("(empty)"), new=after))


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the schema revision of the database and the one this tscrm needs."""
    from tscrm.core.db import SCHEMA_HEAD

    database = state_of(ctx).database(check=False)
    current = database.current_revision()
    up_to_date = current == SCHEMA_HEAD
    if as_json:
        print_json({"database": database.display_url(), "current": current, "head": SCHEMA_HEAD, "up_to_date": up_to_date})
        return
    console().print(_("Database: {db}").format(db=database.display_url()))
    console().print(_("Current revision: {rev}").format(rev=current or _("(none: not set up)")))
    console().print(_("Head revision: {rev}").format(rev=SCHEMA_HEAD))
    if up_to_date:
        print_ok(_("Up to date."))
        return
    from rich.markup import escape

    from tscrm.core.errors import SchemaOutOfDate

    try:
        database.check_schema()
    except SchemaOutOfDate as exc:  # its message says what to run
        console().print(f"[yellow]{escape(str(exc))}[/yellow]")
