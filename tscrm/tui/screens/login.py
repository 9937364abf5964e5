"""Log in to a shared database: email and password, checked by core (argon2)."""

from __future__ import annotations

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, Static

from tscrm.core.db import Database
from tscrm.core.errors import TscrmError
from tscrm.core.permissions import Actor
from tscrm.i18n import _


class LoginApp(App[Actor | None]):
    CSS = """
    Screen { align: center middle; }
    #login { width: 60; height: auto; border: thick $accent; padding: 1 2; }
    #login-error { color: $error; height: auto; }
    """

    def __init__(self, db: Database, email: str | None = None) -> None:
        super().__init__()
        self.db = db
        self.email = email or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="login"):
            yield Static(_("Log in to tscrm"), classes="title")
            yield Input(value=self.email, placeholder=_("Email"), id="email")
            yield Input(placeholder=_("Password"), password=True, id="password")
            yield Static("", id="login-error")
            yield Button(_("Log in"), variant="primary", id="submit")

    def on_mount(self) -> None:
        self.query_one("#password" if self.email else "#email", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        from tscrm.core.services import users

        email = self.query_one("#email", Input).value
        password = self.query_one("#password", Input).value
        try:
            with self.db.read() as session:
                actor = users.authenticate(session, email, password)
        except TscrmError as exc:
            self.query_one("#login-error", Static).update(str(exc))
            self.query_one("#password", Input).value = ""
            return
        self.exit(actor)


def ask_login(db: Database, email: str | None = None) -> Actor | None:
    return LoginApp(db, email).run()
