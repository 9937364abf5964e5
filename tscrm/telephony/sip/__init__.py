"""SIP backend: tscrm itself is the agent's phone (pyVoIP underneath, with our fixes in ``phone``).

Names load on first use, so importing ``tscrm.telephony.sip.phone`` alone does not pull in the
database models, and importing ``SipCallBackend`` does not load pyVoIP until ``start()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tscrm.telephony.sip.audio import AudioDevice, NullAudio, SoundDeviceAudio
    from tscrm.telephony.sip.backend import SipCallBackend

__all__ = ["AudioDevice", "NullAudio", "SipCallBackend", "SoundDeviceAudio"]


def __getattr__(name: str) -> Any:
    if name == "SipCallBackend":
        from tscrm.telephony.sip.backend import SipCallBackend

        return SipCallBackend
    if name in ("AudioDevice", "NullAudio", "SoundDeviceAudio"):
        from tscrm.telephony.sip import audio

        return getattr(audio, name)
    raise AttributeError(name)
