"""A Zadarma-like REST API on 127.0.0.1 for the tests (http.server in a thread, free port).

It checks every request the way the reference (``/work/shared/reference/zadarma-api.md`` §1.2) says
Zadarma does, independently of tscrm's own signing code: it takes the raw query (GET) or form body
(POST/PUT), sorts the parameters by key, writes them back as an RFC 1738 query string and compares
``base64(hex(HMAC_SHA1(secret, path + qs + md5(qs))))`` with the ``Authorization`` header; a wrong
one gets HTTP 401. It implements the methods tscrm uses, with failures the tests can inject.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

KEY, SECRET = "KEY123", "SECRET456"
RECORDING_BYTES = b"ID3\x04\x00fake mp3 of call "


def documented_signature(path: str, raw_params: str, secret: str) -> str:
    """As Zadarma checks it (flat parameters: what the PBX API uses)."""
    pairs = sorted(parse_qsl(raw_params, keep_blank_values=True), key=lambda kv: kv[0])
    qs = urlencode(pairs)
    data = path + qs + hashlib.md5(qs.encode()).hexdigest()
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


@dataclass
class Seen:
    """One request as it came over the wire."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.body if self.method in ("POST", "PUT") else self.query, keep_blank_values=True))


@dataclass
class ZadarmaState:
    balance: str = "12.50"
    currency: str = "USD"
    extensions: list[int] = field(default_factory=lambda: [100, 101, 102])
    online: set[str] = field(default_factory=lambda: {"100"})
    sms_denied: dict[str, str] = field(default_factory=dict)  # digits -> the refusal message
    sms_cost: str = "0.06"
    fail: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # path -> statuses to answer next
    pbx_stats: list[dict[str, Any]] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)  # call_id -> file
    call_recordings: dict[str, list[str]] = field(default_factory=dict)  # pbx_call_id -> call_ids
    callinfo_url: str | None = None
    callbacks: list[dict[str, str]] = field(default_factory=list)
    sms_sent: list[dict[str, str]] = field(default_factory=list)


class ZadarmaServer:
    def __init__(self, key: str = KEY, secret: str = SECRET) -> None:
        self.key = key
        self.secret = secret
        self.state = ZadarmaState()
        self.seen: list[Seen] = []
        self.rejected = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                seen = Seen(method, url.path, url.query, body, {k: v for k, v in self.headers.items()})
                server.seen.append(seen)
                if url.path.startswith("/records/"):
                    return self.download(unquote(url.path.removeprefix("/records/")))
                raw = body if method in ("POST", "PUT") else url.query
                key, _, given = self.headers.get("Authorization", "").partition(":")
                if key != server.key or given != documented_signature(url.path, raw, server.secret):
                    server.rejected += 1
                    return self.reply(401, {"status": "error", "message": "Not authorized"})
                if seen.params.get("format") != "json":
                    return self.reply(400, {"status": "error", "message": "Wrong format"})
                failures = server.state.fail.get(url.path)
                if failures:
                    status = failures.pop(0)
                    if status == 200:  # a broken answer
                        return self.reply(200, b"<html>maintenance</html>", "text/html")
                    return self.reply(status, {"status": "error", "message": f"Injected failure {status}"})
                status, answer = server.answer(method, url.path, seen.params)
                self.reply(status, answer)

            def download(self, name: str) -> None:
                call_id = name.removesuffix(".mp3")
                if call_id not in server.state.recordings:
                    return self.reply(404, b"not found", "text/plain")
                self.reply(200, server.state.recordings[call_id], "audio/mpeg")

            def do_GET(self) -> None:
                self.handle_any("GET")

            def do_POST(self) -> None:
                self.handle_any("POST")

            def do_PUT(self) -> None:
                self.handle_any("PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- the API ---------------------------------------------------------------------------------------

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def answer(self, method: str, path: str, p: dict[str, str]) -> tuple[int, Any]:
        st = self.state
        if (method, path) == ("GET", "/v1/info/balance/"):
            return 200, {"status": "success", "balance": float(st.balance), "currency": st.currency}
        if (method, path) == ("GET", "/v1/request/callback/"):
            if not p.get("from") or not p.get("to"):
                return 400, {"status": "error", "message": "from and to are required"}
            st.callbacks.append(p)
            return 200, {"status": "success", "from": p["from"], "to": p["to"], "time": 1767261600 + len(st.callbacks)}
        if (method, path) == ("POST", "/v1/sms/send/"):
            return self.sms(p)
        if (method, path) == ("GET", "/v1/sms/senderid/"):
            return 200, {"status": "success", "senders": ["Acme", "34911234567"]}
        if (method, path) == ("GET", "/v1/pbx/internal/"):
            return 200, {"status": "success", "pbx_id": 1234, "numbers": st.extensions}
        if method == "GET" and path.startswith("/v1/pbx/internal/") and path.endswith("/status/"):
            ext = path.split("/")[4]
            if not ext.isdigit() or int(ext) not in st.extensions:
                return 400, {"status": "error", "message": "Wrong internal number"}
            return 200, {"status": "success", "pbx_id": 1234, "number": int(ext), "is_online": "true" if ext in st.online else "false"}
        if (method, path) == ("GET", "/v1/statistics/pbx/"):
            return self.statistics(p)
        if (method, path) == ("GET", "/v1/pbx/record/request/"):
            return self.record(p)
        if (method, path) == ("POST", "/v1/pbx/callinfo/url/"):
            st.callinfo_url = p.get("url")
            return 200, {"status": "success", "url": st.callinfo_url}
        return 404, {"status": "error", "message": f"Unknown method {method} {path}"}

    def sms(self, p: dict[str, str]) -> tuple[int, Any]:
        numbers = [n for n in p.get("number", "").split(",") if n]
        message = p.get("message", "")
        if not numbers or not message:
            return 400, {"status": "error", "message": "number and message are required"}
        if any(not n.isdigit() for n in numbers):
            return 400, {"status": "error", "message": "Wrong number format"}
        self.state.sms_sent.append(p)
        parts = max(1, -(-len(message) // 160))
        allowed = [n for n in numbers if n not in self.state.sms_denied]
        cost = float(self.state.sms_cost)
        return 200, {
            "status": "success",
            "messages": parts * len(allowed),
            "cost": round(cost * parts * len(allowed), 4),
            "currency": self.state.currency,
            "sms_detalization": [
                {"callerid": p.get("caller_id", "Teamsale"), "number": n, "cost": cost * parts, "parts": parts, "message": message}
                for n in allowed
            ],
            "denied_numbers": [{"number": n, "message": self.state.sms_denied[n]} for n in numbers if n in self.state.sms_denied],
        }

    def statistics(self, p: dict[str, str]) -> tuple[int, Any]:
        if p.get("version") != "2":
            return 400, {"status": "error", "message": "version 2 expected"}
        try:
            start = datetime.strptime(p["start"], "%Y-%m-%d %H:%M:%S")
            end = datetime.strptime(p["end"], "%Y-%m-%d %H:%M:%S")
        except (KeyError, ValueError):
            return 400, {"status": "error", "message": "Wrong start or end"}
        if (end - start).days > 31 or end < start:
            return 400, {"status": "error", "message": "The period must not exceed one month"}
        limit = int(p.get("limit", 1000))
        if limit > 1000:
            return 400, {"status": "error", "message": "limit must be at most 1000"}
        rows = [r for r in self.state.pbx_stats if p["start"] <= r["callstart"] <= p["end"]]
        if p.get("call_type") in ("in", "out"):
            rows = [r for r in rows if r["pbx_call_id"].startswith(p["call_type"] + "_")]
        rows.sort(key=lambda r: (r["callstart"], r["pbx_call_id"]))
        skip = int(p.get("skip", 0))
        return 200, {"status": "success", "start": p["start"], "end": p["end"], "version": 2, "stats": rows[skip : skip + limit]}

    def record(self, p: dict[str, str]) -> tuple[int, Any]:
        lifetime = int(p.get("lifetime", 1800))
        if not 180 <= lifetime <= 5184000:
            return 400, {"status": "error", "message": "Wrong lifetime"}
        if p.get("call_id"):
            if p["call_id"] not in self.state.recordings:
                return 400, {"status": "error", "message": "Record not found"}
            return 200, {"status": "success", "link": f"{self.url}/records/{p['call_id']}.mp3", "lifetime_till": "2026-01-01 12:00:00"}
        if p.get("pbx_call_id"):
            ids = self.state.call_recordings.get(p["pbx_call_id"])
            if not ids:
                return 400, {"status": "error", "message": "Record not found"}
            return 200, {"status": "success", "links": [f"{self.url}/records/{i}.mp3" for i in ids], "lifetime_till": "2026-01-01 12:00:00"}
        return 400, {"status": "error", "message": "call_id or pbx_call_id required"}

    # -- life --------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stats_row(
    pbx_call_id: str,
    callstart: str,
    *,
    clid: str,
    destination: str,
    sip: str = "100",
    disposition: str = "answered",
    seconds: int = 60,
    call_id: str | None = None,
    is_recorded: bool = False,
) -> dict[str, Any]:
    """A row of /v1/statistics/pbx/ (version 2) as the spec shows it."""
    return {
        "call_id": call_id or f"{pbx_call_id}-rec",
        "sip": sip,
        "callstart": callstart,
        "clid": clid,
        "destination": destination,
        "disposition": disposition,
        "seconds": seconds,
        "is_recorded": "true" if is_recorded else "false",
        "pbx_call_id": pbx_call_id,
    }
