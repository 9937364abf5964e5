"""A real Radicale (CalDAV) on loopback for the calendar tests, one per test session (per xdist worker).

``radicale`` (session-scoped) gives ``url``, two users (``alice``/``bob``, plain htpasswd),
``new_calendar(user)`` (a fresh calendar collection per test: its URL), and plain-HTTP helpers to play
"the user's phone": ``put(cal, uid, ics)``, ``events(cal)`` ({href: text}), ``delete(href)``.
Radicale runs as ``python -m radicale`` from this environment; when it cannot start, the tests that
need it skip (fail under TSCRM_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

USERS = {"alice": "alice-pw", "bob": "bob-pw"}

CONFIG = """\
[server]
hosts = 127.0.0.1:{port}
[auth]
type = htpasswd
htpasswd_filename = {dir}/users
htpasswd_encryption = plain
delay = 0
[storage]
filesystem_folder = {dir}/collections
[web]
type = none
[logging]
level = warning
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Radicale:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None
        self.http = httpx.Client(timeout=10)

    def start(self) -> None:
        (self.dir / "users").write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
        (self.dir / "config").write_text(CONFIG.format(port=self.port, dir=self.dir))
        self.log = (self.dir / "radicale.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(self.dir / "config")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.http.request("OPTIONS", self.url, auth=("alice", USERS["alice"])).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("radicale did not start: " + (self.dir / "radicale.log").read_text(errors="replace"))

    def stop(self) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if getattr(self, "log", None):
            self.log.close()

    def auth(self, user: str) -> tuple[str, str]:
        return (user, USERS[user])

    def new_calendar(self, user: str = "alice", name: str | None = None) -> str:
        cal = f"{self.url}{user}/{uuid.uuid4().hex[:10]}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{name or 'Work'}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        response = self.http.request("MKCALENDAR", cal, content=body, auth=self.auth(user))
        assert response.status_code == 201, response.text
        return cal

    def _user(self, cal: str) -> str:
        return cal[len(self.url):].split("/")[0]

    def put(self, cal: str, uid: str, ics: str) -> None:
        response = self.http.put(f"{cal}{uid}.ics", content=ics, headers={"Content-Type": "text/calendar"}, auth=self.auth(self._user(cal)))
        assert response.status_code in (201, 204), response.text

    def events(self, cal: str) -> dict[str, str]:
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
        )
        response = self.http.request("REPORT", cal, content=body, headers={"Depth": "1"}, auth=self.auth(self._user(cal)))
        assert response.status_code == 207, response.text
        from xml.etree import ElementTree

        tree = ElementTree.fromstring(response.content)
        ns = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
        out = {}
        for item in tree.findall("D:response", ns):
            data = item.find(".//C:calendar-data", ns)
            if data is not None and data.text:
                out[item.find("D:href", ns).text] = data.text  # type: ignore[union-attr]
        return out

    def delete(self, cal: str, href: str) -> None:
        response = self.http.delete(self.url.rstrip("/") + href, auth=self.auth(self._user(cal)))
        assert response.status_code in (200, 204), response.text


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    from conftest import need_service  # tests/conftest.py

    server = Radicale(tmp_path_factory.mktemp("radicale"))
    try:
        import radicale  # noqa: F401
    except ImportError as exc:
        need_service("Radicale", f"the radicale package is not installed ({exc}); pip install -e '.[test]'")
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        server.stop()
        need_service("Radicale", str(exc))
    yield server
    server.stop()


def vevent(uid: str, summary: str, start: str, end: str | None = None, *, extra: str = "", modified: datetime | None = None) -> str:
    """An event as a phone would write it (``start``/``end``: iCalendar property lines' values with params,
    e.g. ``;TZID=Europe/Madrid:20260329T100000`` or ``:20260101T090000Z``)."""
    stamp = (modified or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//phone//test//EN", "BEGIN:VEVENT",
        f"UID:{uid}", f"DTSTAMP:{stamp}", f"LAST-MODIFIED:{stamp}", f"DTSTART{start}",
    ]
    if end:
        lines.append(f"DTEND{end}")
    lines.append(f"SUMMARY:{summary}")
    if extra:
        lines.extend(extra.strip().splitlines())
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


@pytest.fixture
def calendar_env(db, admin, radicale):
    """A fresh calendar of alice and a calendar account of the admin pointing at it."""
    from tscrm.core.services import calendar_accounts

    cal = radicale.new_calendar("alice")
    with db.write() as s:
        account = calendar_accounts.add_account(
            s, admin, name="Work calendar", url=radicale.url, username="alice", password=USERS["alice"], calendar=cal
        )
        account_id = account.id
    return {"cal": cal, "account_id": account_id}
