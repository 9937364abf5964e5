"""backend_for: the user's telephony settings pick the backend, and what is missing is said plainly."""

from __future__ import annotations

import pytest

from tscrm.core.errors import TelephonyError
from tscrm.core.services import telephony, users
from tscrm.telephony.factory import backend_for, check_settings, rtp_ports


def _user(db, actor):
    with db.read() as s:
        return users.get_user(s, actor.id)


def test_desk_phone_without_zadarma_keys_says_an_admin_sets_them(db, admin, monkeypatch):
    monkeypatch.delenv("TSCRM_ZADARMA_KEY", raising=False)
    monkeypatch.delenv("TSCRM_ZADARMA_SECRET", raising=False)
    with db.read() as s:
        with pytest.raises(TelephonyError, match="Zadarma API key and secret"):
            backend_for(s, users.get_user(s, admin.id))


def test_desk_phone_needs_an_extension(db, admin, make_user):
    agent = make_user("Intern", name="No Ext", extension=None)
    with db.read() as s:
        with pytest.raises(TelephonyError, match="extension"):
            backend_for(s, users.get_user(s, agent.id))


def test_desk_phone_with_keys_gives_the_zadarma_callback_backend(db, admin):
    from tscrm.telephony.zadarma import ZadarmaCallBackend

    with db.write() as s:
        telephony.save_company_settings(s, admin, zadarma_key="key123")
        telephony.set_zadarma_secret(s, admin, "secret456")
    with db.read() as s:
        backend = backend_for(s, users.get_user(s, admin.id))
    try:
        assert isinstance(backend, ZadarmaCallBackend)
        assert (backend.client.key, backend.client.secret) == ("key123", "secret456")
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("fields", "password", "missing"),
    [
        ({}, None, "SIP server, SIP user, SIP password"),
        ({"sip_server": "127.0.0.1"}, None, "SIP user, SIP password"),
        ({"sip_server": "127.0.0.1", "sip_username": "100"}, None, "SIP password"),
    ],
)
def test_softphone_names_what_is_missing(db, admin, fields, password, missing):
    with db.write() as s:
        telephony.save_user_settings(s, admin, admin.id, mode="softphone", **fields)
    with db.read() as s:
        with pytest.raises(TelephonyError) as err:
            backend_for(s, users.get_user(s, admin.id))
    assert f"needs {missing}:" in str(err.value) and "Settings → Telephony" in str(err.value)


def test_softphone_builds_the_sip_backend_from_the_settings(db, admin, monkeypatch):
    captured = {}

    class FakeSip:
        def __init__(self, **kwargs):
            captured.update(kwargs)

    import tscrm.telephony.factory as factory

    monkeypatch.setattr(factory, "_sip_class", lambda: FakeSip)
    monkeypatch.setenv("TSCRM_RTP_PORTS", "30000-30100")
    with db.write() as s:
        telephony.save_user_settings(
            s, admin, admin.id, mode="softphone_working_hours", sip_server="127.0.0.1", sip_port=5070, sip_username="100"
        )
        telephony.set_sip_password(s, admin, admin.id, "pw-1")
        users.set_working_hours(s, admin, admin.id, {})  # no working day: never rings in tscrm
    with db.read() as s:
        check_settings(s, users.get_user(s, admin.id))
        backend = backend_for(s, users.get_user(s, admin.id))
    assert isinstance(backend, FakeSip)
    assert (captured["server"], captured["port"], captured["username"], captured["password"]) == ("127.0.0.1", 5070, "100", "pw-1")
    assert captured["my_ip"] == "127.0.0.1" and 0 < captured["sip_port"] < 65536
    assert (captured["rtp_low"], captured["rtp_high"]) == (30000, 30100)
    assert captured["ring_only_when"]() is False


def test_softphone_always_rings_without_a_schedule_check(db, admin, monkeypatch):
    captured = {}
    import tscrm.telephony.factory as factory

    monkeypatch.setattr(factory, "_sip_class", lambda: lambda **kw: captured.update(kw) or object())
    with db.write() as s:
        telephony.save_user_settings(s, admin, admin.id, mode="softphone", sip_server="127.0.0.1", sip_username="100")
        telephony.set_sip_password(s, admin, admin.id, "pw-1")
    with db.read() as s:
        backend_for(s, users.get_user(s, admin.id))
    assert captured["ring_only_when"] is None


def test_rtp_ports_must_be_a_range(monkeypatch):
    monkeypatch.setenv("TSCRM_RTP_PORTS", "20000")
    with pytest.raises(TelephonyError, match="10000-20000"):
        rtp_ports()
    monkeypatch.setenv("TSCRM_RTP_PORTS", "20000-10000")
    with pytest.raises(TelephonyError):
        rtp_ports()
