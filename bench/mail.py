"""Mail sync speed against a real Dovecot on loopback: initial sync of N messages, then a sync with
nothing new; the baseline is a bare imapclient fetch of the same messages (no parsing, no database).

Usage: python bench/mail.py [N] [--db URL]   (default 10000 messages, a temporary SQLite file)

Needs the ``dovecot`` binary (Debian package dovecot-imapd) and root (Dovecot drops to its own users).
Prints one figure per line. Targets: the incremental sync with nothing new <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TSCRM_SECRET_BACKEND", "encrypted")
os.environ.setdefault("TSCRM_SECRET_KEY", "bench-key")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000, help="messages")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    url, count = args.db, args.count

    from mail.conftest import PASSWORD, Dovecot, numbered  # tests/mail/conftest.py

    from tscrm.core.db import Database
    from tscrm.core.services import clients, company, mail_accounts
    from tscrm.core.services.clients import new_contact
    from tscrm.core.services.users import actor_for
    from tscrm.mail import sync as mail_sync
    from tscrm.mail.imap import ImapSession

    work = Path(tempfile.mkdtemp(prefix="tscrm-bench-mail-", dir="/tmp"))
    work.chmod(0o755)  # Dovecot's mail processes run as the dovecot user
    server = Dovecot(work / "dovecot")
    (work / "dovecot").mkdir()
    server.start()
    try:
        user = server.add_user()
        half = count // 2
        server.deliver(user, numbered(half, sender="Jose Garcia <jose@example.es>", to=user))
        server.deliver(user, numbered(count - half, sender="Someone <someone@else.example>", to=user, start=half))
        db = Database(url or f"sqlite:///{work / 'bench.db'}")
        db.upgrade(backup=False)
        with db.write() as s:
            _, admin_user = company.setup(s, company_name="Bench", admin_name="Ana", admin_email="ana@bench.test")
            admin = actor_for(s, admin_user)
            clients.create_client(s, admin, new_contact("José García", emails=["jose@example.es"]))
            account = mail_accounts.add_account(
                s, admin, name="Bench", email=user, imap_host=server.host, imap_port=server.port, imap_security="none",
                smtp_host="127.0.0.1", smtp_port=25, smtp_security="none", password=PASSWORD,
            )
            account_id = account.id
            s.expunge(account)

        # baseline: fetch every message with imapclient, 200 per FETCH, nothing else
        started = time.perf_counter()
        with ImapSession(account, PASSWORD) as conn:
            conn.select("INBOX")
            uids = conn.uids_from(1)
            fetched = 0
            for i in range(0, len(uids), 200):
                fetched += sum(1 for _ in conn.fetch_raw(uids[i : i + 200]))
        baseline = time.perf_counter() - started
        assert fetched == count, fetched

        started = time.perf_counter()
        report = mail_sync.sync_account(db, account_id)
        initial = time.perf_counter() - started
        assert report.ok and report.total("stored") == count, (report.error, report.total("stored"))

        quiet = []
        for _ in range(5):
            started = time.perf_counter()
            again = mail_sync.sync_account(db, account_id)
            quiet.append(time.perf_counter() - started)
            assert again.ok and again.total("fetched") == 0
        db.dispose()

        print(f"messages: {count}")
        print(f"baseline imapclient fetch of all: {baseline:.2f} s")
        print(f"initial sync: {initial:.2f} s ({count / initial:,.0f} messages/s)")
        print(f"initial sync / baseline: {initial / baseline:.1f}")
        print(f"feed entries written: {report.total('feed_entries')}")
        print(f"incremental sync, nothing new, p50 of 5: {statistics.median(quiet) * 1000:.0f} ms (target <= 1000 ms)")
        print(f"incremental sync, nothing new, max of 5: {max(quiet) * 1000:.0f} ms")
    except BaseException:
        print(server.log()[-1500:], file=sys.stderr)
        raise
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
