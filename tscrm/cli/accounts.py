"""What ``tscrm mail accounts`` and ``tscrm calendar accounts`` (and their ``sync``) share.

``service`` is an account service module (tscrm.core.services.mail_accounts or calendar_accounts):
it has ``get_account``, ``list_accounts``, ``account_password`` and ``remove_account``.
"""

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tscrm.cli.common import console, print_error, print_json, reading, state_of, writing

if TYPE_CHECKING:
    from tscrm.core.db import Database


def account_to_check(ctx: typer.Context, service: ModuleType, account_id: int) -> tuple[Any, str]:
    """The actor's account (detached from the session) and its password, to log in with."""
    with reading(ctx) as (session, actor):
        account = service.get_account(session, actor, account_id)
        password = service.account_password(session, account)
        session.expunge(account)
    return account, password


def print_check(results: Sequence[Any], what: str, as_json: bool, failed_exit_code: int) -> None:
    """The results of a check (``what`` names their step or server), one line each; exit with
    ``failed_exit_code`` when one failed."""
    if as_json:
        print_json([{what: getattr(r, what), "ok": r.ok, "detail": r.detail} for r in results])
    else:
        out = console()
        for r in results:
            mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
            out.print(f"{mark} {escape(getattr(r, what))}: {escape(r.detail)}", soft_wrap=True)
    if not all(r.ok for r in results):
        raise typer.Exit(failed_exit_code)


def remove_account(ctx: typer.Context, service: ModuleType, account_id: int) -> str:
    """Remove the actor's account; its name (for the message)."""
    with writing(ctx) as (session, actor):
        name = service.get_account(session, actor, account_id).name
        service.remove_account(session, actor, account_id)
    return name


def accounts_to_sync(ctx: typer.Context, service: ModuleType, account: list[int] | None) -> tuple["Database", list[int], str]:
    """The database, the accounts a sync takes (those named, else the actor's active ones) and the
    actor's time zone."""
    state = state_of(ctx)
    db = state.database()
    with db.read() as session:
        actor = state.actor(session)
        if account:
            ids = [service.get_account(session, actor, a).id for a in account]
        else:
            ids = [a.id for a in service.list_accounts(session, actor) if a.active]
        tz = actor.timezone
    return db, ids, tz


def print_sync_errors(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each failed sync's error on stderr; the failed records."""
    failed = [r for r in records if not r["ok"]]
    for r in failed:
        print_error(r["error"] or "")
    return failed
