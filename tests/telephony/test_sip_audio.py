"""The audio bridge (device protocol, silence, sounddevice conversion), mute, and the backend's
input checks that need no server."""

from __future__ import annotations

import sys
import warnings

import pytest

from tests.telephony.conftest import MemoryAudio, collect_rtp, tone
from tscrm.core.errors import TelephonyError, ValidationError
from tscrm.telephony.base import AgentLine, CallBackend, CallEventKind, Capability
from tscrm.telephony.sip import AudioDevice, NullAudio, SipCallBackend
from tscrm.telephony.sip.audio import (
    SILENCE,
    SoundDeviceAudio,
    frame_to_pcm16,
    pcm16_to_frame,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def test_protocols_are_implemented():
    backend = SipCallBackend(server="127.0.0.1", username="agent1", password="x", my_ip="127.0.0.1")
    assert isinstance(backend, CallBackend)
    assert backend.capabilities == frozenset(Capability)
    assert isinstance(NullAudio(), AudioDevice) and isinstance(MemoryAudio(), AudioDevice)
    assert isinstance(SoundDeviceAudio(), AudioDevice)


def test_null_audio_is_silence():
    audio = NullAudio()
    audio.start()
    assert audio.read_frame() == SILENCE == b"\x80" * 160
    audio.write_frame(b"\x00" * 160)
    audio.stop()


def test_frames_convert_to_the_sound_card_and_back():
    frame = tone(1)[0]
    pcm, _ = frame_to_pcm16(frame, 8000)
    assert len(pcm) == 320 and audioop.max(pcm, 2) > 7000  # 16-bit, loud as the 8-bit tone
    back, _ = pcm16_to_frame(pcm, 8000)
    assert back == frame
    pcm48, _state = frame_to_pcm16(frame, 48000)
    assert 950 <= len(pcm48) // 2 <= 960  # 20 ms at 48 kHz (ratecv keeps a few samples back)
    back48, _ = pcm16_to_frame(pcm48, 48000)
    assert abs(len(back48) - 160) <= 2


def test_missing_sounddevice_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as if not installed
    with pytest.raises(TelephonyError, match=r"pip install tscrm\[audio\].*PortAudio"):
        SoundDeviceAudio().check()
    with pytest.raises(TelephonyError, match=r"tscrm\[audio\]"):
        SoundDeviceAudio().start()


def test_calls_before_start_and_bad_input_are_refused():
    backend = SipCallBackend(server="127.0.0.1", username="agent1", password="x", my_ip="127.0.0.1")
    with pytest.raises(TelephonyError, match="not registered"):
        backend.originate(AgentLine("100"), "5551234")
    backend.hang_up("nothing")  # hanging up what is gone is not an error
    backend.close()


@pytest.mark.services
def test_bad_input_on_a_registered_phone(sipp, make_backend):
    run = sipp("registrar.xml", calls=1)
    backend, _ = make_backend(run)
    with pytest.raises(ValidationError):
        backend.originate(AgentLine("100"), "55; DROP")
    with pytest.raises(TelephonyError, match="ended"):
        backend.answer("unknown-call")
    with pytest.raises(TelephonyError, match="ended"):
        backend.send_dtmf("unknown-call", "1")


@pytest.mark.services
def test_muted_call_sends_silence_until_unmuted(sipp, make_backend, rtp_sink):
    port = rtp_sink.getsockname()[1]
    run = sipp("uas-media-sink.xml", fill={"rtpport": str(port), "pt": "0", "codec": "PCMU", "evpt": "101"})
    audio = MemoryAudio(tone(400))
    backend, events = make_backend(run, audio=audio)
    call_id = backend.originate(AgentLine("100"), "5551234")
    backend.set_muted(call_id, True)
    events.wait_for(CallEventKind.ANSWERED)
    with pytest.raises(ValidationError):
        backend.send_dtmf(call_id, "12x")
    muted = collect_rtp(rtp_sink, until=lambda packets: len(packets) >= 20)  # 400 ms of the call
    assert all(set(p[12:]) <= {0xFF, 0x7F} for p in muted)  # mu-law silence only
    backend.set_muted(call_id, False)
    collect_rtp(rtp_sink, until=lambda packets: any(len(set(p[12:])) > 10 for p in packets))  # the voice again
    backend.hang_up(call_id)


class FakeRawStream:
    """Stands in for sounddevice.RawStream: a 48 kHz card whose microphone hears a loud square wave."""

    def __init__(self, *, samplerate, channels, dtype, blocksize, device):
        assert (channels, dtype) == (1, "int16")
        self.samplerate, self.blocksize, self.device = samplerate, blocksize, device
        self.played = b""
        self.closed = False

    def start(self):
        pass

    def read(self, frames):
        wave = b"".join((8000 if (i // 24) % 2 else -8000).to_bytes(2, "little", signed=True) for i in range(frames))
        return wave, False

    def write(self, data):
        self.played += bytes(data)

    def stop(self):
        pass

    def close(self):
        self.closed = True


def test_sounddevice_bridge_with_a_48khz_card(monkeypatch):
    streams = []

    class FakeSoundDevice:
        @staticmethod
        def query_devices(device, kind):
            return {"name": "fake", "default_samplerate": 48000.0}

        @staticmethod
        def RawStream(**kwargs):  # sounddevice's name
            streams.append(FakeRawStream(**kwargs))
            return streams[-1]

    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice)
    audio = SoundDeviceAudio()
    audio.start()
    stream = streams[0]
    assert (stream.samplerate, stream.blocksize) == (48000, 960)  # 20 ms blocks at the card's rate
    frame = audio.read_frame()
    assert len(frame) == 160 and max(frame) - min(frame) > 40  # the square wave, as 8-bit unsigned
    audio.write_frame(tone(1)[0])
    assert 1900 <= len(stream.played) <= 1920  # 20 ms of 16-bit at 48 kHz went to the speaker
    audio.stop()
    assert stream.closed
