"""The Teamsale (Zadarma CRM) API client: signed GET requests to ``/v1/zcrm/...``, paged, rate limited.

Same key, signature and limits as the PBX API (see ``zadarma_signing``): every request carries
``format=json`` among its signed parameters and ``Authorization: <key>:<signature>``. Lists are read
with ``take``/``skip`` until ``totalCount`` is reached. At most 100 requests a minute are sent, and an
HTTP 429 waits (``Retry-After``, else a growing pause) and tries again.

Implements ``tscrm.core.imports.teamsale.TeamsaleSource``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Self
from zoneinfo import ZoneInfo

import httpx

from tscrm.core.errors import PermissionDenied, TscrmError
from tscrm.i18n import _
from tscrm.integrations.zadarma_signing import signed_request

DEFAULT_BASE_URL = "https://api.zadarma.com"
PREFIX = "/v1/zcrm"
PAGE_SIZE = 100
REQUESTS_PER_MINUTE = 100
MAX_RETRIES = 5


class TeamsaleError(TscrmError):
    """The Teamsale API answered with an error, or could not be reached."""


class TeamsaleAuthError(PermissionDenied):
    """Teamsale refused the key or the signature."""


class TeamsaleClient:
    def __init__(
        self,
        key: str,
        secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timezone: str = "UTC",
        page_size: int = PAGE_SIZE,
        timeout: float = 30.0,
        requests_per_minute: int = REQUESTS_PER_MINUTE,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not key or not secret:
            raise TeamsaleAuthError(_("Teamsale: both --key and --secret are needed"))
        self.key = key
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.zone = ZoneInfo(timezone)
        self.page_size = page_size
        self.requests_per_minute = requests_per_minute
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self.requests = 0
        self._http = httpx.Client(timeout=timeout, transport=transport, headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------------

    def _throttle(self) -> None:
        """No more than ``requests_per_minute`` requests in any minute."""
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= 60:
            self._sent.popleft()
        if len(self._sent) >= self.requests_per_minute:
            self._sleep(60 - (now - self._sent[0]))
        self._sent.append(time.monotonic())

    def get(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``/v1/zcrm<method>`` with signed parameters; the decoded JSON answer."""
        path = PREFIX + method
        request = signed_request("GET", self.base_url, path, params, self.key, self.secret)
        for attempt in range(MAX_RETRIES + 1):
            self._throttle()
            self.requests += 1
            try:
                response = self._http.get(request.url, headers=request.headers)
            except httpx.HTTPError as exc:
                raise TeamsaleError(_("Teamsale: cannot reach {url}: {reason}").format(url=self.base_url, reason=exc)) from None
            if response.status_code == 429 and attempt < MAX_RETRIES:
                retry_after = response.headers.get("Retry-After", "")
                self._sleep(float(retry_after) if retry_after.isdigit() else min(60.0, 2.0 ** (attempt + 1)))
                continue
            return self._answer(response, path)
        raise TeamsaleError(_("Teamsale: still rate limited after {n} tries").format(n=MAX_RETRIES))

    @staticmethod
    def _answer(response: httpx.Response, path: str) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        message = ""
        if isinstance(data, dict) and data.get("status") == "error":
            message = str(data.get("message") or data.get("data") or "")
        if response.status_code in (401, 403):
            raise TeamsaleAuthError(
                _("Teamsale refused the key or signature ({path}): {message}").format(path=path, message=message or response.status_code)
            )
        if response.status_code >= 400 or message:
            raise TeamsaleError(
                _("Teamsale error on {path} (HTTP {status}): {message}").format(
                    path=path, status=response.status_code, message=message or response.text[:200]
                )
            )
        if data is None:
            raise TeamsaleError(_("Teamsale: {path} did not answer JSON").format(path=path))
        return data

    def pages(self, method: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (``{"totalCount": n, key: [...]}``)."""
        skip = 0
        while True:
            data = self.get(method, {**(params or {}), "take": self.page_size, "skip": skip})
            items = data.get(key) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise TeamsaleError(_("Teamsale: {method} answered without a list of {key}").format(method=method, key=key))
            yield from (i for i in items if isinstance(i, dict))
            skip += len(items)
            total = data.get("totalCount") if isinstance(data, dict) else None
            if not items or (isinstance(total, int) and skip >= total) or len(items) < self.page_size:
                return

    def _when(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def _list(data: Any, key: str) -> list[dict[str, Any]]:
        items = data.get(key) if isinstance(data, dict) else data
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    # -- TeamsaleSource --------------------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        return self._list(self.get("/users"), "users")

    def labels(self) -> list[dict[str, Any]]:
        return self._list(self.get("/customers/labels"), "labels")

    def utms(self) -> list[dict[str, Any]]:
        return self._list(self.get("/customers/utms"), "utms")

    def customers(self) -> Iterator[dict[str, Any]]:
        return self.pages("/customers", "customers")

    def leads(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"filter": {"responsible": -2}}  # assigned and unassigned leads
        if since is not None:
            params["filter"]["createdAfter"] = self._when(since)
        return self.pages("/leads", "leads", params)

    def deals(self) -> Iterator[dict[str, Any]]:
        return self.pages("/deals", "deals")

    def events(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"filter": {"completed": 1}}  # completed tasks too
        if since is not None:
            params["filter"]["start"] = self._when(since)
        return self.pages("/events", "events", params)

    def calls(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        if since is not None:
            params["filter"] = {"dateFrom": self._when(since)}
        return self.pages("/calls", "calls", params)
