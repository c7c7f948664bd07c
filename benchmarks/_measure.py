"""Measuring helpers the step benchmarks share (``train_step.py``, ``conv_step.py``):
CPU time of the machine and of this process, timing a call, and the memory
of a few steps measured in a fresh process."""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

MEMORY_STEPS = 3


def others_cpu() -> tuple[float, float]:
    """(seconds of CPU busy on the machine, seconds used by this process), since boot."""
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(jiffies[:8]) - jiffies[3] - jiffies[4]  # user..steal, minus idle and iowait
    mine = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), mine.user + mine.system


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def warm_up(step, seconds: float = 0.2, least: int = 3) -> float:
    """Run ``step`` at least ``least`` times and ``seconds`` long; the median time."""
    times = []
    while len(times) < least or sum(times) < seconds:
        times.append(timed(step))
    return statistics.median(times)


def loss_value(loss) -> float:
    return float(loss.item() if hasattr(loss, "item") else loss)


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def step_memory(step, impl: str) -> dict:
    """Run in a fresh process: tracemalloc peak and RSS peak of MEMORY_STEPS calls of ``step``
    (tracemalloc does not see PyTorch's allocations: None for ``impl`` torch)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before, peak_field = status_kib("VmRSS"), "VmHWM"
    except OSError:
        before, peak_field = None, None
    tracemalloc.start()
    for _ in range(MEMORY_STEPS):
        step()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = (status_kib(peak_field) - before) * 1024 if peak_field else None
    return {"tracemalloc_bytes": None if impl == "torch" else traced, "rss_bytes": rss}


def memory_in_subprocess(script: str, size: str, dtype: str, impl: str, threads: int) -> dict:
    """``script --memory-case size:dtype:impl`` in a fresh process: what its :func:`step_memory` printed last."""
    command = [sys.executable, os.path.abspath(script), "--memory-case", f"{size}:{dtype}:{impl}",
               "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"warning: memory measurement of {size} {dtype} {impl} failed:\n{done.stderr}", file=sys.stderr)
        return {"tracemalloc_bytes": None, "rss_bytes": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def mib(value) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"
