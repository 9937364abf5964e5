"""The agent's headset for SIP calls: a small device protocol, silence, and a sounddevice bridge.

pyVoIP reads and writes audio as 8-bit unsigned linear PCM, 8 kHz mono: one frame is 160 bytes
(20 ms), silence is ``0x80``. An ``AudioDevice`` speaks those frames; ``SoundDeviceAudio`` converts
them to and from the sound card (16-bit at the card's own rate) through PortAudio.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any, Protocol, runtime_checkable

from tscrm.core.errors import TelephonyError
from tscrm.i18n import _

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # pyVoIP needs it too; gone in Python 3.13 (install audioop-lts there)

RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8-bit mono at 8 kHz
FRAME_SECONDS = FRAME_BYTES / RATE
SILENCE = b"\x80" * FRAME_BYTES


@runtime_checkable
class AudioDevice(Protocol):
    """A microphone and a speaker speaking pyVoIP's frames (160 bytes, 8-bit unsigned, 8 kHz)."""

    def start(self) -> None:
        """Open the device (called when a call is answered)."""
        ...

    def read_frame(self) -> bytes:
        """The next 20 ms from the microphone; blocks until it is there (this paces the call)."""
        ...

    def write_frame(self, frame: bytes) -> None:
        """Play 20 ms on the speaker."""
        ...

    def stop(self) -> None:
        """Close the device (called when the call ends)."""
        ...


class NullAudio:
    """No sound card: sends silence, drops what it hears, keeps the 20 ms pace."""

    def __init__(self) -> None:
        self._next = 0.0

    def start(self) -> None:
        self._next = time.monotonic()

    def read_frame(self) -> bytes:
        self._next += FRAME_SECONDS
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()
        return SILENCE

    def write_frame(self, frame: bytes) -> None:
        pass

    def stop(self) -> None:
        pass


def frame_to_pcm16(frame: bytes, rate: int, state: Any = None) -> tuple[bytes, Any]:
    """pyVoIP frame (8-bit unsigned, 8 kHz) to 16-bit signed little-endian at ``rate``."""
    pcm = audioop.lin2lin(audioop.bias(frame, 1, -128), 1, 2)
    if rate != RATE:
        pcm, state = audioop.ratecv(pcm, 2, 1, RATE, rate, state)
    return pcm, state


def pcm16_to_frame(pcm: bytes, rate: int, state: Any = None) -> tuple[bytes, Any]:
    """16-bit signed at ``rate`` to a pyVoIP frame (8-bit unsigned, 8 kHz)."""
    if rate != RATE:
        pcm, state = audioop.ratecv(pcm, 2, 1, rate, RATE, state)
    return audioop.bias(audioop.lin2lin(pcm, 2, 1), 1, 128), state


def _import_sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-not-found]
    except (ImportError, OSError) as exc:  # OSError: the module is there but PortAudio is not
        raise TelephonyError(
            _("Sound for SIP calls needs the audio extra: pip install tscrm[audio] (and the PortAudio "
              "library, e.g. apt install libportaudio2). {error}").format(error=exc)
        ) from exc
    return sounddevice


class SoundDeviceAudio:
    """The system's microphone and speaker through ``sounddevice`` (PortAudio)."""

    def __init__(self, input_device: int | str | None = None, output_device: int | str | None = None) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self._stream: Any = None
        self._rate = RATE
        self._in_state: Any = None
        self._out_state: Any = None
        self._pending = b""
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise TelephonyError now if the extra or PortAudio is missing."""
        _import_sounddevice()

    def start(self) -> None:
        sd = _import_sounddevice()
        try:
            info = sd.query_devices(self.input_device, "input")
            self._rate = int(info.get("default_samplerate") or RATE)
            self._stream = sd.RawStream(samplerate=self._rate, channels=1, dtype="int16",
                                        blocksize=int(self._rate * FRAME_SECONDS),
                                        device=(self.input_device, self.output_device))
            self._stream.start()
        except Exception as exc:
            raise TelephonyError(_("Cannot open the sound device: {error}").format(error=exc)) from exc
        self._in_state = self._out_state = None
        self._pending = b""

    def read_frame(self) -> bytes:
        with self._lock:
            if self._stream is None:
                time.sleep(FRAME_SECONDS)
                return SILENCE
            data, _overflowed = self._stream.read(int(self._rate * FRAME_SECONDS))
            frame, self._in_state = pcm16_to_frame(bytes(data), self._rate, self._in_state)
            self._pending += frame
            frame, self._pending = self._pending[:FRAME_BYTES], self._pending[FRAME_BYTES:]
            return frame.ljust(FRAME_BYTES, b"\x80")

    def write_frame(self, frame: bytes) -> None:
        with self._lock:
            if self._stream is None:
                return
            pcm, self._out_state = frame_to_pcm16(frame, self._rate, self._out_state)
            self._stream.write(pcm)

    def stop(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken stream must not fail a hang-up
                pass
