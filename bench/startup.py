"""How long `tscrm --help` takes to start, next to a bare `python -c pass` measured in the same run.

Usage: python bench/startup.py [RUNS]   (default 20)

Prints one figure per line: p50 and min of each command in milliseconds, and the ratio of the
p50s (how much tscrm adds over starting Python at all). The budget is 150 ms for `tscrm --help`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def tscrm_command() -> list[str]:
    """The installed console script next to this Python, else the one on PATH, else ``python -m tscrm``."""
    beside = Path(sys.executable).with_name("tscrm")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tscrm")
    return [found] if found else [sys.executable, "-m", "tscrm"]


def timings(command: list[str], runs: int) -> list[float]:
    env = {**os.environ, "COLUMNS": "100"}
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)  # warm the caches
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    baseline = timings([sys.executable, "-c", "pass"], runs)
    tscrm = timings([*tscrm_command(), "--help"], runs)
    print(f"python -c pass p50 ms: {statistics.median(baseline):.1f}")
    print(f"python -c pass min ms: {min(baseline):.1f}")
    print(f"tscrm --help p50 ms: {statistics.median(tscrm):.1f}")
    print(f"tscrm --help min ms: {min(tscrm):.1f}")
    print(f"ratio p50 tscrm/python: {statistics.median(tscrm) / statistics.median(baseline):.1f}")


if __name__ == "__main__":
    main()
