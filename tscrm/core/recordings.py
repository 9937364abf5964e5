"""Call recordings: fetch one into the local cache, and play it with whatever player the system has.

Where a recording comes from is a ``RecordingSource``. For now only local files are known (the
call's ``recording_ref`` is a path or a ``file://`` URL); fetching from the PBX arrives with the
telephony bridge, which supplies its own source. Playing never happens here in the caller's thread
of control on purpose: ``start_player`` returns the running process and the caller (a worker of the
app, or the CLI) decides whether to wait for it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from tscrm.core.config import cache_dir
from tscrm.core.errors import NotFound, ValidationError
from tscrm.i18n import _

DEFAULT_SUFFIX = ".wav"
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


class RecordingSource(Protocol):
    """Where recordings come from: the bytes of the recording a call refers to."""

    def fetch(self, ref: str) -> bytes:
        """The recording's content; raise ``NotFound`` when it is not (or no longer) there."""
        ...


@dataclass(frozen=True)
class LocalFileSource:
    """Recordings that are files on this machine: an absolute path or a ``file://`` URL.

    A relative ref (what a PBX reports, e.g. ``recordings/2025/06/11/call-1.wav``) is read under
    ``base_dir`` when one is given; otherwise only the telephony bridge can fetch it.
    """

    base_dir: Path | None = None

    def path_of(self, ref: str) -> Path:
        text = (ref or "").strip()
        if not text:
            raise ValidationError(_("recording: the reference is empty"), "recording_ref")
        if text.startswith("file:"):
            text = unquote(urlparse(text).path)
        path = Path(text).expanduser()
        if not path.is_absolute():
            if self.base_dir is None:
                raise NotFound(
                    _("Recording {ref} is kept by the phone system: playing it comes with telephony.").format(ref=ref)
                )
            path = self.base_dir / path
        return path

    def fetch(self, ref: str) -> bytes:
        path = self.path_of(ref)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(_("Recording {ref} is not there: {path} does not exist.").format(ref=ref, path=path)) from None


def recordings_dir() -> Path:
    return cache_dir() / "recordings"


def cache_path(ref: str) -> Path:
    """Where the recording ``ref`` is kept once fetched: one file per ref, named from its hash.

    The suffix of the ref is kept (players guess the format from it); odd suffixes become .wav.
    """
    digest = hashlib.sha256(ref.encode("utf-8")).hexdigest()[:24]
    suffix = Path(urlparse(ref).path if "://" in ref else ref).suffix
    return recordings_dir() / f"{digest}{suffix.lower() if _SUFFIX.match(suffix) else DEFAULT_SUFFIX}"


def fetch_to_cache(ref: str, source: RecordingSource) -> Path:
    """The cached copy of the recording, fetched once; later calls reuse it."""
    target = cache_path(ref)
    if target.is_file() and target.stat().st_size > 0:
        return target
    data = source.fetch(ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: a half-written file is never taken for a recording
    return target


# --- players --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Player:
    """A command-line audio player: its program and the options that make it play and quit quietly."""

    name: str
    options: tuple[str, ...] = ()

    def command(self, executable: str, path: Path) -> list[str]:
        return [executable, *self.options, str(path)]


# In order of preference: ffplay and mpv read any format, paplay and aplay only what PulseAudio/ALSA take.
PLAYERS: tuple[Player, ...] = (
    Player("ffplay", ("-nodisp", "-autoexit", "-loglevel", "quiet")),
    Player("mpv", ("--no-video", "--really-quiet")),
    Player("paplay", ()),
    Player("aplay", ("-q",)),
)


@dataclass(frozen=True)
class FoundPlayer:
    player: Player
    executable: str

    @property
    def name(self) -> str:
        return self.player.name

    def command(self, path: Path) -> list[str]:
        return self.player.command(self.executable, path)


def find_player(which: Callable[[str], str | None] = shutil.which) -> FoundPlayer | None:
    """The first player of ``PLAYERS`` found on PATH, or None."""
    for player in PLAYERS:
        executable = which(player.name)
        if executable:
            return FoundPlayer(player, executable)
    return None


def player_names() -> str:
    return ", ".join(p.name for p in PLAYERS)


def start_player(found: FoundPlayer, path: Path) -> subprocess.Popen[bytes]:
    """Start playing ``path``; the player owns no terminal (its output would garble a full-screen app)."""
    return subprocess.Popen(
        found.command(path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # ctrl+c in the app's terminal is the app's, not the player's
    )
