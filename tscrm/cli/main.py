"""The ``tscrm`` command: global options, the command groups, and what plain ``tscrm`` does."""

import sys
from typing import Annotated, Literal

import typer

from tscrm.i18n import _, set_language


def _language_for_help(argv: list[str]) -> str:
    """The language to write the help in, known before any option is parsed: --lang, else config.toml."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    from tscrm.core.config import load_settings
    from tscrm.core.errors import ConfigError

    try:
        return load_settings().language or "en"
    except (ConfigError, OSError):  # a broken config.toml is reported by the command that reads it
        return "en"


# Help texts are translated when the command modules are imported, so pick the language first.
set_language(_language_for_help(sys.argv[1:]))

from tscrm.cli import calendar, dashboard, setup  # noqa: E402
from tscrm.cli.common import CliGroup, CliState, stdin_is_terminal  # noqa: E402

Language = Literal["en", "es", "fr"]  # tscrm.i18n.LANGUAGES; a test keeps the two equal

app = typer.Typer(
    cls=CliGroup,
    name="tscrm",
    help=_("tscrm: a CRM and agent desk for call centres, in the terminal. Without a command it opens the app."),
    invoke_without_command=True,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)
app.command("init")(setup.init)
app.command("demo")(setup.demo)
app.command("dashboard")(dashboard.show_dashboard)
app.add_typer(calendar.app, name="calendar")
from tscrm.cli import serve as serve_cli  # noqa: E402  (light: fastapi and uvicorn load only when it runs)

app.command("serve")(serve_cli.serve)
# The command groups (see tscrm.cli.lazy): each module is imported only when its group runs.


def _print_version(value: bool) -> None:
    if value:
        from tscrm import __version__

        typer.echo(f"tscrm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help=_("Database: sqlite:///PATH or postgresql://USER@HOST/DB (else TSCRM_DATABASE_URL, config.toml, the default file)."),
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="EMAIL", help=_("Act as this user (else TSCRM_USER, config.toml, the only admin).")),
    ] = None,
    lang: Annotated[Language | None, typer.Option("--lang", help=_("Interface language (else the user's own)."))] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help=_("Print the version and exit."))
    ] = False,
) -> None:
    ctx.obj = CliState(db_option=db_url, user_option=user, lang_option=lang)
    if lang:
        set_language(lang)
    if ctx.invoked_subcommand is None:
        open_app(ctx)


def open_app(ctx: typer.Context) -> None:
    """Plain ``tscrm``: the full-screen app in a terminal, else (piped, or no app yet) the dashboard."""
    state: CliState = ctx.obj
    database = state.database()
    if interactive_terminal():
        try:
            from tscrm.tui.app import run_app
        except ModuleNotFoundError as exc:
            if exc.name not in ("tscrm.tui", "tscrm.tui.app"):
                raise  # the app exists but something it needs is missing: say so
        else:
            with database.read() as session:
                actor = state.actor(session)
            run_app(database, actor)
            return
    dashboard.show_dashboard(ctx, as_json=False)


def interactive_terminal() -> bool:
    """Both ends are a terminal: a person is there to use the full-screen app."""
    return stdin_is_terminal() and sys.stdout.isatty()


def run() -> None:
    """Entry point of the ``tscrm`` console script and of ``python -m tscrm``."""
    from tscrm.cli.fast_help import defer_rich_extras_for_help

    defer_rich_extras_for_help(sys.argv[1:])
    app()
