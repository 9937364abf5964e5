"""What the Settings tabs of accounts (Email, Calendar) share: a pane with the table of the user's
accounts, a result line and add / test / remove / reload, and the dialog that adds an account.

A tab subclasses ``AccountsPane`` (mixed into a Textual container, like ``SettingsPane``) and
``NewAccountDialog``; the subclasses give the ids' prefix, the texts (marked with ``N_``, translated
where shown), the table's cells and the calls into the account service.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css
from tscrm.tui.screens.settings import SettingsPane


def account_columns(*middle: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """An accounts table's (key, label) columns: ID, Name, ``middle``, State."""
    return (("id", N_("ID")), ("name", N_("Name")), *middle, ("state", N_("State")))


def account_row(account: Any, **more: Any) -> dict[str, Any]:
    """An account's row for the pane: id, name, ``more``, and what its state is made of."""
    return {
        "id": account.id,
        "name": account.name,
        **more,
        "active": account.active,
        "last_error": account.last_error,
        "last_sync_at": account.last_sync_at,
    }


def account_bindings(*more: Binding) -> list[Binding]:
    """An accounts pane's keys: n adds, t tests, then ``more``, delete removes, r reloads."""
    return [
        Binding("n", "add", N_("Add account")),
        Binding("t", "test", N_("Test")),
        *more,
        Binding("delete", "remove", N_("Remove")),
        Binding("r", "reload", N_("Reload")),
    ]


def pane_css(prefix: str) -> str:
    """The look of an accounts pane's table and result line (the pane's class is ``Pane``)."""
    return f"""
    Pane #{prefix}-accounts {{ height: auto; max-height: 1fr; }}
    Pane #{prefix}-result {{ height: auto; padding: 1 0 0 0; }}
    """


def account_dialog_css(name: str, max_height: int) -> str:
    """The look of the dialog class ``name`` (a NewAccountDialog) with at most ``max_height`` lines of fields."""
    return dialog_css(name) + f"""
    {name} > Vertical {{ width: 90; }}
    {name} VerticalScroll {{ height: auto; max-height: {max_height}; }}
    {name} .row > .label {{ width: 18; }}
    """


def service(name: str) -> ModuleType:
    """An account service module (imported when first used: the screens start without the models)."""
    return importlib.import_module(name)


def state_cell(row: dict[str, Any]) -> Text:
    """An account's state for its table: off, its last error, synced or not synced yet."""
    if not row["active"]:
        return Text(_("off"), style="dim")
    if row["last_error"]:
        return Text(row["last_error"][:60], style="red")
    if row["last_sync_at"]:
        return Text(_("synced"), style="green")
    return Text(_("not synced yet"), style="dim")


class AccountsPane(SettingsPane):
    """The table ``#<PREFIX>-accounts`` of the user's accounts and the result line ``#<PREFIX>-result``."""

    PREFIX: ClassVar[str]
    SERVICE: ClassVar[str]  # the account service's module: remove_account
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]]
    NOTE: ClassVar[str]  # the line above the table
    EMPTY: ClassVar[str]  # the result line when there is no account
    ADDED: ClassVar[str]  # notification, {id}
    REMOVED: ClassVar[str]  # notification, {name}
    CONFIRM_REMOVE: ClassVar[str]  # question, {name}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[call-arg]
        self.rows: list[dict[str, Any]] = []

    # -- what a tab gives ------------------------------------------------------------------------

    def account_rows(self, session, actor) -> list[dict[str, Any]]:
        raise NotImplementedError

    def cells(self, row: dict[str, Any]) -> Iterable[Any]:
        """The table's cells of one row (the columns of COLUMNS)."""
        raise NotImplementedError

    def check(self, db, actor, account_id: int) -> list[tuple[bool, str]]:
        """Test the account: (ok, what happened) per step."""
        raise NotImplementedError

    def new_account_dialog(self) -> ModalScreen[int | None]:
        raise NotImplementedError

    # -- the pane --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(_(self.NOTE), classes="note")
        table: DataTable = DataTable(id=f"{self.PREFIX}-accounts", cursor_type="row", zebra_stripes=True)
        table.add_columns(*(_(label) for _key, label in self.COLUMNS))
        yield table
        yield Static("", id=f"{self.PREFIX}-result")

    @work(thread=True, exclusive=True, group="settings-accounts")
    def load(self) -> None:
        try:
            with self.ctx.db.read() as session:
                rows = self.account_rows(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.fill_table(rows, self.cells)
        if not rows:
            self._result(_(self.EMPTY), False)

    def _result(self, message: str, error: bool) -> None:
        self.query_one(f"#{self.PREFIX}-result", Static).update(Text(message, style="red" if error else ""))

    # -- actions ---------------------------------------------------------------------------------

    def action_add(self) -> None:
        def done(account_id: int | None) -> None:
            if account_id is not None:
                self.app.notify(_(self.ADDED).format(id=account_id))
                self.refresh_data()

        self.app.push_screen(self.new_account_dialog(), done)

    def action_test(self) -> None:
        row = self._current()
        if row is not None:
            self._result(_("Testing {name}…").format(name=row["name"]), False)
            self.run_check(row["id"])

    @work(thread=True, exclusive=True, group="settings-accounts-test")
    def run_check(self, account_id: int) -> None:
        try:
            results = self.check(self.ctx.db, self.ctx.actor, account_id)
        except TscrmError as exc:
            results = [(False, str(exc))]
        lines = [("✓ " if ok else "✗ ") + line for ok, line in results]
        self.app.call_from_thread(self._result, "\n".join(lines), not all(ok for ok, _line in results))

    def action_remove(self) -> None:
        row = self._current()
        if row is not None:
            self.confirm(_(self.CONFIRM_REMOVE).format(name=row["name"]), lambda: self.remove(row["id"], row["name"]))

    @work(thread=True, group="settings-accounts-write")
    def remove(self, account_id: int, name: str) -> None:
        try:
            with self.ctx.db.write() as session:
                service(self.SERVICE).remove_account(session, self.ctx.actor, account_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self.app.notify, _(self.REMOVED).format(name=name))
        self.app.call_from_thread(self.refresh_data)


class NewAccountDialog(ModalScreen[int | None]):
    """A new account: labelled fields ``#<PREFIX>-<field>``, an error line, a hint, Save and Cancel;
    saving dismisses with the new account's id."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel")), Binding("ctrl+s", "save", N_("Save"))]
    PREFIX: ClassVar[str]
    SERVICE: ClassVar[str]  # the account service's module: add_account
    HEADING: ClassVar[str]  # the dialog's title
    HINT: ClassVar[str]  # the line under the fields

    def fields(self) -> Iterable[tuple[str, str, Widget]]:
        """(key, label, widget) of each row; a row's id is ``row-<key>``."""
        raise NotImplementedError

    def more_fields(self) -> ComposeResult:
        """What follows the rows in the scrolled part (nothing by default)."""
        yield from ()

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def text(self, widget_id: str) -> str:
        """An input's value, trimmed."""
        return self.query_one(widget_id, Input).value.strip()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_(self.HEADING), classes="dialog-title")
            with VerticalScroll():
                for key, label, widget in self.fields():
                    with Horizontal(classes="row", id=f"row-{key}"):
                        yield Static(label, classes="label")
                        yield widget
                yield from self.more_fields()
            yield Static("", id=f"{self.PREFIX}-error", classes="dialog-error")
            yield Static(_(self.HINT), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id=f"{self.PREFIX}-save")
                yield Button(_("Cancel"), id=f"{self.PREFIX}-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#{self.PREFIX}-name").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.PREFIX}-cancel":
            self.dismiss(None)
        elif event.button.id == f"{self.PREFIX}-save":
            self.action_save()

    def action_save(self) -> None:
        self.save(self.values())

    @work(thread=True, exclusive=True, group="account-save")
    def save(self, values: dict[str, Any]) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.write() as session:
                account_id = service(self.SERVICE).add_account(session, ctx.actor, **values).id
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one(f"#{self.PREFIX}-error", Static).update, str(exc))
            return
        self.app.call_from_thread(self.dismiss, account_id)
