"""The call backend a user's telephony settings ask for.

- softphone: tscrm registers the user's SIP account and is the phone (``SipCallBackend``);
- softphone in working hours: the same, ringing only inside the user's working hours (outside them
  the PBX rings the desk phone or app on the extension);
- desk phone: the Zadarma PBX rings the agent's extension first, then the client (``ZadarmaCallBackend``).

Whatever is missing raises ``TelephonyError`` naming what to configure and where. The backend comes
back unstarted: whoever owns it calls ``start()`` when it has one (SIP registers there).

Environment overrides for machines with special networks: ``TSCRM_SIP_LOCAL_IP`` (the address the
PBX should send to), ``TSCRM_SIP_LOCAL_PORT``, ``TSCRM_RTP_PORTS`` ("10000-20000"), ``TSCRM_SIP_AUDIO=none``
(no sound device), ``TSCRM_ZADARMA_URL`` (another API base, e.g. the sandbox).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from tscrm.core.errors import ConfigError, TelephonyError
from tscrm.core.models_telephony import TelephonyMode
from tscrm.i18n import _

if TYPE_CHECKING:
    from sqlmodel import Session

    from tscrm.core.models import User
    from tscrm.telephony.base import CallBackend

log = logging.getLogger(__name__)

DEFAULT_RTP_PORTS = (10000, 20000)


def backend_for(session: Session, user: User) -> CallBackend:
    """The backend for ``user`` as their telephony settings say (TelephonyError: what to configure)."""
    from tscrm.core.services import telephony

    check_settings(session, user)
    settings = telephony.user_settings(session, user.id)  # type: ignore[arg-type]
    mode = TelephonyMode(settings.mode)
    if mode == TelephonyMode.DESK_PHONE:
        return zadarma_backend(session, user)
    return sip_backend(session, user, settings, working_hours_only=mode == TelephonyMode.SOFTPHONE_WORKING_HOURS)


def check_settings(session: Session, user: User) -> None:
    """Raise TelephonyError naming what is missing, without touching the network or the keyring
    (quick enough for the app to tell "not configured" before its first frame)."""
    from tscrm.core.services import telephony
    from tscrm.integrations.zadarma_signing import KEY_VARIABLE, SECRET_VARIABLE

    settings = telephony.user_settings(session, user.id)  # type: ignore[arg-type]
    if TelephonyMode(settings.mode) == TelephonyMode.DESK_PHONE:
        if not (user.extension or "").strip():
            raise TelephonyError(_("Desk-phone mode needs your PBX extension: set it in your profile (Team)."))
        company = telephony.company_settings(session)
        in_settings = bool((company.zadarma_key or "").strip() and company.zadarma_secret_ref)
        in_environment = bool(os.environ.get(KEY_VARIABLE, "").strip() and os.environ.get(SECRET_VARIABLE, "").strip())
        if not (in_settings or in_environment):
            raise TelephonyError(
                _("Desk-phone mode needs the company's Zadarma API key and secret: an admin sets them in Settings → Telephony.")
            )
        return
    missing = [
        name
        for name, value in (
            (_("SIP server"), settings.sip_server),
            (_("SIP user"), settings.sip_username),
            (_("SIP password"), settings.sip_secret_ref),
        )
        if not (value or "").strip()
    ]
    if missing:
        raise TelephonyError(
            _("Softphone mode needs {missing}: set them in Settings → Telephony.").format(missing=", ".join(missing))
        )


def zadarma_backend(session: Session, user: User) -> CallBackend:
    from tscrm.telephony.zadarma import DEFAULT_BASE_URL, ZadarmaCallBackend, ZadarmaClient, zadarma_credentials

    try:
        key, secret = zadarma_credentials(session)
    except ConfigError as exc:
        raise TelephonyError(
            _("Desk-phone mode needs the company's Zadarma API key and secret: an admin sets them in Settings → Telephony. ({reason})").format(
                reason=str(exc)
            )
        ) from exc
    client = ZadarmaClient(key, secret, base_url=os.environ.get("TSCRM_ZADARMA_URL") or DEFAULT_BASE_URL)
    return ZadarmaCallBackend(client)


def sip_backend(session: Session, user: User, settings, *, working_hours_only: bool) -> CallBackend:
    from tscrm.core.services import telephony

    try:
        password = telephony.sip_password(session, user.id)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise TelephonyError(str(exc)) from exc
    server, port = settings.sip_server.strip(), int(settings.sip_port or 5060)
    rtp_low, rtp_high = rtp_ports()
    ring_only_when = working_hours_check(user) if working_hours_only else None
    sip_class = _sip_class()
    return sip_class(
        server=server,
        port=port,
        username=settings.sip_username.strip(),
        password=password,
        my_ip=os.environ.get("TSCRM_SIP_LOCAL_IP") or local_ip_towards(server, port),
        sip_port=int(os.environ.get("TSCRM_SIP_LOCAL_PORT") or 0) or free_udp_port(),
        rtp_low=rtp_low,
        rtp_high=rtp_high,
        audio=sound_device(),
        ring_only_when=ring_only_when,
    )


def _sip_class():
    try:
        from tscrm.telephony.sip import SipCallBackend
    except ImportError as exc:
        raise TelephonyError(_("The SIP softphone is not available in this installation ({error}).").format(error=exc)) from exc
    return SipCallBackend


def sound_device():
    """The microphone and speaker (sounddevice/PortAudio) when installed; else None: the SIP backend
    carries the calls without sound (logged, so the missing extra is found). ``TSCRM_SIP_AUDIO=none``
    forces silence (servers, tests)."""
    if os.environ.get("TSCRM_SIP_AUDIO", "").strip().lower() == "none":
        return None
    from tscrm.telephony.sip.audio import SoundDeviceAudio

    device = SoundDeviceAudio()
    try:
        device.check()
    except TelephonyError as exc:
        log.warning("softphone without sound: %s", exc)
        return None
    return device


def working_hours_check(user: User) -> Callable[[], bool]:
    """A function telling whether now is inside ``user``'s working hours (a copy: no session needed)."""
    from tscrm.core.models import User as UserModel
    from tscrm.core.services.telephony import inside_working_hours
    from tscrm.core.types import utcnow

    snapshot = UserModel(
        name=user.name, email=user.email, group_id=user.group_id, timezone=user.timezone, settings=dict(user.settings or {})
    )
    return lambda: inside_working_hours(snapshot, utcnow())


def rtp_ports() -> tuple[int, int]:
    raw = os.environ.get("TSCRM_RTP_PORTS", "").strip()
    if not raw:
        return DEFAULT_RTP_PORTS
    low, _sep, high = raw.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        raise TelephonyError(_("TSCRM_RTP_PORTS: write a range like 10000-20000, not {value!r}").format(value=raw)) from None
    if not 1024 <= first < last <= 65535:
        raise TelephonyError(_("TSCRM_RTP_PORTS: write a range like 10000-20000, not {value!r}").format(value=raw))
    return first, last


def local_ip_towards(server: str, port: int) -> str:
    """The address of this machine on the route to the SIP server (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((server, port))
            return probe.getsockname()[0]
    except OSError as exc:
        raise TelephonyError(_("Cannot reach the SIP server {server}: {error}").format(server=server, error=exc)) from exc


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]
