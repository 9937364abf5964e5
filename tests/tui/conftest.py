"""Fixtures for driving the app with Textual's pilot on a real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tscrm.tui.app import TscrmApp
from tscrm.tui.context import AppContext


@pytest.fixture
def make_app(db):
    """make_app(actor, watch_changes=True) -> TscrmApp on the test database (no heartbeat)."""

    def factory(actor, *, watch_changes: bool = True) -> TscrmApp:
        return TscrmApp(AppContext.load(db, actor), watch_changes=watch_changes, heartbeat=False)

    return factory


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Pump the app until ``predicate()`` holds (workers run in threads), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.02)
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {getattr(predicate, '__doc__', '') or predicate}")
        await asyncio.sleep(0.03)
