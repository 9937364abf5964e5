"""What every command shares: the global state (database, acting user), parsing, output, errors.

Start-up matters (``tscrm --help`` should take well under 150 ms), so this module and every
command module import only typer, rich, the standard library and the light parts of tscrm
(config, errors, i18n). SQLModel, the models and the services are imported inside the functions
that use them. The command modules also do without ``from __future__ import annotations``: typer
reads every parameter's annotation when it builds the commands, and evaluating string annotations
costs more than the whole of our own imports.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from tscrm.core.errors import TscrmError, ValidationError
from tscrm.present import format_money, get_zone, parse_time, show_time, user_names  # noqa: F401  (re-exported)
from tscrm.i18n import _, set_language

if TYPE_CHECKING:
    from sqlmodel import Session

    from tscrm.core.db import Database
    from tscrm.core.permissions import Actor

# Exit code when the database itself cannot be reached or used (not a domain error).
DATABASE_EXIT_CODE = 1

JsonOption = Annotated[bool, typer.Option("--json", help=_("Print JSON only (for scripts)."))]


# --- the state the root callback sets up --------------------------------------------------------


@dataclass
class CliState:
    """The global options of one invocation, and the database opened for it (at most one)."""

    db_option: str | None = None
    user_option: str | None = None
    lang_option: str | None = None
    _database: Database | None = None

    def database_url(self) -> str:
        from tscrm.core.config import resolve_database_url

        return resolve_database_url(self.db_option)

    def database(self, *, check: bool = True) -> Database:
        """The database of this run; ``check`` refuses a schema that is not the expected one."""
        if self._database is None:
            from tscrm.core.db import Database

            self._database = Database(self.database_url())
        if check:
            self._database.check_schema()
        return self._database

    def forget_database(self) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None

    def who(self) -> str | None:
        """The user named by --user, TSCRM_USER or config.toml; None means "the only admin"."""
        if self.user_option:
            return self.user_option
        if os.environ.get("TSCRM_USER"):
            return os.environ["TSCRM_USER"]
        from tscrm.core.config import load_settings

        return load_settings().user

    def actor(self, session: Session) -> Actor:
        from tscrm.core.services.users import resolve_actor

        actor = resolve_actor(session, self.who())
        if not self.lang_option:
            set_language(actor.language)
        return actor


def state_of(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


@contextmanager
def writing(ctx: typer.Context) -> Iterator[tuple[Session, Actor]]:
    """A write session (committed at the end) and the acting user, after the schema check."""
    state = state_of(ctx)
    with state.database().write() as session:
        yield session, state.actor(session)


@contextmanager
def reading(ctx: typer.Context) -> Iterator[tuple[Session, Actor]]:
    state = state_of(ctx)
    with state.database().read() as session:
        yield session, state.actor(session)


# --- errors -----------------------------------------------------------------------------------


class CliGroup(TyperGroup):
    """The root command: turns domain and database errors into a red message and an exit code.

    It also lists the lazily loaded command groups of tscrm.cli.lazy.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from tscrm.cli.lazy import add_lazy_groups

        add_lazy_groups(self)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TscrmError as exc:
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # the reader went away (``tscrm ... | head``); typer handles that quietly
            print_error(str(exc))  # permissions, a full disk, a missing directory: not a bug of ours
            raise typer.Exit(1) from None
        except Exception as exc:
            message = database_error_message(exc, ctx)
            if message is None:
                raise
            print_error(message)
            raise typer.Exit(DATABASE_EXIT_CODE) from None
        finally:
            state = ctx.obj
            if isinstance(state, CliState):
                state.forget_database()


def database_error_message(exc: Exception, ctx: typer.Context) -> str | None:
    """A one-line message for a database that cannot be reached or used; None for other errors."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    lines = str(exc.orig or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    state = ctx.obj if isinstance(ctx.obj, CliState) else None
    where = state._database.display_url() if state is not None and state._database is not None else "?"
    return _("Database error ({db}): {reason}").format(db=where, reason=reason)


def fail(message: str, field: str | None = None) -> ValidationError:
    """A usage mistake the parser cannot catch (exit code 2). Raise what this returns."""
    return ValidationError(message, field)


# --- output -----------------------------------------------------------------------------------


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_error(message: str) -> None:
    Console(stderr=True, highlight=False).print(f"[red]{escape(message)}[/red]", soft_wrap=True)


def print_ok(message: str) -> None:
    console().print(f"[green]{escape(message)}[/green]", soft_wrap=True)


def print_json(data: Any, tz: str = "UTC") -> None:
    """Machine-readable output: Decimal as string, datetimes ISO 8601 with the user's offset."""
    zone = get_zone(tz)

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return value.astimezone(zone).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, (set, frozenset, tuple)):
            return list(value)
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    typer.echo(json.dumps(_plain(data), ensure_ascii=False, indent=2, default=default))


def _plain(value: Any) -> Any:
    # StrEnum members are str subclasses; json would print them fine, but make the values explicit.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def new_table(title: str, headers: list[str], *, keep_whole: Iterable[str] = (), right: Iterable[str] = ()) -> Table:
    """A listing table; ``keep_whole`` columns (ids, times, phones) are never wrapped."""
    table = Table(title=title)
    whole, to_right = set(keep_whole), set(right)
    for header in headers:
        table.add_column(header, no_wrap=header in whole, justify="right" if header in to_right else "left")
    return table


def text(value: Any) -> str:
    """A cell for a rich table: empty for None, markup escaped."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return escape(str(value.value))
    return escape(str(value))




# --- times ------------------------------------------------------------------------------------






def parse_day(raw: str | None, tz: str, option: str) -> datetime | None:
    """The start of a day typed as YYYY-MM-DD, in the user's zone, as UTC."""
    if raw is None or not raw.strip():
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise fail(_("{option}: {value!r} is not a date like 2026-12-01").format(option=option, value=raw), option) from None
    from tscrm.core.timeutil import local_midnight

    return local_midnight(day, get_zone(tz))


# --- other parsing ----------------------------------------------------------------------------


def parse_fields(values: Iterable[str] | None, option: str = "--field") -> dict[str, str]:
    """Repeated ``key=value`` options; an empty value clears the field when editing."""
    out: dict[str, str] = {}
    for raw in values or ():
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise fail(_("{option}: {value!r} should look like key=value").format(option=option, value=raw), option)
        out[key.strip()] = value.strip()
    return out


def user_id_by_email(session: Session, email: str | None) -> int | None:
    """The id of the user named by email or extension (``--owner``, ``--assignee``)."""
    if email is None:
        return None
    from tscrm.core.services.users import find_user

    return find_user(session, email).id




def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
