"""Fixtures of the Zadarma tests (imported by the test modules: the SIP tests own conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tscrm.telephony.zadarma import ZadarmaClient

from .zadarma_server import KEY, SECRET, ZadarmaServer


class FakeClock:
    """A monotonic clock that only moves when something sleeps: rate limits without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def zadarma_server() -> Iterator[ZadarmaServer]:
    with ZadarmaServer() as server:
        yield server


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def zadarma_client(zadarma_server: ZadarmaServer, fake_clock: FakeClock) -> Iterator[ZadarmaClient]:
    with ZadarmaClient(KEY, SECRET, base_url=zadarma_server.url, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client
