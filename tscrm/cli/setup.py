"""``tscrm init`` (the setup assistant) and ``tscrm demo`` (a database full of believable data)."""

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    print_json,
    print_ok,
    state_of,
    stdin_is_terminal,
)
from tscrm.core.errors import Conflict
from tscrm.i18n import _, current_language

if TYPE_CHECKING:
    from tscrm.core.db import Database


def _ask(value: str | None, option: str, question: str) -> str:
    """An option's value; asked for in a terminal, else a clear error naming the option."""
    if value is not None and value.strip():
        return value
    if not stdin_is_terminal():
        raise fail(_("Missing option {option} ({what}). Pass it, or run in a terminal to be asked.").format(option=option, what=question), option)
    return typer.prompt(question)


def init(
    ctx: typer.Context,
    company: Annotated[str | None, typer.Option("--company", help=_("Company name."))] = None,
    admin_name: Annotated[str | None, typer.Option("--admin-name", help=_("Name of the first administrator."))] = None,
    admin_email: Annotated[str | None, typer.Option("--admin-email", help=_("Email of the first administrator."))] = None,
    extension: Annotated[str | None, typer.Option("--extension", help=_("The administrator's phone extension, e.g. 100."))] = None,
    currency: Annotated[str, typer.Option("--currency", help=_("Base currency (ISO 4217)."))] = "EUR",
    region: Annotated[str | None, typer.Option("--region", help=_("Default country of phone numbers, e.g. ES."))] = None,
    timezone: Annotated[str, typer.Option("--timezone", help=_("Time zone of the company and the admin, e.g. Europe/Madrid."))] = "UTC",
    password: Annotated[bool, typer.Option("--password", help=_("Ask for a password for the administrator."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Set up a new database: tables, the company and its first administrator."""
    company_name = _ask(company, "--company", _("Company name"))
    name = _ask(admin_name, "--admin-name", _("Administrator's name"))
    email = _ask(admin_email, "--admin-email", _("Administrator's email"))
    ext = _ask(extension, "--extension", _("Administrator's extension"))
    secret = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True) if password else None

    from tscrm.core.services import company as company_service

    state = state_of(ctx)
    database = state.database(check=False)
    backup = database.upgrade()
    with database.write() as session:
        row, admin = company_service.setup(
            session,
            company_name=company_name,
            admin_name=name,
            admin_email=email,
            extension=ext,
            currency=currency,
            region=region,
            timezone=timezone,
            password=secret,
            language=state.lang_option or current_language(),
        )
    result = {
        "database": database.display_url(),
        "backup": str(backup) if backup else None,
        "company": {"id": row.id, "name": row.name, "currency": row.base_currency, "region": row.default_region, "timezone": row.timezone},
        "admin": {"id": admin.id, "name": admin.name, "email": admin.email, "extension": admin.extension},
    }
    if as_json:
        print_json(result, timezone)
        return
    if backup:
        console().print(_("Backup of the previous file: {path}").format(path=backup))
    print_ok(_("{company} is set up in {db}.").format(company=row.name, db=database.display_url()))
    console().print(_("Administrator: {name} <{email}>, extension {ext}.").format(name=admin.name, email=admin.email, ext=admin.extension))
    console().print(_("Next: `tscrm clients add NAME`, or `tscrm` to open the app."))


def demo(
    ctx: typer.Context,
    size: Annotated[int, typer.Option("--size", min=1, max=1_000_000, help=_("Roughly how many clients to create."))] = 2000,
    seed: Annotated[int, typer.Option("--seed", help=_("Random seed: the same seed gives the same data."))] = 7,
    reset: Annotated[bool, typer.Option("--reset", help=_("Replace a non-empty database (SQLite files only)."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Fill a database with demo data (company, team, clients, leads, deals, tasks, calls)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tscrm.core import demo as demo_data

    state = state_of(ctx)
    database = state.database(check=False)
    if _has_data(database):
        if not reset:
            raise Conflict(
                _("The database {db} is not empty; use --reset to replace it with demo data.").format(db=database.display_url())
            )
        database = _reset(state, database)
    database.upgrade(backup=False)

    if as_json:
        summary = demo_data.generate(database, size=size, seed=seed)
        print_json({"database": database.display_url(), "summary": _summary_dict(summary)})
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console(), transient=True
    ) as progress:
        bars: dict[str, Any] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in bars:
                bars[step] = progress.add_task(step, total=total)
            progress.update(bars[step], completed=done, total=total)

        summary = demo_data.generate(database, size=size, seed=seed, progress=report)
    print_ok(_("Demo data created in {db}.").format(db=database.display_url()))
    labels = {
        "users": _("Users"),
        "clients": _("Clients"),
        "leads_pool": _("Leads in the pool"),
        "leads_owned": _("Leads of agents"),
        "deals": _("Deals"),
        "tasks": _("Tasks"),
        "calls": _("Calls"),
        "activities": _("Feed entries"),
        "admin_email": _("Administrator"),
    }
    for key, value in _summary_dict(summary).items():
        console().print(f"  {labels.get(key, key)}: {value}", markup=False)


def _has_data(database: "Database") -> bool:
    """Whether the database holds anything worth keeping (a company or a user)."""
    from sqlalchemy import inspect, text

    with database.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        for table in ("company", "app_user"):
            if table in tables and conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None:
                return True
    return False


def _reset(state: Any, database: "Database") -> "Database":
    """Delete a SQLite file (and its journal files); refuse on PostgreSQL, where that is the DBA's call."""
    path = database.sqlite_path
    if path is None:
        raise Conflict(
            _("--reset only deletes SQLite files; empty the database {db} yourself (e.g. DROP and CREATE it).").format(
                db=database.display_url()
            )
        )
    state.forget_database()
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return state.database(check=False)


def _summary_dict(summary: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        return dataclasses.asdict(summary)
    if isinstance(summary, dict):
        return summary
    return {"summary": str(summary)}
