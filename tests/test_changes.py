"""Other agents' commits are noticed within the polling interval, on both databases."""

from tscrm.core.changes import ChangeWatcher
from tscrm.core.services import leads
from tscrm.core.services.clients import new_contact


def test_watcher_sees_a_commit_from_another_connection(db, admin):
    watcher = ChangeWatcher(db, poll_interval=0.05)
    try:
        assert watcher.wait(0.2) is False
        with db.write() as s:
            leads.create_lead(s, admin, new_contact("Seen live"), to_pool=True)
        assert watcher.wait(2.0) is True
        assert watcher.wait(0.2) is False  # one change, one wake-up
        with db.read() as s:  # reading is not a change
            leads.list_leads(s, admin)
        assert watcher.wait(0.2) is False
    finally:
        watcher.close()


def test_a_claim_is_a_change(db, admin, make_user):
    bob = make_user()
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Claim me"), to_pool=True)
    watcher = ChangeWatcher(db, poll_interval=0.05)
    try:
        with db.write() as s:
            leads.claim_lead(s, bob, lead.id)
        assert watcher.wait(2.0) is True
    finally:
        watcher.close()
