"""The FastAPI application: ``create_app(database)``; ``tscrm serve`` runs it on uvicorn.

``POST /zadarma/webhook``: 200 for an event stored and applied (for NOTIFY_START, a JSON
``{"redirect": EXT, "return_timeout": 20}`` when the caller's owner should take the call); 400 for a
request that is not a known event with its fields; 401 for a missing or wrong signature; 409 for a
stale or replayed event; 413 for a body over 64 KiB; 503 when no Zadarma secret is configured. Every refusal is logged
(``tscrm.server``) with the event and the remote address, never the secret. An incoming ``SMS`` event
lands in the sender's feed (``tscrm.core.services.sms.record_incoming``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from tscrm.core.db import Database
from tscrm.core.errors import TscrmError
from tscrm.core.services import telephony
from tscrm.core.types import utcnow
from tscrm.integrations.zadarma_signing import SECRET_VARIABLE
from tscrm.server.zadarma_webhook import (
    WebhookRefused,
    call_report,
    check_fresh,
    check_shape,
    check_signature,
    read_fields,
    recording_ref,
)

log = logging.getLogger("tscrm.server")

STALE_AFTER = timedelta(minutes=10)
REDIRECT_TIMEOUT_S = 20  # seconds the owner's extension rings before the PBX's normal scenario goes on
WEBHOOK_PATH = "/zadarma/webhook"
MAX_BODY = 64 * 1024  # a webhook is a few hundred bytes


def create_app(
    database: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    stale_after: timedelta = STALE_AFTER,
    secret: str | None = None,
) -> FastAPI:
    """The app, bound to one database. ``clock`` and ``secret`` are for tests (else the company's
    Zadarma secret, else the ``TSCRM_ZADARMA_SECRET`` environment variable)."""
    app = FastAPI(title="tscrm", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get(WEBHOOK_PATH)
    def echo(request: Request) -> Response:
        token = request.query_params.get("zd_echo")
        if token is None:
            return PlainTextResponse("missing zd_echo", status_code=400)
        return PlainTextResponse(token)

    @app.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        remote = request.client.host if request.client else "?"
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                log.warning("Zadarma webhook refused (413) from %s: body over %d bytes", remote, MAX_BODY)
                return PlainTextResponse("too large", status_code=413)
        signature = request.headers.get("Signature")
        content_type = request.headers.get("content-type", "")
        try:
            answer = await run_in_threadpool(_handle, body, content_type, signature)
        except WebhookRefused as refused:
            log.warning("Zadarma webhook refused (%s) from %s: %s", refused.status, remote, refused.reason)
            return PlainTextResponse(refused.reason, status_code=refused.status)
        if answer is None:
            return Response(status_code=200)
        return JSONResponse(answer)

    def _secret(session) -> str:
        if secret is not None:
            return secret
        try:
            stored = telephony.zadarma_secret(session)
        except TscrmError as exc:
            log.error("The Zadarma secret cannot be read: %s", exc)
            stored = None
        value = stored or os.environ.get(SECRET_VARIABLE, "")
        if not value:
            raise WebhookRefused(503, f"no Zadarma secret is configured (Settings → Telephony, or {SECRET_VARIABLE})")
        return value

    def _handle(body: bytes, content_type: str, signature: str | None) -> dict | None:
        fields = read_fields(body, content_type)
        event = check_shape(fields)
        now = clock()
        with database.read() as session:  # a forged request never takes the write lock
            key = _secret(session)
            tz = telephony.pbx_timezone(session)
        check_signature(event, fields, signature, key)
        check_fresh(event, fields, tz, now, stale_after)
        with database.write() as session:
            stored = telephony.store_pbx_event(session, event, fields)
            if stored is None:
                raise WebhookRefused(409, f"{event} {fields.get('pbx_call_id', '')} replayed")
            number = _apply(session, event, fields, tz, now)
            if event == "NOTIFY_START" and number:
                extension = telephony.route_incoming(session, number, now)
                if extension:
                    log.info("Zadarma call %s routed to the owner's extension %s", fields.get("pbx_call_id"), extension)
                    return {"redirect": extension, "return_timeout": REDIRECT_TIMEOUT_S}
        return None

    def _apply(session, event: str, fields: dict[str, str], tz: str, now: datetime) -> str | None:
        """Apply the event to its call; returns the far end's number. A failure here is logged, the
        event itself stays stored (the PBX would only send it again)."""
        try:
            with session.begin_nested():
                report = call_report(fields, tz, now)
                if report is not None:
                    telephony.apply_call_event(session, **report.as_kwargs())
                ref = recording_ref(fields)
                if ref is not None:
                    telephony.attach_recording(session, fields.get("pbx_call_id", ""), ref)
                if event == "SMS" and str(fields.get("caller_id") or "").strip():
                    from tscrm.core.services import sms

                    sms.record_incoming(session, fields["caller_id"], fields.get("text", ""), fields.get("caller_did"), now)
                return report.number if report is not None else None
        except (TscrmError, ValueError, KeyError) as exc:
            log.error("Zadarma %s %s stored but not applied: %s", event, fields.get("pbx_call_id", ""), exc)
            return None

    return app
