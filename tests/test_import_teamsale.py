"""Moving from Teamsale: the Zadarma signature, and a full pull from a local server that checks it.

The server (a thread on 127.0.0.1) serves JSON shaped like the Teamsale API's (spec
``openapiteamsale.json``), pages with take/skip, rate-limits once, and recomputes every request's
signature the documented way -- rejecting a wrong one with 401.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlmodel import col, select

from tscrm.core.imports.pipeline import undo_batch
from tscrm.core.imports.teamsale import import_teamsale
from tscrm.core.models import (
    Call,
    CallDirection,
    CallOutcome,
    Client,
    Deal,
    DealStatus,
    ImportBatch,
    Lead,
    LeadStatus,
    Task,
)
from tscrm.core.services import contacts
from tscrm.integrations.teamsale_client import TeamsaleAuthError, TeamsaleClient
from tscrm.integrations.zadarma_signing import (
    authorization,
    query_string,
    sign,
    webhook_signature,
)

KEY, SECRET = "KEY123", "SECRET456"


# --- signing ------------------------------------------------------------------------------------


def test_signature_test_vectors_of_the_reference():
    assert query_string({"format": "json"}) == "format=json"
    assert sign("/v1/info/balance/", {"format": "json"}, SECRET) == "MTMyYzgzNTdkMjc0OWFkOTgzYTNjMDc3ZjQ5YjAwN2QwZGE3MTYxNg=="
    params = {"from": 100, "to": "+380501234567", "format": "json"}
    assert query_string(params) == "format=json&from=100&to=%2B380501234567"
    assert sign("/v1/request/callback/", params, SECRET) == "YzZiODk3OWIyNTc2OGQ1NGVmOTdjZjBjM2RlNzI4N2YwNmY4OWUwYg=="
    assert authorization(KEY, SECRET, "/v1/info/balance/", {"format": "json"}).startswith("KEY123:MTMyYzgz")
    assert query_string({"filter": {"type": "in", "dateFrom": "2020-06-03 14:56:00"}, "take": 20}) == (
        "filter%5BdateFrom%5D=2020-06-03+14%3A56%3A00&filter%5Btype%5D=in&take=20"
    )
    assert len(webhook_signature(SECRET, "+34600000001" + "100" + "2026-01-01 10:00:00")) == 56


# --- the server -----------------------------------------------------------------------------------


def documented_signature(path: str, query: str, secret: str) -> str:
    """As the reference says, done independently of the client: PHP parses nested params, ksort()s the
    top level, http_build_query()s them, then base64(hex(HMAC-SHA1(path + qs + md5(qs))))."""
    nested: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "[" in key and key.endswith("]"):
            head, _, rest = key.partition("[")
            nested.setdefault(head, {})[rest[:-1]] = value
        else:
            nested[key] = value
    pairs = []
    for key in sorted(nested):
        value = nested[key]
        if isinstance(value, dict):
            pairs += [(f"{key}[{k}]", v) for k, v in value.items()]
        else:
            pairs.append((key, value))
    qs = urlencode(pairs)
    digest = hmac.new(secret.encode(), (path + qs + hashlib.md5(qs.encode()).hexdigest()).encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


ACCOUNT: dict[str, Any] = {
    "users": [
        {"id": 20, "email": "ANA@acme.test", "name": "Ana", "is_superadmin": 1, "enabled": 1, "created_at": "2020-04-27 01:01:31", "internal_number": "100"},
        {"id": 21, "email": "bob@elsewhere.test", "name": "Bob", "is_superadmin": 0, "enabled": 1, "created_at": "2020-04-27 01:01:31", "internal_number": "201"},
        {"id": 22, "email": "gone@old.test", "name": "Gone", "is_superadmin": 0, "enabled": 0, "created_at": "2020-04-27 01:01:31"},
    ],
    "labels": [{"id": 12, "label": "Best clients", "count": 2}, {"id": 13, "label": "VIP", "count": 1}],
    "utms": [{"id": 19, "param": "utm_source", "value": "google", "display_value": "Google", "count": 3}],
    "customers": [
        {
            "id": 65, "name": "Good Company", "status": "company", "type": "client", "responsible_user_id": 20,
            "comment": "Pays on time", "country": "GB", "city": "London", "address": "1 High St", "zip": "N1",
            "created_at": "2020-04-28 05:47:47", "created_by": 20, "lead_source": "manual",
            "phones": [{"type": "work", "phone": "+447911123456"}, {"type": "personal", "phone": "07911 123457"}],
            "contacts": [{"type": "email_work", "value": "Office@Good.example"}, {"type": "skype", "value": "good.co"}],
            "labels": [{"id": 12, "label": "Best clients"}],
            "utms": [{"id": 19, "param": "utm_source", "value": "google", "display_value": "Google"}],
        },
        {
            "id": 66, "name": "Lucía Gómez", "status": "individual", "type": "potential", "responsible_user_id": 21,
            "comment": "", "country": "ES", "city": "Madrid", "address": "", "zip": "", "created_at": "2021-01-10 10:00:00",
            "phones": [{"type": "work", "phone": "+34 612 345 678"}, {"type": "work", "phone": "12"}],
            "contacts": [{"type": "email_personal", "value": "lucia@example.es"}],
            "labels": [{"id": 13, "label": "VIP"}, {"id": 12, "label": "Best clients"}], "utms": [],
        },
        {
            "id": 67, "name": "Jean Dupont", "status": "individual", "type": "client", "responsible_user_id": 99,
            "country": "FR", "created_at": "2022-03-01 09:00:00",
            "phones": [{"type": "work", "phone": "+33 6 12 34 56 78"}], "contacts": [], "labels": [], "utms": [],
        },
    ],
    "leads": [
        {
            "id": 3486, "name": "Hot Lead", "responsible_user_id": 20, "lead_status": "in_progress", "lead_source": "form",
            "lead_created_at": "2023-05-01 12:00:00", "lead_created_by": 20,
            "phones": [{"type": "work", "phone": "+34600000001"}], "contacts": [],
            "labels": [], "utms": [{"id": 19, "param": "utm_source", "value": "google", "display_value": "Google"}],
        },
        {
            "id": 3487, "name": "Raw Lead", "lead_status": "not_processed", "lead_source": "call_incoming",
            "lead_created_at": "2023-06-01 12:00:00", "lead_created_by": 20,
            "phones": [{"type": "work", "phone": "+34600000002"}], "contacts": [], "labels": [], "utms": [],
        },
    ],
    "deals": [
        {"id": 83, "title": "Good deal", "budget": 990.5, "currency": "EUR", "status": "payment", "responsible_user": 20,
         "created_at": "2021-10-05 12:40:10", "created_by": 20, "customer_id": 65, "customer_is_lead": 0, "customer_name": "Good Company"},
        {"id": 84, "title": "Won deal", "budget": 100, "currency": "EUR", "status": "success", "responsible_user": 21,
         "created_at": "2021-11-05 12:40:10", "created_by": 20, "customer_id": 66, "customer_is_lead": 0},
        {"id": 85, "title": "Lead deal", "budget": 5, "currency": "EUR", "status": "new", "responsible_user": 20,
         "created_at": "2021-11-05 12:40:10", "created_by": 20, "customer_id": 3486, "customer_is_lead": 1},
    ],
    "events": [
        {"id": 40, "type": "call", "title": "Call Good Company", "description": json.dumps({"ops": [{"insert": "Ask about the invoice\n"}]}),
         "start": "2024-05-26 09:00:00", "end": "2024-05-26 09:30:00", "allDay": False, "created_by": 20, "responsible_user": 20,
         "completed": 1, "members": [20], "customers": [{"id": 65, "name": "Good Company", "contact_type": "customer"}]},
        {"id": 41, "type": "task", "title": "Send offer", "description": "", "start": "2024-06-01 10:00:00", "end": "2024-06-01 11:00:00",
         "allDay": False, "created_by": 20, "responsible_user": 21, "completed": 0, "members": [],
         "customers": [{"id": 3486, "name": "Hot Lead", "contact_type": "lead"}]},
    ],
    "calls": [
        {"id": 127, "type": "outgoing", "status": "answer", "phone": "+447911123456", "user_id": 20, "time": "2024-07-31 17:58:40",
         "duration": 90, "pbx_call_id": "out_807ghh1h7f09fa7a188dbf8a6998b1c9ghg4ij06", "record": 1, "contact_type": "customer",
         "contact_name": "Good Company", "contact_customer_id": 65, "is_lead": 0},
        {"id": 128, "type": "incoming", "status": "noanswer", "phone": "+34600000002", "user_id": 21, "time": "2024-08-01 09:00:00",
         "duration": 0, "contact_type": "customer", "contact_customer_id": 3487, "is_lead": 1},
    ],
}


class TeamsaleServer:
    def __init__(self) -> None:
        self.account = copy.deepcopy(ACCOUNT)
        self.requests: list[str] = []
        self.rejected = 0
        self.rate_limited = {"/v1/zcrm/deals"}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                server.requests.append(url.path)
                key, _, given = self.headers.get("Authorization", "").partition(":")
                if key != KEY or given != documented_signature(url.path, url.query, SECRET):
                    server.rejected += 1
                    return self.reply(401, {"status": "error", "message": "Not authorized"})
                params = dict(parse_qsl(url.query))
                if params.get("format") != "json":
                    return self.reply(400, {"status": "error", "message": "format"})
                if url.path in server.rate_limited:
                    server.rate_limited.discard(url.path)
                    return self.reply(429, {"status": "error", "message": "You exceeded the rate limit"}, {"Retry-After": "0"})
                self.reply(200, server.answer(url.path, params))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def answer(self, path: str, params: dict[str, str]) -> Any:
        name = path.removeprefix("/v1/zcrm/")
        if name == "customers/utms":
            return self.account["utms"]  # a plain array, as the spec says
        if name == "customers/labels":
            return {"totalCount": len(self.account["labels"]), "labels": self.account["labels"]}
        if name == "users":
            return {"totalCount": len(self.account["users"]), "users": self.account["users"]}
        items = list(self.account[name])
        if name == "leads" and "filter[createdAfter]" in params:
            items = [i for i in items if i["lead_created_at"] >= params["filter[createdAfter]"]]
        if name == "calls" and "filter[dateFrom]" in params:
            items = [i for i in items if i["time"] >= params["filter[dateFrom]"]]
        skip, take = int(params.get("skip", 0)), int(params.get("take", 20))
        return {"totalCount": len(items), name: items[skip : skip + take]}

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def teamsale():
    with TeamsaleServer() as server:
        yield server


def client_for(server: TeamsaleServer, secret: str = SECRET) -> TeamsaleClient:
    return TeamsaleClient(KEY, secret, base_url=server.url, page_size=2, sleep=lambda s: None)


# --- the import -----------------------------------------------------------------------------------


def test_a_teamsale_account_arrives_whole(db, admin, teamsale):
    with client_for(teamsale) as source:
        report = import_teamsale(db, admin, source)
    counts = {k: (v.created, v.updated, v.errors) for k, v in report.counts.items()}
    assert counts == {"client": (3, 0, 0), "lead": (2, 0, 0), "deal": (2, 0, 1), "task": (2, 0, 0), "call": (2, 0, 0)}
    assert teamsale.rejected == 0 and "/v1/zcrm/deals" not in teamsale.rate_limited  # the 429 was waited out
    assert teamsale.requests.count("/v1/zcrm/customers") == 2  # three customers, two per page
    assert {(e.column, e.value) for e in report.errors} >= {("client.phones", "12"), ("deal.customer_id", "3486")}
    with db.read() as s:
        good = s.exec(select(Client).where(Client.external_ref == "teamsale:65")).one()
        view = contacts.view(s, "client", good.id)
        assert (good.name, good.company_name, good.owner_id) == ("Good Company", "Good Company", admin.id)
        assert good.address == "1 High St, N1 London, GB"
        assert view.phones == [("work", "+447911123456"), ("mobile", "+447911123457")]  # national number, country GB
        assert view.emails == ["office@good.example"] and view.tags == ["Best clients"]
        assert good.created_at.year == 2020
        lucia = s.exec(select(Client).where(Client.external_ref == "teamsale:66")).one()
        assert lucia.owner_id == admin.id  # Bob is not a tscrm user: the importing user is responsible
        hot = s.exec(select(Lead).where(Lead.external_ref == "teamsale:3486")).one()
        raw = s.exec(select(Lead).where(Lead.external_ref == "teamsale:3487")).one()
        assert (hot.status, hot.owner_id, hot.utm_source) == (LeadStatus.IN_PROGRESS, admin.id, "google")
        assert (raw.status, raw.owner_id) == (LeadStatus.UNPROCESSED, None)
        deal = s.exec(select(Deal).where(Deal.external_ref == "teamsale:83")).one()
        assert (deal.client_id, str(deal.amount), deal.status) == (good.id, "990.50", DealStatus.PAYMENT_EXPECTED)
        won = s.exec(select(Deal).where(Deal.external_ref == "teamsale:84")).one()
        assert won.status == DealStatus.WON and won.closed_at is not None
        call_task = s.exec(select(Task).where(Task.external_ref == "teamsale:40")).one()
        assert (call_task.client_id, call_task.description, call_task.completed_at is not None) == (good.id, "Ask about the invoice", True)
        offer = s.exec(select(Task).where(Task.external_ref == "teamsale:41")).one()
        assert (offer.lead_id, offer.completed_at) == (hot.id, None)
        out = s.exec(select(Call).where(Call.external_id == "out_807ghh1h7f09fa7a188dbf8a6998b1c9ghg4ij06")).one()
        assert (out.direction, out.outcome, out.client_id, out.agent_id) == (CallDirection.OUTBOUND, CallOutcome.ANSWERED, good.id, admin.id)
        assert (out.ended_at - out.started_at).total_seconds() == 90
        missed = s.exec(select(Call).where(Call.external_id == "teamsale:128")).one()
        assert (missed.direction, missed.lead_id) == (CallDirection.INBOUND, raw.id)
        batch = s.get(ImportBatch, report.batch_id)
        assert (batch.kind, batch.status, batch.created) == ("teamsale", "done", 11)


def test_a_second_run_updates_instead_of_duplicating(db, admin, teamsale):
    with client_for(teamsale) as source:
        import_teamsale(db, admin, source)
    teamsale.account["customers"][2]["name"] = "Jean Dupont-Durand"
    teamsale.account["customers"][2]["phones"].append({"type": "personal", "phone": "+33 6 98 76 54 32"})
    teamsale.account["deals"][0]["status"] = "success"
    teamsale.rate_limited = set()
    with client_for(teamsale) as source:
        report = import_teamsale(db, admin, source)
    counts = {k: (v.created, v.updated) for k, v in report.counts.items()}
    assert counts["client"] == (0, 1) and counts["lead"] == (0, 0) and counts["deal"] == (0, 1) and counts["call"] == (0, 2)
    assert report.counts["client"].unchanged == 2
    with db.read() as s:
        assert len(s.exec(select(Client)).all()) == 3 and len(s.exec(select(Call)).all()) == 2
        jean = s.exec(select(Client).where(Client.external_ref == "teamsale:67")).one()
        assert jean.name == "Jean Dupont-Durand" and len(contacts.view(s, "client", jean.id).phones) == 2
    # undo of the second run puts the first run's values back, and leaves the first run's records
    undo = undo_batch(db, admin, report.batch_id)
    assert undo.restored == 2
    with db.read() as s:
        jean = s.exec(select(Client).where(Client.external_ref == "teamsale:67")).one()
        assert jean.name == "Jean Dupont" and len(contacts.view(s, "client", jean.id).phones) == 1
        assert s.exec(select(Deal).where(Deal.external_ref == "teamsale:83")).one().status == DealStatus.PAYMENT_EXPECTED


def test_undo_removes_everything_a_pull_created(db, admin, teamsale):
    with client_for(teamsale) as source:
        report = import_teamsale(db, admin, source)
    result = undo_batch(db, admin, report.batch_id)
    assert result.deleted == {"call": 2, "task": 2, "deal": 2, "lead": 2, "client": 3}
    with db.read() as s:
        for model in (Client, Lead, Deal, Task, Call):
            assert s.exec(select(model)).all() == [], model.__name__


def test_since_leaves_older_records_out(db, admin, teamsale):
    from datetime import UTC, datetime

    with client_for(teamsale) as source:
        report = import_teamsale(db, admin, source, since=datetime(2022, 1, 1, tzinfo=UTC))
    assert report.counts["client"].created == 1 and report.counts["lead"].created == 2
    with db.read() as s:
        assert [c.external_ref for c in s.exec(select(Client))] == ["teamsale:67"]
        assert s.exec(select(Deal)).all() == []  # their clients were left out


def test_a_wrong_secret_is_refused_and_nothing_is_written(db, admin, teamsale):
    with client_for(teamsale, secret="WRONG") as source, pytest.raises(TeamsaleAuthError, match="refused"):
        import_teamsale(db, admin, source)
    assert teamsale.rejected == 1
    with db.read() as s:
        assert s.exec(select(Client)).all() == [] and s.exec(select(ImportBatch).where(col(ImportBatch.status) == "done")).all() == []


def test_the_command_line_pull(tmp_path, sqlite_template, teamsale):
    import shutil

    from test_import_cli import run_cli

    path = tmp_path / "t.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    run_cli(url, "init", "--company", "Acme", "--admin-name", "Ana", "--admin-email", "ana@acme.test", "--extension", "100")
    out = json.loads(run_cli(url, "import", "teamsale", "--key", KEY, "--secret", SECRET, "--base-url", teamsale.url, "--json").stdout)
    assert out["counts"]["client"]["created"] == 3 and out["status"] == "done"
    history = json.loads(run_cli(url, "import", "history", "--json").stdout)
    assert history[0]["kind"] == "teamsale" and history[0]["created"] == 11
