"""The CalDAV side of a calendar account (caldav): log in, find the chosen calendar, list the
events' ETags, fetch events in batches, write and delete one with ETag preconditions.

Every failure becomes a ``CalendarError`` naming the account, the server and the step that failed
(connect, login, finding the calendar, or the request). A write whose precondition fails (the event
changed on the server since it was listed) raises ``Changed``: the sync leaves that item for the
next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

from tscrm.core.errors import CalendarError
from tscrm.i18n import _

TIMEOUT_S = 30
BATCH = 100  # events per calendar-multiget REPORT
ICS_TYPE = "text/calendar; charset=utf-8"
PROPFIND_ETAGS = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>'
)


class Changed(Exception):
    """The server's copy is not the one the write was based on (HTTP 412)."""


@dataclass
class RemoteCalendar:
    url: str
    name: str


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


class CalendarSession:
    """One logged-in CalDAV client. ``label`` names the account in error messages."""

    def __init__(self, url: str, username: str, password: str, *, label: str = "", timeout: float = TIMEOUT_S) -> None:
        import caldav

        self.url = url
        self.label = label or username
        self.client = caldav.DAVClient(url=url, username=username, password=password, timeout=timeout)

    def __enter__(self) -> CalendarSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001, S110 - closing never fails a sync
            pass

    def _fail(self, step: str, exc: BaseException | str) -> CalendarError:
        reason = exc if isinstance(exc, str) else _reason(exc)
        return CalendarError(
            _("{account}: {url}: {step} failed: {reason}").format(account=self.label, url=self.url, step=step, reason=reason)
        )

    def _call(self, step: str, func, *args, **kwargs):
        from caldav.lib import error

        try:
            return func(*args, **kwargs)
        except error.AuthorizationError as exc:
            raise self._fail(_("login"), _("the server refused the username or password ({reason})").format(reason=_reason(exc))) from None
        except error.DAVError as exc:
            raise self._fail(step, exc) from None
        except OSError as exc:  # connection refused, DNS, TLS, timeouts (niquests/requests errors are OSErrors)
            raise self._fail(step, exc) from None

    # -- discovery ---------------------------------------------------------------------------

    def calendars(self) -> list[RemoteCalendar]:
        """The user's calendars (logs in)."""

        def find() -> list[RemoteCalendar]:
            principal = self.client.principal()
            return [RemoteCalendar(str(c.url), c.get_display_name() or str(c.url).rstrip("/").rsplit("/", 1)[-1]) for c in principal.calendars()]

        return self._call(_("finding the calendars"), find)

    def resolve(self, chosen: str, known_url: str | None = None) -> RemoteCalendar:
        """The calendar to sync: ``known_url`` (resolved before), else ``chosen`` (a URL, or a name),
        else the first calendar."""
        if known_url:
            return RemoteCalendar(known_url, chosen or known_url)
        if chosen.startswith(("http://", "https://")):
            return RemoteCalendar(chosen if chosen.endswith("/") else chosen + "/", chosen)
        found = self.calendars()
        if not found:
            raise self._fail(_("finding the calendar"), _("the account has no calendar"))
        if not chosen:
            return found[0]
        for calendar in found:
            if calendar.name.casefold() == chosen.casefold() or calendar.url.rstrip("/").rsplit("/", 1)[-1] == chosen:
                return calendar
        raise self._fail(
            _("finding the calendar"),
            _("no calendar named {name!r}; the account has: {names}").format(name=chosen, names=", ".join(c.name for c in found)),
        )

    # -- reading -----------------------------------------------------------------------------

    def etags(self, calendar_url: str) -> dict[str, str]:
        """href (path) -> ETag of every resource in the calendar."""
        from caldav.elements import dav

        response = self._call(_("listing the events"), self.client.propfind, calendar_url, PROPFIND_ETAGS, depth=1)
        if response.status >= 400:
            raise self._fail(_("listing the events"), f"HTTP {response.status}")
        own = unquote(urlsplit(calendar_url).path).rstrip("/")
        out: dict[str, str] = {}
        for href, props in response.expand_simple_props([dav.GetEtag()]).items():
            path = unquote(urlsplit(href).path)
            if path.rstrip("/") == own or path.endswith("/"):
                continue
            etag = props.get(dav.GetEtag.tag)
            if etag:
                out[path] = etag
        return out

    def fetch(self, calendar_url: str, hrefs: list[str], batch: int = BATCH) -> dict[str, tuple[str, str | None]]:
        """href -> (iCalendar text, ETag), ``batch`` per calendar-multiget REPORT."""
        import caldav
        from caldav.elements import dav

        calendar = caldav.Calendar(client=self.client, url=calendar_url)
        out: dict[str, tuple[str, str | None]] = {}
        for i in range(0, len(hrefs), batch):
            urls = [calendar.url.join(quote(h)) for h in hrefs[i : i + batch]]
            objects = self._call(_("fetching events"), calendar.multiget, urls)
            for obj in objects:
                out[unquote(urlsplit(str(obj.url)).path)] = (obj.data, (obj.props or {}).get(dav.GetEtag.tag))
        return out

    # -- writing -----------------------------------------------------------------------------

    def href_for(self, calendar_url: str, uid: str) -> str:
        return unquote(urlsplit(calendar_url).path).rstrip("/") + "/" + uid + ".ics"

    def _url(self, href: str) -> str:
        return urljoin(self.url, quote(href))

    def put(self, href: str, ics: str, *, etag: str | None = None) -> str | None:
        """Create (``etag`` None: only if absent) or replace (only if still ``etag``) an event; its new ETag."""
        headers = {"Content-Type": ICS_TYPE}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"
        response = self._call(_("saving an event"), self.client.put, self._url(href), ics, headers)
        if response.status == 412:
            raise Changed(href)
        if response.status >= 400:
            raise self._fail(_("saving an event"), f"{href}: HTTP {response.status}")
        return response.headers.get("ETag") or response.headers.get("etag")

    def delete(self, href: str, *, etag: str | None) -> None:
        """Delete an event (only if still ``etag``); an event already gone is fine."""
        headers = {"If-Match": etag} if etag else {}
        response = self._call(_("deleting an event"), self.client.delete, self._url(href), headers)
        if response.status == 412:
            raise Changed(href)
        if response.status >= 400 and response.status != 404:
            raise self._fail(_("deleting an event"), f"{href}: HTTP {response.status}")
