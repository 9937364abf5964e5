"""Fixtures for the SIP backend: SIPp on free loopback ports, a backend registered against it, events.

Every SIPp run writes what it received and sent to ``tmp_path`` (``-trace_msg -message_file``) so a
test can read the bytes on the wire; it is stopped in teardown.
"""

from __future__ import annotations

import math
import re
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tscrm.telephony.base import CallEvent, CallEventKind

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # as pyVoIP does

SCENARIOS = Path(__file__).parent / "sipp"
USER, PASSWORD = "agent1", "secret"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_media_port() -> int:
    """An even free UDP port with the next three free too (SIPp's echo binds port, +2 for video)."""
    for _ in range(50):
        base = free_udp_port() & ~1
        socks = []
        try:
            for offset in range(4):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free media ports")


@dataclass
class TracedMessage:
    direction: str  # "received" or "sent", from SIPp's side
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0]

    def header(self, name: str) -> str | None:
        for line in re.split(r"\r?\n", self.text):
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                return value.strip()
        return None


@dataclass
class SippRun:
    proc: subprocess.Popen
    port: int
    media_port: int
    message_file: Path
    log_file: Path
    error_file: Path

    def wait(self, timeout: float = 10) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"SIPp did not finish:\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        parts = []
        for path in (self.error_file, self.log_file):
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def messages(self) -> list[TracedMessage]:
        if not self.message_file.exists():
            return []
        text = self.message_file.read_text(errors="replace")
        found = []
        pattern = re.compile(
            r"message (received|sent) (?:\[\d+\] bytes|\(\d+ bytes\)) ?:\s*\n\n(.*?)(?=\n-{10,}|\Z)", re.DOTALL
        )
        for match in pattern.finditer(text):
            found.append(TracedMessage(match.group(1), match.group(2).strip("\n")))
        return found

    def received(self, start: str, method: str | None = None) -> list[TracedMessage]:
        """Messages SIPp received whose first line starts with ``start`` (and whose CSeq is ``method``)."""
        return self._select("received", start, method)

    def sent(self, start: str, method: str | None = None) -> list[TracedMessage]:
        return self._select("sent", start, method)

    def _select(self, direction: str, start: str, method: str | None) -> list[TracedMessage]:
        return [
            m for m in self.messages()
            if m.direction == direction and m.first_line.startswith(start)
            and (method is None or (m.header("CSeq") or "").endswith(" " + method))
        ]


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., SippRun]]:
    """Start SIPp with a scenario of ``tests/telephony/sipp`` (or an absolute path): ``sipp("uas-answer.xml")``.

    ``remote=(host, port)`` makes it a UAC calling there; ``rtp_echo`` echoes RTP; ``variables`` are
    passed with ``-set`` (read in the scenario as ``[$name]``); ``fill`` replaces ``{{name}}`` in the
    scenario before SIPp reads it (for what SIPp checks at load time, like a response's status code).
    """
    if shutil.which("sipp") is None:
        from conftest import need_service  # tests/conftest.py

        need_service("SIPp", "install Debian's sip-tester")
    runs: list[SippRun] = []

    def start(scenario: str, *, calls: int = 2, remote: tuple[str, int] | None = None, rtp_echo: bool = False,
              variables: dict[str, str] | None = None, service: str = "912345678",
              fill: dict[str, str] | None = None) -> SippRun:
        name = f"{Path(scenario).stem}-{len(runs)}"
        path = SCENARIOS / scenario
        if fill:
            text = path.read_text()
            for key, value in fill.items():
                text = text.replace("{{" + key + "}}", value)
            path = tmp_path / f"{name}.xml"
            path.write_text(text)
        message_file, log_file, error_file = (tmp_path / f"{name}.{kind}" for kind in ("messages", "log", "errors"))
        # Free ports are only probed, so another worker (or a probe of this one) may take one before SIPp
        # binds it: wait until SIPp holds its ports, and start again on new ones if it could not bind.
        for _attempt in range(5):
            run = _launch(path, name, calls, remote, rtp_echo, variables, service, message_file, log_file, error_file)
            if run is not None:
                runs.append(run)
                return run
        raise RuntimeError(f"SIPp could not bind its ports: {log_file.read_text(errors='replace')[-2000:]}")

    def _launch(path, name, calls, remote, rtp_echo, variables, service, message_file, log_file, error_file) -> SippRun | None:
        port, media_port = free_udp_port(), free_media_port()
        command = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(port),
                   "-mp", str(media_port), "-m", str(calls), "-nostdin", "-trace_msg",
                   "-message_file", str(message_file), "-trace_err", "-error_file", str(error_file),
                   "-timeout", "30s", "-timeout_error"]
        if rtp_echo:
            command.append("-rtp_echo")
        for key, value in (variables or {}).items():
            command += ["-set", key, value]
        if remote is not None:
            command += ["-s", service, "-l", "1", "-r", "1", f"{remote[0]}:{remote[1]}"]
        with log_file.open("wb") as log:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=tmp_path)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                said = log_file.read_text(errors="replace") + (error_file.read_text(errors="replace") if error_file.exists() else "")
                return None if "already in use" in said else SippRun(
                    proc, port, media_port, message_file, log_file, error_file)
            if not _udp_port_free(port) and not _udp_port_free(media_port):
                break
            time.sleep(0.02)
        return SippRun(proc, port, media_port, message_file, log_file, error_file)

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.terminate()
            try:
                run.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()


@dataclass
class EventLog:
    """A listener that keeps every CallEvent and lets a test wait for one."""

    events: list[CallEvent] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, event: CallEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: CallEventKind, timeout: float = 8.0, call_id: str | None = None) -> CallEvent:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.kind == kind and (call_id is None or event.call_id == call_id):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} event; got {[(e.kind, e.status_code) for e in self.events]}")
                self._cond.wait(left)

    def kinds(self) -> list[CallEventKind]:
        with self._cond:
            return [event.kind for event in self.events]


class MemoryAudio:
    """An AudioDevice double: plays a script of frames into the call, records what the call plays."""

    def __init__(self, script: list[bytes] | None = None) -> None:
        self.script = list(script or [])
        self.heard: list[bytes] = []
        self.started = threading.Event()
        self.stopped = threading.Event()
        self._next = 0.0

    def start(self) -> None:
        self._next = time.monotonic()
        self.started.set()

    def read_frame(self) -> bytes:
        self._next += 0.02
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return self.script.pop(0) if self.script else b"\x80" * 160

    def write_frame(self, frame: bytes) -> None:
        self.heard.append(frame)

    def stop(self) -> None:
        self.stopped.set()


def tone(frames: int, start: int = 0) -> list[bytes]:
    """Frames of a 440 Hz tone, 8-bit unsigned like pyVoIP's audio."""
    samples = bytes(128 + int(60 * math.sin(2 * math.pi * 440 * (start + i) / 8000)) for i in range(frames * 160))
    return [samples[i : i + 160] for i in range(0, len(samples), 160)]


def through(codec: str, frames: list[bytes]) -> bytes:
    """What the far end decodes from these frames when they are encoded with ``codec``."""
    pcm = audioop.bias(b"".join(frames), 1, -128)
    if codec == "PCMA":
        return audioop.bias(audioop.alaw2lin(audioop.lin2alaw(pcm, 1), 1), 1, 128)
    return audioop.bias(audioop.ulaw2lin(audioop.lin2ulaw(pcm, 1), 1), 1, 128)


@pytest.fixture
def rtp_sink():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def collect_rtp(sock, until: Callable[[list[bytes]], bool], deadline: float = 10.0) -> list[bytes]:
    """Packets from the sink until ``until(packets)`` holds; fails after ``deadline`` seconds.

    Waiting for what the test needs, never for a fixed time, keeps a loaded CI machine from failing it."""
    packets: list[bytes] = []
    give_up = time.monotonic() + deadline
    while not until(packets):
        if time.monotonic() > give_up:
            pytest.fail(f"the RTP sink did not get what the test waits for in {deadline} s ({len(packets)} packets)")
        try:
            packets.append(sock.recv(2048))
        except TimeoutError:
            pass
    return packets


def voice_frames(decoded: bytes) -> list[bytes]:
    """The 20 ms frames of decoded 8-bit audio that are not silence.

    The stream sends silence whenever the microphone's next frame is late (an underrun), so a tone may
    arrive with silent frames between its parts; what matters is that every part arrives, in order."""
    frames = [decoded[i : i + 160] for i in range(0, len(decoded), 160)]
    return [frame for frame in frames if set(frame) != {0x80}]


@pytest.fixture
def make_backend() -> Iterator[Callable[..., tuple[object, EventLog]]]:
    """``backend, events = make_backend(run, **overrides)``: started, subscribed, closed in teardown."""
    from tscrm.telephony.sip import SipCallBackend

    made: list[SipCallBackend] = []

    def make(run: SippRun | None = None, *, start: bool = True, **overrides: object) -> tuple[SipCallBackend, EventLog]:
        rtp = free_media_port()
        options: dict[str, object] = {
            "server": "127.0.0.1", "port": run.port if run else free_udp_port(), "username": USER,
            "password": PASSWORD, "my_ip": "127.0.0.1", "sip_port": free_udp_port(), "rtp_low": rtp,
            "rtp_high": rtp + 1, "timeout": 3.0, "ring_timeout": 5.0, "register_expires": 3600,
            "transfer_timeout": 3.0,
        }
        options.update(overrides)
        backend = SipCallBackend(**options)  # type: ignore[arg-type]
        events = EventLog()
        backend.subscribe(events)
        made.append(backend)
        if start:
            try:
                backend.start()
            except Exception as exc:
                if run is not None and run.proc.poll() is not None and "did not answer" in str(exc):
                    raise AssertionError(f"SIPp exited early:\n{run.diagnostics()}") from None
                raise
        return backend, events

    yield make
    for backend in made:
        backend.close()
