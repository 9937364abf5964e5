"""Recordings: the cache, the local-file source, choosing and starting a player."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tscrm.core import recordings
from tscrm.core.errors import NotFound
from tscrm.core.recordings import (
    LocalFileSource,
    cache_path,
    fetch_to_cache,
    find_player,
)


def fake_player(bin_dir: Path, name: str, log: Path) -> Path:
    """A player that only writes down the arguments it was given, one per line."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


class CountingSource:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.fetched: list[str] = []

    def fetch(self, ref: str) -> bytes:
        self.fetched.append(ref)
        return self.data


def test_cache_path_lives_in_the_cache_dir_and_keeps_the_format(tmp_path):
    wav = cache_path("/var/rec/call-1.wav")
    assert wav.parent == tmp_path / "cache" / "recordings"  # TSCRM_CACHE_DIR (tests/conftest.py)
    assert wav.suffix == ".wav"
    assert cache_path("file:///var/rec/call-1.MP3").suffix == ".mp3"
    assert cache_path("recordings/2025/06/11/call-000001").suffix == ".wav"  # no suffix: players get .wav
    assert cache_path("/a/call.wav") != cache_path("/b/call.wav")
    assert cache_path("/a/call.wav") == cache_path("/a/call.wav")


def test_local_source_reads_paths_and_file_urls(tmp_path):
    folder = tmp_path / "my recordings"
    folder.mkdir()
    (folder / "call 1.wav").write_bytes(b"RIFF-1")
    source = LocalFileSource()
    assert source.fetch(str(folder / "call 1.wav")) == b"RIFF-1"
    assert source.fetch((folder / "call 1.wav").as_uri()) == b"RIFF-1"  # file:///.../my%20recordings/call%201.wav
    assert LocalFileSource(base_dir=folder).fetch("call 1.wav") == b"RIFF-1"


def test_local_source_says_what_is_missing(tmp_path):
    with pytest.raises(NotFound, match="comes with telephony"):
        LocalFileSource().fetch("recordings/2025/06/11/call-000001.wav")  # a PBX reference
    missing = tmp_path / "gone.wav"
    with pytest.raises(NotFound, match=str(missing)):
        LocalFileSource().fetch(str(missing))


def test_fetch_to_cache_fetches_once(tmp_path):
    source = CountingSource(b"RIFF-data")
    first = fetch_to_cache("pbx://42", source)
    again = fetch_to_cache("pbx://42", source)
    assert first == again and first.read_bytes() == b"RIFF-data"
    assert source.fetched == ["pbx://42"]
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no partial file left behind


def test_find_player_prefers_ffplay_then_mpv_then_paplay_then_aplay():
    def which_of(available: set[str]):
        return lambda name: f"/usr/bin/{name}" if name in available else None

    assert find_player(which_of({"aplay", "paplay", "mpv", "ffplay"})).name == "ffplay"
    assert find_player(which_of({"aplay", "mpv"})).name == "mpv"
    assert find_player(which_of({"aplay", "paplay"})).name == "paplay"
    found = find_player(which_of({"aplay"}))
    assert found.command(Path("/tmp/x.wav")) == ["/usr/bin/aplay", "-q", "/tmp/x.wav"]
    assert find_player(which_of(set())) is None


def test_start_player_runs_the_player_found_on_path(tmp_path, monkeypatch):
    log = tmp_path / "args.txt"
    fake_player(tmp_path / "bin", "paplay", log)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = find_player()
    assert found is not None and found.executable == str(tmp_path / "bin" / "paplay")
    recording = fetch_to_cache("pbx://7", CountingSource(b"RIFF"))
    process = recordings.start_player(found, recording)
    assert process.wait(timeout=10) == 0
    assert log.read_text().splitlines() == [str(recording)]


def test_no_player_when_none_is_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_player() is None
