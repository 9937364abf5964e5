"""What the filter dialogs of the Calls log and the Deals list share.

``RecordPicker``: the universal search restricted to its ``KINDS`` of record, under its own ``heading``.
``FilterDialog``: a form of filters. ctrl+s, Enter or Apply dismisses with the query ``_read``
returns (a TscrmError it raises is shown in ``#filter-error``); Clear all with ``cleared()``;
escape or Cancel with None. ``load_users`` fills the Select ``USERS_SELECT`` with every user.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tscrm.core.errors import TscrmError, ValidationError
from tscrm.i18n import N_, _
from tscrm.tui.screens.search import SearchScreen


def parse_day(raw: str, field_label: str) -> date | None:
    """A day typed as 2026-12-01 (None when empty)."""
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError(
            _("{field}: {value!r} is not a date like 2026-12-01").format(field=field_label, value=raw), field_label
        ) from None


class RecordPicker(SearchScreen):
    """The universal search, restricted to the ``KINDS`` of record: dismisses with (kind, id) or None."""

    def heading(self) -> str:
        raise NotImplementedError

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#search-title", Static).update(self.heading())


class FilterDialog(ModalScreen[Any]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "apply", N_("Apply")),
    ]
    USERS_SELECT = ""  # id of the Select of users

    def __init__(self) -> None:
        super().__init__()
        self.users: list[tuple[str, int]] = []

    def compose_buttons(self) -> ComposeResult:
        """The error line and the buttons, at the bottom of the form."""
        yield Static("", id="filter-error")
        with Horizontal(id="filter-buttons"):
            yield Button(_("Apply"), variant="primary", id="filter-apply")
            yield Button(_("Clear all"), id="filter-reset")
            yield Button(_("Cancel"), id="filter-cancel")

    def _read(self) -> Any:
        """The query the form says (raises a TscrmError on a wrong value)."""
        raise NotImplementedError

    def cleared(self) -> Any:
        """The query of Clear all."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="filter-users")
    def load_users(self) -> None:
        from tscrm.core.services import users

        ctx = self.app.ctx  # type: ignore[attr-defined]
        with ctx.db.read() as session:
            people = [(u.name, u.id) for u in users.list_users(session, active_only=False)]
        self.app.call_from_thread(self._show_users, people)

    def _show_users(self, people: list[tuple[str, int]]) -> None:
        self.users = people
        select = self.query_one(f"#{self.USERS_SELECT}", Select)
        current = select.value
        select.set_options(people)
        if current is not Select.NULL and any(uid == current for _name, uid in people):
            select.value = current

    @on(Button.Pressed, "#filter-reset")
    def _reset(self) -> None:
        self.dismiss(self.cleared())

    @on(Button.Pressed, "#filter-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#filter-apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        try:
            query = self._read()
        except TscrmError as exc:
            self.query_one("#filter-error", Static).update(str(exc))
            return
        self.dismiss(query)
