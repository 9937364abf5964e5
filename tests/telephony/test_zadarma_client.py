"""The Zadarma API client against a local server that checks every signature the documented way."""

from __future__ import annotations

import socket
from datetime import datetime

import httpx
import pytest

from tscrm.core.errors import ConfigError, TelephonyError, TelephonyRateLimited, TelephonyUnavailable
from tscrm.integrations.zadarma_signing import signed_request
from tscrm.telephony.zadarma import ZadarmaClient, is_transient, iter_pbx_statistics, month_chunks

from .zadarma_fixtures import fake_clock, zadarma_client, zadarma_server  # noqa: F401
from .zadarma_server import KEY, SECRET, ZadarmaServer, documented_signature, stats_row

BALANCE_SIGNATURE = "MTMyYzgzNTdkMjc0OWFkOTgzYTNjMDc3ZjQ5YjAwN2QwZGE3MTYxNg=="
CALLBACK_SIGNATURE = "YzZiODk3OWIyNTc2OGQ1NGVmOTdjZjBjM2RlNzI4N2YwNmY4OWUwYg=="


# --- signing: the reference's test vectors, on the wire -----------------------------------------------


def test_reference_vectors_as_sent(zadarma_server, zadarma_client):
    assert zadarma_client.balance()["currency"] == "USD"
    seen = zadarma_server.requests_to("/v1/info/balance/")[0]
    assert seen.method == "GET"
    assert seen.query == "format=json"
    assert seen.headers["Authorization"] == f"KEY123:{BALANCE_SIGNATURE}"

    zadarma_client.request("GET", "request/callback", {"from": 100, "to": "+380501234567"})
    seen = zadarma_server.requests_to("/v1/request/callback/")[0]
    assert seen.query == "format=json&from=100&to=%2B380501234567"  # sorted, RFC 1738, + as %2B
    assert seen.headers["Authorization"] == f"KEY123:{CALLBACK_SIGNATURE}"
    # the test server's own check agrees with the vectors
    assert documented_signature("/v1/request/callback/", seen.query, SECRET) == CALLBACK_SIGNATURE


def test_signed_request_lays_out_get_and_post():
    get = signed_request("GET", "https://api.zadarma.com/", "/v1/info/balance/", {}, KEY, SECRET)
    assert get.url == "https://api.zadarma.com/v1/info/balance/?format=json" and get.body is None
    post = signed_request("POST", "https://api.zadarma.com", "/v1/sms/send/", {"number": "34600000001", "message": "Hola a+b"}, KEY, SECRET)
    assert post.url == "https://api.zadarma.com/v1/sms/send/"
    assert post.body == "format=json&message=Hola+a%2Bb&number=34600000001"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.headers["Authorization"] == f"{KEY}:{documented_signature('/v1/sms/send/', post.body, SECRET)}"


def test_post_parameters_travel_as_a_sorted_signed_form(zadarma_server, zadarma_client):
    zadarma_client.send_sms(["+34 600 000 001", "+34600000002"], "Hola, ¿qué tal? 100%", caller_id="Acme")
    seen = zadarma_server.requests_to("/v1/sms/send/")[0]
    assert seen.method == "POST" and seen.query == ""
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.body == (
        "caller_id=Acme&format=json&message=Hola%2C+%C2%BFqu%C3%A9+tal%3F+100%25&number=34600000001%2C34600000002"
    )
    assert zadarma_server.rejected == 0


def test_a_forged_signature_is_refused(zadarma_server):
    # a client with the wrong secret
    with ZadarmaClient(KEY, "not-the-secret", base_url=zadarma_server.url) as client:
        with pytest.raises(TelephonyError) as err:
            client.balance()
    assert "HTTP 401" in str(err.value) and "Not authorized" in str(err.value) and "/v1/info/balance/" in str(err.value)
    assert not is_transient(err.value)
    # a correctly signed request whose parameters were changed on the way
    good = signed_request("GET", zadarma_server.url, "/v1/request/callback/", {"from": "100", "to": "34600000001"}, KEY, SECRET)
    forged = good.url.replace("34600000001", "34699999999")
    assert httpx.get(forged, headers=good.headers).status_code == 401
    assert httpx.get(good.url, headers=good.headers).status_code == 200
    assert zadarma_server.rejected == 2
    assert [c["to"] for c in zadarma_server.state.callbacks] == ["34600000001"]


def test_missing_credentials_are_a_configuration_error():
    with pytest.raises(ConfigError):
        ZadarmaClient("", SECRET)


# --- methods ------------------------------------------------------------------------------------------


def test_callback_rings_the_extension_then_the_number(zadarma_server, zadarma_client):
    answer = zadarma_client.callback("100", "+34 612 345 678", sip="100")
    assert answer["to"] == "34612345678" and answer["time"]
    assert zadarma_server.state.callbacks == [{"format": "json", "from": "100", "to": "34612345678", "sip": "100"}]
    zadarma_client.callback("101", "0034612345678", predicted=True)
    assert zadarma_server.state.callbacks[1]["predicted"] == "1" and "sip" not in zadarma_server.state.callbacks[1]
    with pytest.raises(TelephonyError, match="not a number"):
        zadarma_client.callback("100", "abc")


def test_small_methods(zadarma_server, zadarma_client):
    assert zadarma_client.pbx_internal()["numbers"] == [100, 101, 102]
    assert zadarma_client.extension_status("100")["is_online"] == "true"
    assert zadarma_client.extension_online("101") is False
    with pytest.raises(TelephonyError, match="Wrong internal number"):
        zadarma_client.extension_status("999")
    assert zadarma_client.sms_sender_ids("+34 600 000 001") == ["Acme", "34911234567"]
    assert zadarma_server.requests_to("/v1/sms/senderid/")[0].params["phones"] == "34600000001"
    assert zadarma_client.set_callinfo_url("https://crm.example/zadarma")["url"] == "https://crm.example/zadarma"
    assert zadarma_server.state.callinfo_url == "https://crm.example/zadarma"
    assert [s.path for s in zadarma_server.seen] == [
        "/v1/pbx/internal/", "/v1/pbx/internal/100/status/", "/v1/pbx/internal/101/status/",
        "/v1/pbx/internal/999/status/", "/v1/sms/senderid/", "/v1/pbx/callinfo/url/",
    ]


# --- errors ---------------------------------------------------------------------------------------------


def test_errors_name_the_method_and_say_whether_to_retry(zadarma_server, zadarma_client):
    zadarma_server.state.fail["/v1/info/balance/"] = [429, 500, 503, 200]
    with pytest.raises(TelephonyRateLimited) as limited:
        zadarma_client.balance()
    assert is_transient(limited.value) and "HTTP 429" in str(limited.value)
    for status in (500, 503):
        with pytest.raises(TelephonyUnavailable) as failed:
            zadarma_client.balance()
        assert is_transient(failed.value) and f"HTTP {status}" in str(failed.value)
        assert "Injected failure" in str(failed.value)
    with pytest.raises(TelephonyError, match="did not answer JSON"):
        zadarma_client.balance()
    assert zadarma_client.balance()["balance"] == 12.5
    with pytest.raises(TelephonyError) as refused:
        zadarma_client.request("GET", "no/such/method")
    assert "/v1/no/such/method/" in str(refused.value) and "HTTP 404" in str(refused.value)
    assert not is_transient(refused.value)


def test_network_errors_name_the_host():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with ZadarmaClient(KEY, SECRET, base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        with pytest.raises(TelephonyUnavailable) as err:
            client.balance()
    assert f"127.0.0.1:{port}" in str(err.value) and is_transient(err.value)


# --- statistics: months, pages, 3 requests a minute ----------------------------------------------------------


def test_month_chunks_cut_at_month_ends():
    assert month_chunks(datetime(2026, 1, 15), datetime(2026, 3, 10, 23, 59, 59)) == [
        (datetime(2026, 1, 15), datetime(2026, 1, 31, 23, 59, 59)),
        (datetime(2026, 2, 1), datetime(2026, 2, 28, 23, 59, 59)),
        (datetime(2026, 3, 1), datetime(2026, 3, 10, 23, 59, 59)),
    ]
    assert month_chunks(datetime(2026, 12, 31), datetime(2027, 1, 1, 23, 59, 59)) == [
        (datetime(2026, 12, 31), datetime(2026, 12, 31, 23, 59, 59)),
        (datetime(2027, 1, 1), datetime(2027, 1, 1, 23, 59, 59)),
    ]
    assert month_chunks(datetime(2026, 2, 1), datetime(2026, 1, 1)) == []


def test_statistics_pages_and_months_within_the_rate_limit(zadarma_server, zadarma_client, fake_clock):
    january = [stats_row(f"in_jan{i:04d}", f"2026-01-{1 + i % 28:02d} 10:{i % 60:02d}:00", clid="34600000001", destination="100") for i in range(25)]
    february = [stats_row(f"out_feb{i:04d}", f"2026-02-{1 + i % 28:02d} 11:{i % 60:02d}:00", clid="100", destination="34600000002") for i in range(7)]
    zadarma_server.state.pbx_stats = january + february
    pages = list(iter_pbx_statistics(zadarma_client, datetime(2026, 1, 1), datetime(2026, 2, 28, 23, 59, 59), page_size=10))
    ids = [r["pbx_call_id"] for page, _ in pages for r in page]
    assert sorted(ids) == sorted(r["pbx_call_id"] for r in january + february) and len(ids) == len(set(ids))
    assert [len(page) for page, _ in pages] == [10, 10, 5, 7]
    assert pages[-1][1] == 1.0
    sent = zadarma_server.requests_to("/v1/statistics/pbx/")
    assert [(s.params["start"], s.params["skip"], s.params["limit"], s.params["version"]) for s in sent] == [
        ("2026-01-01 00:00:00", "0", "10", "2"),
        ("2026-01-01 00:00:00", "10", "10", "2"),
        ("2026-01-01 00:00:00", "20", "10", "2"),
        ("2026-02-01 00:00:00", "0", "10", "2"),
    ]
    assert sent[3].params["end"] == "2026-02-28 23:59:59"
    # three requests a minute: the fourth waited for the first to be a minute old
    assert fake_clock.sleeps == [60.0]


def test_statistics_wait_out_a_rate_limit(zadarma_server, zadarma_client, fake_clock):
    zadarma_server.state.pbx_stats = [stats_row("in_1", "2026-03-02 10:00:00", clid="34600000001", destination="100")]
    zadarma_server.state.fail["/v1/statistics/pbx/"] = [429]
    pages = list(iter_pbx_statistics(zadarma_client, datetime(2026, 3, 1), datetime(2026, 3, 31, 23, 59, 59)))
    assert [r["pbx_call_id"] for r in pages[0][0]] == ["in_1"]
    assert fake_clock.sleeps == [60]
    zadarma_server.state.fail["/v1/statistics/pbx/"] = [429] * 4
    with pytest.raises(TelephonyRateLimited):
        list(iter_pbx_statistics(zadarma_client, datetime(2026, 3, 1), datetime(2026, 3, 31, 23, 59, 59)))


def test_statistics_filter_by_type(zadarma_server, zadarma_client):
    zadarma_server.state.pbx_stats = [
        stats_row("in_1", "2026-03-02 10:00:00", clid="34600000001", destination="100"),
        stats_row("out_2", "2026-03-02 11:00:00", clid="100", destination="34600000002"),
    ]
    answer = zadarma_client.pbx_statistics("2026-03-01 00:00:00", datetime(2026, 3, 31, 23, 59, 59), call_type="out")
    assert [r["pbx_call_id"] for r in answer["stats"]] == ["out_2"]


def test_the_server_refuses_more_than_a_month(zadarma_server: ZadarmaServer, zadarma_client):
    with pytest.raises(TelephonyError, match="one month"):
        zadarma_client.pbx_statistics(datetime(2026, 1, 1), datetime(2026, 3, 1))

