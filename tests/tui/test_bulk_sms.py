"""Bulk SMS in the TUI, driven by the pilot against the scripted SMS service of the dialer tests
(tests/dialer/conftest.py): from a Clients selection (template, preview with parts, progress, the
delivery report with failures and cost), to a tag, and the templates tab of Settings."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.dialer.conftest import ScriptedSmsBackend
from tscrm.core.models import PhoneKind
from tscrm.core.models_dialer import SmsMessage, SmsStatus, SmsTemplate
from tscrm.core.services import clients, dialer, sms
from tscrm.core.services.clients import new_contact
from tscrm.core.services.contacts import PhoneInput
from tscrm.telephony import sms_factory

from .conftest import wait_until

SIZE = (150, 45)
PADDING = "x" * 140  # with a short name the text fits one SMS, with a long one it takes two


def _client(session, actor, name, number=None, tags=None):
    phones = [PhoneInput(number, PhoneKind.MOBILE)] if number else []
    return clients.create_client(session, actor, new_contact(name, phones, tags=tags or [])).id


def _text(app, selector) -> str:
    return str(app.screen.query_one(selector).render())


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


@pytest.fixture
def sms_service(monkeypatch):
    """The company's SMS service is the scripted one: +34612000002 is refused."""
    backend = ScriptedSmsBackend(fail={"+34612000002": "invalid destination number"})
    monkeypatch.setattr(sms_factory, "sms_backend_for", lambda session: backend)
    return backend


async def test_bulk_sms_to_a_clients_selection_previews_parts_sends_and_reports_failures(db, admin, make_app, sms_service):
    with db.write() as s:
        _client(s, admin, "Ana Ruiz", "+34612000001")
        _client(s, admin, "Bea Bad", "+34612000002")
        _client(s, admin, "Bartolomé Fernandez Villaverde", "+34612000003")
        _client(s, admin, "Ciro Nophone")
        sms.add_template(s, admin, "Offer", "{name} " + PADDING)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current_mode == "clients" and len(app.screen.query_one("#clients-table").page_rows) == 4)
        await pilot.press("ctrl+a", "b")
        await wait_until(pilot, lambda: app.screen.id == "bulk-menu")
        menu = app.screen.query_one("#choice-list")
        menu.highlighted = [menu.get_option_at_index(i).id for i in range(menu.option_count)].index("sms")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.id == "bulk-sms" and app.screen.ready)
        dialog = app.screen
        with db.read() as s:
            template_id = s.exec(select(SmsTemplate.id)).one()
        dialog.query_one("#sms-template").value = template_id  # the template fills the text
        await wait_until(pilot, lambda: dialog.query_one("#sms-text").text == "{name} " + PADDING)
        await wait_until(pilot, lambda: "3 recipient(s) · 4 SMS part(s) in all" in _text(app, "#sms-preview-text"))
        preview = _text(app, "#sms-preview-text")
        assert f"Ana Ruiz {PADDING}" in preview
        assert "1 part(s), 149 characters, GSM-7" in preview  # Ana Ruiz
        assert "2 part(s), 171 characters, GSM-7" in preview  # Bartolomé Fernandez Villaverde
        assert "left out: Ciro Nophone: no phone number" in preview
        assert sms_service.calls == []  # a preview sends nothing

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.id == "confirm-dialog")
        assert "Send 3 SMS now?" in _text(app, ".dialog-title")
        await pilot.press("y")
        await wait_until(pilot, lambda: dialog.report is not None, timeout=10)
        report = _text(app, "#sms-report-text")
        assert "2 sent, 1 failed — cost 0.15 EUR" in report
        assert "invalid destination number" in report
        assert "left out: Ciro Nophone: no phone number" in report
        assert dialog.query_one("#sms-progress").percentage == 1.0
        await wait_until(pilot, lambda: "2 sent, 1 failed" in _notices(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.id == "screen-clients")
        assert not app.screen.query_one("#clients-table").selected and not app.screen.query_one("#clients-table").all_matching
    assert sorted(n for n, _t in sms_service.sent) == ["+34612000001", "+34612000003"]
    with db.read() as s:
        rows = {m.number: m for m in s.exec(select(SmsMessage))}
    assert rows["+34612000001"].status == SmsStatus.SENT and rows["+34612000001"].text == f"Ana Ruiz {PADDING}"
    assert rows["+34612000002"].status == SmsStatus.FAILED and rows["+34612000002"].error == "invalid destination number"


async def test_bulk_sms_to_a_tag_says_when_the_sms_service_is_not_set_up(db, admin, make_app):
    with db.write() as s:
        _client(s, admin, "Vip One", "+34612000011", tags=["vip"])
        _client(s, admin, "Vip Two", "+34612000012", tags=["vip"])
        _client(s, admin, "Plain", "+34612000013")
        dialer.set_do_not_call(s, admin, "+34612000012")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")  # Settings → SMS templates: t sends to a tag
        await wait_until(pilot, lambda: app.current_mode == "settings")
        app.screen.query_one("#settings-tabs").active = "settings-sms"
        await wait_until(pilot, lambda: app.screen.query_one("#sms-templates").display)
        app.screen.query_one("#sms-templates").focus()
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen.id == "text-dialog")
        await pilot.press(*"vip", "enter")
        await wait_until(pilot, lambda: app.screen.id == "bulk-sms" and app.screen.ready)
        await pilot.press(*"Hello {first_name}")
        await wait_until(pilot, lambda: "1 recipient(s) · 1 SMS part(s) in all" in _text(app, "#sms-preview-text"))
        assert "Hello Vip" in _text(app, "#sms-preview-text")
        assert "left out: Vip Two: on the do-not-call list" in _text(app, "#sms-preview-text")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.id == "confirm-dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: "Zadarma" in _text(app, "#sms-error"))  # no API key: nothing sent, said why
        assert app.screen.report is None and not app.screen.sending
    with db.read() as s:
        assert s.exec(select(SmsMessage)).all() == []


async def test_sms_templates_are_added_edited_and_removed_in_settings(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")
        await wait_until(pilot, lambda: app.current_mode == "settings")
        app.screen.query_one("#settings-tabs").active = "settings-sms"
        table = app.screen.query_one("#sms-templates")
        await wait_until(pilot, lambda: "No template yet" in _text(app, "#sms-templates-result"))
        table.focus()
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen.id == "template-dialog")
        await pilot.press(*"Welcome", "tab", *"Hi {first_name}, welcome to {our_company}!")
        await wait_until(pilot, lambda: "1 part(s)" in _text(app, "#template-parts"))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.id == "screen-settings" and table.row_count == 1)
        assert str(table.get_row_at(0)[0]) == "Welcome"

        await pilot.press("e")
        await wait_until(pilot, lambda: app.screen.id == "template-dialog")
        app.screen.query_one("#template-text").text = "Hi {nickname}"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "unknown field {nickname}" in _text(app, "#template-error"))  # refused: the old text stays
        app.screen.query_one("#template-text").text = "Hola {first_name} 😊"
        await wait_until(pilot, lambda: "UCS-2" in _text(app, "#template-parts"))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.id == "screen-settings" and "😊" in str(table.get_row_at(0)[2]))

        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.id == "confirm-dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 0 and "removed" in _text(app, "#sms-templates-result"))
    with db.read() as s:
        assert s.exec(select(SmsTemplate)).all() == []
