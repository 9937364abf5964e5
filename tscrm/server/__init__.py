"""The HTTP side of tscrm: ``tscrm serve`` runs it (FastAPI on uvicorn).

Today it receives the Zadarma PBX's webhooks (``/zadarma/webhook``): checks their signature, refuses
stale and replayed ones, stores each event and applies it to the calls (tscrm.core.services.telephony).
Running apps learn about new events through the database's change notices.
"""
