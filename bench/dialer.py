"""A 10,000-number call list through the dialer engine in virtual time.

Usage: python bench/dialer.py [NUMBERS] [--db URL]   (default 10000 numbers, a fresh SQLite file)

The far end is simulated on the engine's virtual clock: 70 % busy after 2 s, 20 % ring out (the
30 s ring timeout hangs up), 10 % answer after 4 s, talk 60 s, and the agent picks "not interested".
Nothing waits for real time, so what is measured is the engine's own cost per call: claiming the
entry, committing "dialling", the backend call, the result (and for answered calls the call log,
the feed entry and the outcome), each its own transaction, plus the working-hours check.

Prints one figure per line: the list build time, the wall and CPU time per call (µs; CPU is the
figure to compare on a busy machine, and includes tracemalloc's own cost), the peak Python memory during the run (tracemalloc, MB), and the virtual time the list took.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tscrm.core.db import Database
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.services import company, dialer, users
from tscrm.telephony.base import CallEvent, CallEventKind
from tscrm.telephony.dialer import DialerEngine, DialerPhase, VirtualClock


class SimulatedFarEnd:
    name = "simulated"
    capabilities = frozenset()

    def __init__(self, clock: VirtualClock, prefix: str) -> None:
        self.clock = clock
        self.prefix = prefix
        self.listeners = []
        self.ids = itertools.count(1)
        self.live: set[str] = set()

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: None

    def _emit(self, call_id: str, number: str, kind: CallEventKind, outcome: CallOutcome | None = None) -> None:
        if call_id not in self.live:
            return
        if kind == CallEventKind.ENDED:
            self.live.discard(call_id)
        event = CallEvent(call_id, kind, CallDirection.OUTBOUND, number, self.clock.now(), outcome=outcome)
        for listener in self.listeners:
            listener(event)

    def originate(self, agent, number: str) -> str:
        n = next(self.ids)
        call_id = f"{self.prefix}-{n}"
        self.live.add(call_id)
        kind = n % 10
        if kind < 7:
            self.clock.call_later(2, lambda: self._emit(call_id, number, CallEventKind.ENDED, CallOutcome.BUSY))
        elif kind == 9:
            self.clock.call_later(4, lambda: self._emit(call_id, number, CallEventKind.ANSWERED))
            self.clock.call_later(64, lambda: self._emit(call_id, number, CallEventKind.ENDED, CallOutcome.ANSWERED))
        return call_id

    def hang_up(self, call_id: str) -> None:
        self.live.discard(call_id)

    def close(self) -> None:
        pass


def make_database(url: str | None, tmp: str):
    db = Database(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
    db.upgrade(backup=False)
    with db.write() as s:
        _, user = company.setup(s, company_name="Bench", admin_name="Agent", admin_email="agent@bench.test", extension="100", timezone="Europe/Madrid")
        actor = users.actor_for(s, user)
        users.set_working_hours(s, actor, actor.id, {d: ["00:00", "23:59"] for d in users.WEEKDAYS})
    return db, actor


def run_list(db, actor, size: int, name: str, *, trace: bool) -> dict:
    numbers = "\n".join(f"+3461{i:07d}" for i in range(size))
    start = time.perf_counter()
    with db.write() as s:
        list_id = dialer.create_list(s, actor, name=name, numbers_text=numbers).list.id
    build_s = time.perf_counter() - start
    clock = VirtualClock()
    began = clock.now()
    engine = DialerEngine(db, actor, list_id, SimulatedFarEnd(clock, name), clock=clock)
    if trace:
        tracemalloc.start()
    cpu = time.process_time()
    start = time.perf_counter()
    engine.start()
    while True:
        state = engine.state()
        if state.phase == DialerPhase.WRAP_UP:
            engine.set_outcome("not_interested")
            continue
        if state.phase == DialerPhase.PAUSED:  # 23:59, the one minute outside the agent's hours
            clock.advance(60)
            engine.resume()
            continue
        if state.phase in (DialerPhase.FINISHED, DialerPhase.STOPPED):
            break
        at = clock.next_at()
        if at is None:
            break
        clock.advance(max(0.0, (at - clock.now()).total_seconds()))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    state = engine.state()
    engine.close()
    assert state.phase == DialerPhase.FINISHED, (state.phase, state.error)
    assert state.counters.dialled == size, state.counters
    return {"build_s": build_s, "wall": wall, "cpu": cpu, "peak": peak, "counters": state.counters, "virtual_h": (clock.now() - began).total_seconds() / 3600}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("numbers", nargs="?", type=int, default=10_000)
    parser.add_argument("--timing-list", type=int, default=2_000, help="size of the list timed without tracemalloc")
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, actor = make_database(args.db, tmp)
        timed = run_list(db, actor, args.timing_list, "Timing", trace=False)
        traced = run_list(db, actor, args.numbers, "Memory", trace=True)
        db.dispose()
    c = traced["counters"]
    print(f"list build ({args.numbers} numbers): {traced['build_s']:.2f} s")
    print(f"calls dialled: {c.dialled} (answered {c.answered}, busy {c.busy}, no answer {c.no_answer})")
    print(f"peak memory during the {args.numbers}-number run (tracemalloc): {traced['peak'] / 1e6:.1f} MB")
    print(f"virtual time of the {args.numbers}-number run: {traced['virtual_h']:.1f} h")
    print(f"per call overhead, wall ({args.timing_list}-number list, no tracemalloc): {timed['wall'] / args.timing_list * 1e6:.0f} us")
    print(f"per call overhead, CPU ({args.timing_list}-number list, no tracemalloc): {timed['cpu'] / args.timing_list * 1e6:.0f} us")
    print(f"per call overhead, CPU ({args.numbers}-number list, tracemalloc on): {traced['cpu'] / c.dialled * 1e6:.0f} us")


if __name__ == "__main__":
    main()
