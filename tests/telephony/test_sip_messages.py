"""What the SIP layer reads and writes, without a network: the parser pyVoIP 1.6.8 lacked and digest."""

from __future__ import annotations

from tscrm.telephony.sip.phone import (
    SipMessage,
    digest_header,
    outcome_for,
    parse_challenge,
    response_destination,
)


def test_notify_with_a_sipfrag_body_and_compact_headers():
    raw = (
        b"NOTIFY sip:agent1@10.0.0.5:5062 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5070;received=192.0.2.1\r\n"
        b"f: <sip:pbx@10.0.0.1>;tag=pbx1\r\nt: <sip:agent1@10.0.0.1>;tag=me\r\ni: call-1\r\nCSeq: 7 NOTIFY\r\n"
        b"Event: refer\r\nContent-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n"
    )
    message = SipMessage(raw)  # pyVoIP 1.6.8 refuses NOTIFY and breaks on a body that is not SDP
    assert (message.method, message.call_id, message.cseq) == ("NOTIFY", "call-1", (7, "NOTIFY"))
    assert message.tag("From") == "pbx1" and message.tag("To") == "me"
    assert message.raw_body == b"SIP/2.0 200 OK\r\n"
    assert response_destination(message) == ("192.0.2.1", 5070)  # received= and rport= win


def test_tel_uri_caller_and_challenges():
    raw = (
        b"SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKx\r\n"
        b'From: "Client" <tel:+34911222333>;tag=a\r\nTo: <sip:100@pbx>;tag=b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n'
        b'Proxy-Authenticate: Digest realm="pbx", nonce="n1", qop="auth,auth-int", opaque="o"\r\n\r\n'
    )
    message = SipMessage(raw)
    assert message.code == 407 and message.user("From") == "+34911222333" and message.user("To") == "100"
    challenge = parse_challenge(message.header("Proxy-Authenticate"))
    assert challenge == {"realm": "pbx", "nonce": "n1", "qop": "auth,auth-int", "opaque": "o"}


def test_digest_matches_rfc_2617s_example():
    challenge = parse_challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                                'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    header = digest_header(challenge, username="Mufasa", password="Circle Of Life", method="GET",
                           uri="/dir/index.html", cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "qop=auth" in header and "nc=00000001" in header and 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


def test_outcomes_of_final_answers():
    assert [outcome_for(code) for code in (486, 600, 603, 408, 480, 487, 404, 500, 403)] == [
        "busy", "busy", "rejected", "no_answer", "no_answer", "no_answer", "failed", "failed", "failed",
    ]
