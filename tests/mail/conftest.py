"""A real Dovecot (IMAP) on loopback for the mail tests, one per test session (per xdist worker).

``dovecot`` (session-scoped) gives ``host``, ``port``, ``add_user()`` (a fresh mailbox user per test),
``append(user, messages, folder)`` (one connection, MULTIAPPEND), ``deliver(user, messages, folder)``
(straight into the Maildir: fastest for thousands), ``set_uidvalidity(user, value, folder)`` (force the
server to reset a mailbox's UIDs) and ``client(user)`` (a logged-in IMAPClient). Without the
``dovecot`` binary the tests that need it skip (fail under TSCRM_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if os.path.exists("/usr/bin/doveadm") else None)
PASSWORD = "secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:{dir}/mail/%u
auth_failure_delay = 0
# no auth penalty (a growing delay after failed logins from one IP): tests fail logins on purpose
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
"""


class Dovecot:
    host = "127.0.0.1"

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.conf = directory / "dovecot.conf"
        self._deliveries = 0

    def start(self) -> None:
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONFIG.format(dir=self.dir, port=self.port, password=PASSWORD))
        self.dir.chmod(0o755)
        self._chown(self.dir / "mail")
        # dovecot forks into the background: its output goes to a file, not to pipes we would wait on
        with (self.dir / "start.log").open("wb") as out:
            subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        start = (self.dir / "start.log").read_text(errors="replace")
        raise RuntimeError("dovecot did not start: " + start + self.log())

    def stop(self) -> None:
        """SIGTERM to the master (its pid file) and wait for it; ``doveadm stop`` if there is no pid."""
        pid_file = self.dir / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            subprocess.run([DOVEADM, "-c", str(self.conf), "stop"], check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @staticmethod
    def _chown(path: Path) -> None:
        entry = pwd.getpwnam("dovecot")
        os.chown(path, entry.pw_uid, entry.pw_gid)

    # -- users and messages ----------------------------------------------------------------------

    def add_user(self, name: str | None = None) -> str:
        """A new mailbox user (any name logs in with PASSWORD: a static passdb, so no reload races);
        returns its address, also its login. Its mailbox is created on first login."""
        return name or f"u{uuid.uuid4().hex[:10]}@test.local"

    def client(self, user: str, password: str = PASSWORD):
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, password)
        return client

    def append(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        """APPEND the messages in one connection (MULTIAPPEND in chunks)."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for i in range(0, len(messages), 500):
                client.multiappend(folder, messages[i : i + 500])
        finally:
            client.logout()

    def deliver(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        """Write the messages straight into the user's Maildir (Dovecot gives them UIDs on next look)."""
        root = self.dir / "mail" / user
        box = root if folder == "INBOX" else root / f".{folder.replace('/', '.')}"
        new = box / "new"
        entry = pwd.getpwnam("dovecot")
        for path in (root, box, box / "cur", box / "tmp", new):
            path.mkdir(exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        for raw in messages:
            self._deliveries += 1
            path = new / f"{int(time.time())}.M{self._deliveries}P{os.getpid()}.tscrm"
            path.write_bytes(raw)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def set_uidvalidity(self, user: str, value: int, folder: str = "INBOX") -> None:
        subprocess.run(
            [DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u", user, "--uid-validity", str(value), folder],
            check=True,
            capture_output=True,
            timeout=30,
        )


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot | str]:
    if DOVECOT is None or DOVEADM is None:
        yield "the dovecot binary is missing (Debian package dovecot-imapd)"
        return
    directory = Path(tempfile.mkdtemp(prefix="tscrm-dovecot-", dir="/tmp"))
    server = Dovecot(directory)
    try:
        server.start()
    except (OSError, subprocess.SubprocessError, RuntimeError, KeyError) as exc:
        server.stop()
        yield f"it did not start: {exc}"
        shutil.rmtree(directory, ignore_errors=True)
        return
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Dovecot | str) -> Dovecot:
    if isinstance(dovecot_server, str):
        from conftest import (
            need_service,  # tests/conftest.py (imported here so bench/mail.py can use Dovecot)
        )

        need_service("Dovecot", dovecot_server)
    return dovecot_server  # type: ignore[return-value]


T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def make_message(
    *,
    sender: str = "Jose Garcia <jose@example.es>",
    to: str = "agent@test.local",
    cc: str | None = None,
    subject: str = "Hello",
    body: str = "Hi there",
    date: datetime | None = None,
    message_id: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or T0)
    msg["Message-ID"] = message_id or make_msgid(domain="example.es")
    for key, value in (extra_headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def numbered(n: int, *, sender: str = "Jose Garcia <jose@example.es>", to: str = "agent@test.local", start: int = 0) -> list[bytes]:
    """n plain messages "Message i" (built from a template: thousands in milliseconds)."""
    tag = uuid.uuid4().hex[:6]
    return [
        (
            f"From: {sender}\r\nTo: {to}\r\nSubject: Message {i}\r\n"
            f"Date: {format_datetime(T0 + timedelta(minutes=i))}\r\nMessage-ID: <m{i}.{tag}@example.es>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of message {i}\r\n"
        ).encode()
        for i in range(start, start + n)
    ]
