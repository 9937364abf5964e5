"""The add / edit form of a client or a lead, checked as you type.

``ContactForm(kind="client" | "lead", record_id=None, to_pool=False)`` is a modal: it loads what it
needs (the admin-defined custom fields, tag and source names for completion, the record when
editing), checks each field while it is typed (phones through core with the company's default
region, emails, custom fields), writes through the services, and dismisses with the record's id
(None: cancelled). Errors the services report land next to the field they name.

Several phones and emails: a new empty line appears as soon as the last one is filled in.
Tags are comma separated; → accepts the completion of the tag being typed.
Keys: Enter or ctrl+s saves, tab moves on, escape cancels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import Button, Input, Select, Static

from tscrm.core.errors import TscrmError, ValidationError
from tscrm.core.text import fold
from tscrm.i18n import N_, _

Kind = Literal["client", "lead"]
PHONE_KINDS = ("work", "mobile", "home", "other")
TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", N_("Name")),
    ("company_name", N_("Company")),
    ("position", N_("Position")),
    ("address", N_("Address")),
)


class TagSuggester(Suggester):
    """Completes the tag being typed (after the last comma) from the tags already in use."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names = sorted(names, key=fold)

    async def get_suggestion(self, value: str) -> str | None:
        head, _sep, last = value.rpartition(",")
        fragment = last.lstrip()
        key = fold(fragment)
        if not key:
            return None
        taken = {fold(t) for t in head.split(",")}
        for name in self.names:
            folded = fold(name)
            if folded.startswith(key) and folded != key and folded not in taken:
                return value[: len(value) - len(fragment)] + name
        return None


def split_tags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


@dataclass
class FormData:
    """What the form was opened with (edit) or loaded for completion."""

    values: dict[str, str] = field(default_factory=dict)  # name, company_name, position, address, tags, source
    phones: list[tuple[str, str]] = field(default_factory=list)  # (kind, number as shown)
    emails: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    custom_fields: list[Any] = field(default_factory=list)  # CustomField rows
    tag_names: list[str] = field(default_factory=list)
    source_names: list[str] = field(default_factory=list)


def load_form(session, actor, kind: Kind, record_id: int | None) -> FormData:
    from sqlmodel import col, select

    from tscrm.core.models import SourceLabel, Tag
    from tscrm.core.phones import format_phone
    from tscrm.core.services import contacts

    data = FormData(
        custom_fields=contacts.custom_fields(session, kind),
        tag_names=list(session.exec(select(Tag.name).order_by(col(Tag.key)))),
        source_names=list(session.exec(select(SourceLabel.name).order_by(col(SourceLabel.name)))),
    )
    if record_id is None:
        return data
    if kind == "client":
        from tscrm.core.services.clients import get_client

        record: Any = get_client(session, actor, record_id)
    else:
        from tscrm.core.services.leads import get_lead

        record = get_lead(session, actor, record_id)
    view = contacts.view(session, kind, record_id)
    data.values = {key: getattr(record, key) or "" for key, _label in TEXT_FIELDS}
    data.values["tags"] = ", ".join(view.tags)
    data.values["source"] = contacts.source_name(session, record.source_id) or ""
    data.phones = [(str(getattr(k, "value", k)), format_phone(e164)) for k, e164 in view.phones]
    data.emails = list(view.emails)
    data.custom = {k: str(v) for k, v in (record.custom or {}).items()}
    return data


class ContactForm(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
    ]
    DEFAULT_CSS = """
    ContactForm { align: center middle; }
    ContactForm > VerticalScroll { width: 90; max-width: 98%; height: auto; max-height: 96%; border: thick $accent; background: $surface; padding: 0 1; }
    ContactForm .form-title { text-style: bold; padding: 0 0 1 0; }
    ContactForm .form-section { text-style: bold; color: $text-muted; padding: 1 0 0 0; }
    ContactForm #form-phones, ContactForm #form-emails, ContactForm #form-custom { height: auto; }
    ContactForm .row { height: auto; margin: 0 0 1 0; }
    ContactForm .row > .label { width: 14; }
    ContactForm Input { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    ContactForm Input:focus { border: none; background: $primary 30%; }
    ContactForm Select { width: 1fr; height: 1; }
    ContactForm SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
    ContactForm Select:focus > SelectCurrent { background: $primary 30%; }
    ContactForm .row > .kind { width: 14; margin: 0 1 0 0; }
    ContactForm .field-note { height: auto; padding: 0 0 0 14; margin: -1 0 1 0; display: none; }
    ContactForm .field-note.bad { color: $error; display: block; }
    ContactForm .field-note.ok { color: $success; display: block; }
    ContactForm #form-error { color: $error; height: auto; }
    ContactForm .form-hint { color: $text-muted; height: auto; }
    ContactForm .form-buttons { height: auto; align-horizontal: right; }
    ContactForm .form-buttons Button { margin-left: 1; }
    """

    def __init__(self, kind: Kind = "client", record_id: int | None = None, *, to_pool: bool = False) -> None:
        super().__init__()
        self.kind: Kind = kind
        self.record_id = record_id
        self.to_pool = to_pool
        self.data: FormData | None = None
        self.ready = False  # loaded: custom fields and the record are on screen
        self.saving = False
        self._next_row = 0
        self._definitions: dict[str, Any] = {}

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    # -- layout ---------------------------------------------------------------------------------

    def _title(self) -> str:
        if self.record_id is not None:
            return _("Edit client") if self.kind == "client" else _("Edit lead")
        if self.kind == "client":
            return _("New client")
        return _("New lead in the pool (Unsorted)") if self.to_pool else _("New lead (mine)")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-box"):
            yield Static(self._title(), classes="form-title")
            for key, label in TEXT_FIELDS:
                with Horizontal(classes="row"):
                    yield Static(_(label) + (" *" if key == "name" else ""), classes="label")
                    yield Input(id=f"f-{key}")
                yield Static("", id=f"err-{key}", classes="field-note")
            yield Vertical(id="form-phones")
            yield Vertical(id="form-emails")
            with Horizontal(classes="row"):
                yield Static(_("Tags"), classes="label")
                yield Input(placeholder=_("comma separated, → completes"), id="f-tags")
            yield Static("", id="err-tags", classes="field-note")
            with Horizontal(classes="row"):
                yield Static(_("Source"), classes="label")
                yield Input(id="f-source")
            yield Static("", id="err-source", classes="field-note")
            yield Vertical(id="form-custom")
            yield Static("", id="form-error")
            region = self.ctx.region
            hint = _("Phones: +34 612 345 678, or national numbers of {region}").format(region=region) if region else _(
                "Phones in international form: +34 612 345 678 or 0034 612 345 678"
            )
            yield Static(hint + " · " + _("Enter or ctrl+s saves · escape cancels"), classes="form-hint")
            with Horizontal(classes="form-buttons"):
                yield Button(_("Save"), variant="primary", id="form-save")
                yield Button(_("Cancel"), id="form-cancel")

    def on_mount(self) -> None:
        self.query_one("#f-name", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, group="contact-form-load")
    def load(self) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                data = load_form(session, ctx.actor, self.kind, self.record_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._load_failed, str(exc))
            return
        self.app.call_from_thread(self._fill, data)

    def _load_failed(self, message: str) -> None:
        self.app.notify(message, severity="error")
        self.dismiss(None)

    async def _fill(self, data: FormData) -> None:
        self.data = data
        for key, _label in TEXT_FIELDS:
            self.query_one(f"#f-{key}", Input).value = data.values.get(key, "")
        tags = self.query_one("#f-tags", Input)
        tags.value = data.values.get("tags", "")
        tags.suggester = TagSuggester(data.tag_names)
        source = self.query_one("#f-source", Input)
        source.value = data.values.get("source", "")
        source.suggester = SuggestFromList(data.source_names, case_sensitive=False)
        for kind, number in [*data.phones, ("work", "")]:
            await self._add_phone(kind, number)
        for address in [*data.emails, ""]:
            await self._add_email(address)
        await self._add_custom_fields(data)
        self.ready = True

    async def _add_phone(self, kind: str, number: str) -> None:
        from tscrm.labels import PHONE_KINDS as KIND_LABELS
        from tscrm.labels import label

        n = self._next_row
        self._next_row += 1
        row = Horizontal(
            Static(_("Phone"), classes="label"),
            Select([(label(KIND_LABELS, k), k) for k in PHONE_KINDS], value=kind, allow_blank=False, id=f"phone-kind-{n}", classes="kind"),
            Input(number, id=f"phone-{n}", classes="phone"),
            classes="row",
        )
        await self.query_one("#form-phones").mount(row, Static("", id=f"err-phone-{n}", classes="field-note"))

    async def _add_email(self, address: str) -> None:
        n = self._next_row
        self._next_row += 1
        row = Horizontal(Static(_("Email"), classes="label"), Input(address, id=f"email-{n}", classes="email"), classes="row")
        await self.query_one("#form-emails").mount(row, Static("", id=f"err-email-{n}", classes="field-note"))

    async def _add_custom_fields(self, data: FormData) -> None:
        widgets = []
        if data.custom_fields:
            widgets.append(Static(_("More"), classes="form-section"))
        for definition in data.custom_fields:
            self._definitions[definition.key] = definition
            value = data.custom.get(definition.key, "")
            if definition.type == "choice":
                options = [(c, c) for c in definition.choices]
                if value and value not in definition.choices:
                    options.append((value, value))
                editor: Any = Select(options, value=value or Select.NULL, id=f"custom-{definition.key}", prompt=_("(none)"))
            else:
                placeholder = {"number": "1234.5", "date": _("YYYY-MM-DD")}.get(str(definition.type), "")
                editor = Input(value, placeholder=placeholder, id=f"custom-{definition.key}", classes="custom")
            widgets.append(Horizontal(Static(definition.label, classes="label"), editor, classes="row"))
            widgets.append(Static("", id=f"err-custom-{definition.key}", classes="field-note"))
        if widgets:
            await self.query_one("#form-custom").mount_all(widgets)

    # -- checking as you type -----------------------------------------------------------------

    def _note(self, note_id: str, message: str, ok: bool = False) -> None:
        note = self.query_one(f"#{note_id}", Static)
        note.update(message)
        note.set_class(bool(message) and not ok, "bad")
        note.set_class(bool(message) and ok, "ok")

    def _phone_inputs(self) -> list[Input]:
        return list(self.query("#form-phones Input.phone").results(Input))

    def _email_inputs(self) -> list[Input]:
        return list(self.query("#form-emails Input.email").results(Input))

    def _check(self, widget: Input) -> str | None:
        """Check one field, show the verdict beside it; the error message, or None when fine."""
        from tscrm.core.phones import format_phone, parse_phone
        from tscrm.core.services.users import normalise_email
        from tscrm.core.validation import required_text

        wid = widget.id or ""
        value = widget.value
        try:
            if wid == "f-name":
                required_text(value, "name")
                self._note("err-name", "")
            elif wid.startswith("phone-"):
                note = "err-" + wid
                if not value.strip():
                    self._note(note, "")
                    return None
                index = self._phone_inputs().index(widget)
                parsed = parse_phone(value, self.ctx.region, field=f"phones[{index}]")
                self._note(note, "✓ " + format_phone(parsed.e164, self.ctx.region), ok=True)
            elif wid.startswith("email-"):
                if value.strip():
                    index = self._email_inputs().index(widget)
                    normalise_email(value, field=f"emails[{index}]")
                self._note("err-" + wid, "")
            elif wid.startswith("custom-"):
                # the very check the services make when saving
                from tscrm.core.services.contacts import _coerce_custom

                key = wid.removeprefix("custom-")
                if value.strip() and key in self._definitions:
                    _coerce_custom(self._definitions[key], value)
                self._note("err-" + wid, "")
        except ValidationError as exc:
            note = "err-name" if wid == "f-name" else "err-" + wid
            self._note(note, str(exc))
            return str(exc)
        return None

    @on(Input.Changed)
    async def _typed(self, event: Input.Changed) -> None:
        widget = event.input
        if not self.ready or widget.id in ("f-tags", "f-source", "f-company_name", "f-position", "f-address"):
            return
        self._check(widget)
        self.query_one("#form-error", Static).update("")
        # a filled-in last line makes room for one more
        if widget.id and widget.id.startswith("phone-") and widget.value.strip() and widget is self._phone_inputs()[-1]:
            await self._add_phone("mobile", "")
        if widget.id and widget.id.startswith("email-") and widget.value.strip() and widget is self._email_inputs()[-1]:
            await self._add_email("")

    # -- saving ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#form-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#form-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        if self.saving or not self.ready:
            return
        inputs = [self.query_one("#f-name", Input), *self._phone_inputs(), *self._email_inputs()]
        inputs += list(self.query("#form-custom Input.custom").results(Input))
        bad = [widget for widget in inputs if self._check(widget) is not None]
        if bad:
            bad[0].focus()
            self.query_one("#form-error", Static).update(_("Nothing was saved: correct the fields marked in red."))
            return
        self.saving = True
        self.save(self._collect())

    def _collect(self) -> dict[str, Any]:
        """Every field as typed: text fields, (kind, number) phones, emails, tags, source, custom."""
        values: dict[str, Any] = {key: self.query_one(f"#f-{key}", Input).value for key, _label in TEXT_FIELDS}
        values["phones"] = [
            (str(self.query_one(f"#phone-kind-{w.id.removeprefix('phone-')}", Select).value), w.value.strip())  # type: ignore[union-attr]
            for w in self._phone_inputs()
            if w.value.strip()
        ]
        values["emails"] = [w.value.strip() for w in self._email_inputs() if w.value.strip()]
        values["tags"] = split_tags(self.query_one("#f-tags", Input).value)
        values["source"] = self.query_one("#f-source", Input).value.strip() or None
        custom: dict[str, Any] = {}
        for key in self._definitions:
            editor = self.query_one(f"#custom-{key}")
            value = editor.value
            custom[key] = "" if value is Select.NULL or value is None else str(value).strip()
        values["custom"] = custom
        return values

    def _changes(self, values: dict[str, Any]) -> dict[str, Any]:
        """Edit mode: only what differs from the record, so the feed names exactly what changed."""
        from tscrm.core.services.contacts import PhoneInput

        data = self.data or FormData()
        changes: dict[str, Any] = {}
        for key, _label in TEXT_FIELDS:
            if values[key].strip() != data.values.get(key, "").strip():
                changes[key] = values[key]
        if values["phones"] != data.phones:
            changes["phones"] = [PhoneInput(number, kind) for kind, number in values["phones"]]  # type: ignore[arg-type]
        if values["emails"] != data.emails:
            changes["emails"] = values["emails"]
        if [fold(t) for t in values["tags"]] != [fold(t) for t in split_tags(data.values.get("tags", ""))]:
            changes["tags"] = values["tags"]
        if (values["source"] or "") != data.values.get("source", ""):
            changes["source"] = values["source"]
        custom = {k: (v or None) for k, v in values["custom"].items() if v != data.custom.get(k, "")}
        if custom:
            changes["custom"] = custom
        return changes

    @work(thread=True, exclusive=True, group="contact-form-save")
    def save(self, values: dict[str, Any]) -> None:
        from tscrm.core.services import clients, leads
        from tscrm.core.services.contacts import ContactInput, PhoneInput

        ctx = self.ctx
        phones = [PhoneInput(number, kind) for kind, number in values["phones"]]  # type: ignore[arg-type]
        try:
            with ctx.db.write() as session:
                if self.record_id is None:
                    data = ContactInput(
                        name=values["name"],
                        company_name=values["company_name"],
                        position=values["position"],
                        address=values["address"],
                        phones=phones,
                        emails=values["emails"],
                        tags=values["tags"],
                        source=values["source"],
                        custom={k: v for k, v in values["custom"].items() if v},
                    )
                    if self.kind == "client":
                        record_id = clients.create_client(session, ctx.actor, data).id
                    else:
                        record_id = leads.create_lead(session, ctx.actor, data, to_pool=self.to_pool).id
                else:
                    record_id = self.record_id
                    changes = self._changes(values)
                    if changes and self.kind == "client":
                        clients.update_client(session, ctx.actor, record_id, **changes)
                    elif changes:
                        leads.update_lead(session, ctx.actor, record_id, **changes)
        except ValidationError as exc:
            self.app.call_from_thread(self._refused, str(exc), exc.field, values)
            return
        except TscrmError as exc:
            self.app.call_from_thread(self._refused, str(exc), None, values)
            return
        self.app.call_from_thread(self._saved, record_id)

    def _saved(self, record_id: int | None) -> None:
        if self.record_id is not None:
            self.app.notify(_("Saved."))
        elif self.kind == "client":
            self.app.notify(_("Client created."))
        else:
            self.app.notify(_("Lead created."))
        self.dismiss(record_id)

    def _refused(self, message: str, field_name: str | None, values: dict[str, Any]) -> None:
        """Show a service's error beside the field it names (else under the form)."""
        self.saving = False
        note, target = self._field_widgets(field_name)
        if note is not None:
            self._note(note, message)
            if target is not None:
                target.focus()
            self.query_one("#form-error", Static).update(_("Nothing was saved: correct the fields marked in red."))
        else:
            self.query_one("#form-error", Static).update(message)

    def _field_widgets(self, field_name: str | None) -> tuple[str | None, Any]:
        """The note beside a field named like the services name them ("phones[1]", "vat") and its editor."""
        if not field_name:
            return None, None
        import re

        listed = re.fullmatch(r"(phones|emails)\[(\d+)\]", field_name)
        if listed:
            filled = [w for w in (self._phone_inputs() if listed[1] == "phones" else self._email_inputs()) if w.value.strip()]
            index = int(listed[2])
            if index < len(filled):
                return "err-" + (filled[index].id or ""), filled[index]
            return None, None
        if field_name in {key for key, _label in TEXT_FIELDS} or field_name in ("tags", "source"):
            return f"err-{field_name}", self.query_one(f"#f-{field_name}")
        if field_name in self._definitions:
            return f"err-custom-{field_name}", self.query_one(f"#custom-{field_name}")
        return None, None
