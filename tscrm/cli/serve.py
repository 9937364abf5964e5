"""``tscrm serve``: the HTTP server that receives the PBX's webhooks (tscrm.server)."""

from __future__ import annotations

from typing import Annotated

import typer

from tscrm.i18n import _


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help=_("Address to listen on."))] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help=_("Port to listen on."))] = 8080,
) -> None:
    """Run the webhook server (Zadarma PBX events at /zadarma/webhook) until Ctrl+C."""
    import logging

    import uvicorn

    from tscrm.server.app import create_app

    database = ctx.obj.database()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    typer.echo(_("Listening on http://{host}:{port}/zadarma/webhook").format(host=host, port=port))
    uvicorn.run(create_app(database), host=host, port=port, log_level="info")
