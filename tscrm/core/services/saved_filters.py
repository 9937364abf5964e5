"""Saved client filters: a name for a filter spec, per user (kept in the user's settings).

A spec is what ``tscrm.core.services.dialer.parse_filter_spec`` reads (``tag=vip,owner=me,mine``...).
The dialer, bulk SMS and the CLI take either a saved filter's name or a spec.
"""

from __future__ import annotations

from sqlmodel import Session

from tscrm.core.errors import NotFound
from tscrm.core.permissions import Actor
from tscrm.core.services import clients, users
from tscrm.core.validation import required_text
from tscrm.i18n import _

SETTING_KEY = "saved_client_filters"


def saved_filters(session: Session, actor: Actor) -> dict[str, str]:
    """The actor's saved filters: name -> spec, by name."""
    stored = users.ui_setting(session, actor.id, SETTING_KEY, {}) or {}
    return dict(sorted(stored.items()))


def save_filter(session: Session, actor: Actor, name: str, spec: str) -> None:
    """Save (or replace) ``spec`` under ``name``; a spec that does not parse is refused as it would be used."""
    from tscrm.core.services.dialer import parse_filter_spec

    name = required_text(name, "name", 100)
    parse_filter_spec(session, actor, spec)
    users.save_ui_setting(session, actor, SETTING_KEY, {**saved_filters(session, actor), name: spec.strip()})


def remove_filter(session: Session, actor: Actor, name: str) -> None:
    stored = saved_filters(session, actor)
    if name not in stored:
        raise NotFound(_("No saved filter named {name!r}").format(name=name))
    del stored[name]
    users.save_ui_setting(session, actor, SETTING_KEY, stored)


def resolve_filter(session: Session, actor: Actor, name_or_spec: str) -> clients.ClientFilter:
    """A saved filter by its name, else the text read as a spec (``tag=vip,mine``)."""
    from tscrm.core.services.dialer import parse_filter_spec

    text = (name_or_spec or "").strip()
    stored = saved_filters(session, actor)
    if text in stored:
        return parse_filter_spec(session, actor, stored[text])
    if "=" not in text and text.lower() != "mine":
        raise NotFound(
            _("No saved filter named {name!r} (tscrm clients filters list), and it is not a filter like tag=vip").format(name=text)
        )
    return parse_filter_spec(session, actor, text)
