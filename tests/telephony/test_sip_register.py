"""Registration of the agent's extension against SIPp (digest auth), and the errors a user sees."""

from __future__ import annotations

import pytest

from tscrm.core.errors import TelephonyError

pytestmark = pytest.mark.services


def test_registers_with_digest_auth_and_deregisters_on_close(sipp, make_backend):
    run = sipp("registrar.xml", calls=1)
    backend, _ = make_backend(run)
    assert backend.registered
    backend.close()
    assert run.wait() == 0, run.diagnostics()  # SIPp's verifyauth passed and the de-registration came
    registers = run.received("REGISTER")
    assert len(registers) == 3
    assert "Authorization: Digest" in registers[1].text
    assert registers[0].header("Expires") == "3600" and registers[2].header("Expires") == "0"
    # one Call-ID for the registration of a phone (RFC 3261 10.2.4), random, never pyVoIP's counter hash
    assert len({r.header("Call-ID") for r in registers}) == 1
    assert not registers[0].header("Call-ID").startswith("4b227777d4dd1fc61c6f884f48641d02")


def test_wrong_password_is_a_clear_error(sipp, make_backend):
    run = sipp("registrar.xml", calls=1)
    with pytest.raises(TelephonyError, match="refused extension agent1"):
        make_backend(run, password="wrong")
    assert run.wait() == 0  # SIPp answered 403 and ended the call: the scenario's other way out


def test_no_server_is_a_clear_error(make_backend):
    # nothing listens on the chosen port: the REGISTER is retransmitted, then given up
    with pytest.raises(TelephonyError, match="did not answer"):
        make_backend(None, timeout=1.5)


def test_local_address_is_found_when_not_given(sipp, make_backend):
    run = sipp("registrar.xml", calls=1)
    backend, _ = make_backend(run, my_ip="")
    assert backend.my_ip == "127.0.0.1"  # the address that routes to the server
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    assert run.received("REGISTER")[0].header("Contact").startswith("<sip:agent1@127.0.0.1:")
