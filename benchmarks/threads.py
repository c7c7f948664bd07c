"""How many BLAS threads training wants, by problem size: one training step
(``netspec.runtime.training.train_step``: forward, loss, backward, Adam) on
nets from the quick-start spiral classifier to a 1024→4096→4096→1024
network, timed with 1 thread and with 2 (every core of the machine this was
written on), on an idle machine and with one busy process beside it (the
"anything else running" of a real machine: an editor, a test run, a build).

Each case reports its work, the multiply-adds of one step's matrix products
as :func:`netspec.runtime.threads.step_work` counts them, which is what the
rule in :mod:`netspec.runtime.threads` divides by ``WORK_PER_THREAD``. Also
timed: the whole quick start, ``fit`` of ``examples/spiral.json``, with 1
and 2 threads, and with the rule (what ``netspec train`` does).

How it times: the thread counts take turns in rounds (so a burst of load
from other processes hits both alike), each block after a 0.15 s pause (idle
OpenBLAS threads spin about 0.1 s after a product), and the figure is the
median step. ``others' CPU`` is how many cores other processes used during
the case, from ``/proc/stat``, the busy helper included when there is one.

Run by hand, never from the tests:

    python benchmarks/threads.py                      # idle and loaded, about 3 minutes
    python benchmarks/threads.py --load none --cases tiny,small
    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python benchmarks/threads.py   # see benchmarks/README.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _conditions import print_conditions, print_load_at_end
from threadpoolctl import threadpool_info, threadpool_limits

import netspec
from netspec.runtime import threads
from netspec.runtime.training import fit, train_step

ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 0.15
BUDGET_SECONDS = 0.6  # timed seconds per thread count, case and load
ROUNDS = 5

# name: (widths, batch) of a dense ReLU classifier with a softmax output
CASES = {
    "tiny": ((2, 64, 64, 3), 300),          # the quick start: examples/spiral.json, full batch
    "tiny-b32": ((2, 64, 64, 3), 32),
    "small": ((2, 256, 256, 3), 300),
    "mnist-b8": ((784, 256, 128, 10), 8),
    "mnist-b32": ((784, 256, 128, 10), 32),
    "mnist-b64": ((784, 256, 128, 10), 64),
    "mnist-b256": ((784, 256, 128, 10), 256),
    "wide": ((784, 512, 512, 10), 256),
    "big": ((1024, 1024, 1024, 10), 512),
    "large": ((1024, 4096, 4096, 1024), 512),
}


def spec(widths: tuple[int, ...]) -> dict:
    hidden = [{"type": "dense", "neurons": w, "activation": "relu"} for w in widths[1:-1]]
    return {"input": {"features": widths[0]}, "seed": 0,
            "layers": hidden + [{"type": "dense", "neurons": widths[-1]}, {"type": "softmax"}],
            "loss": "categorical_crossentropy", "train": {"optimizer": {"type": "adam", "learning_rate": 1e-3}}}


def others_cpu() -> tuple[float, float]:
    """(CPU seconds busy on the machine, CPU seconds of this process), since boot."""
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(jiffies[:8]) - jiffies[3] - jiffies[4]
    mine = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), mine.user + mine.system


def busy_helper() -> subprocess.Popen:
    """A process spinning on one core until it is killed, or until this one ends."""
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", spin])


def step_of(widths: tuple[int, ...], batch: int):
    pipeline = netspec.compile(spec(widths))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, widths[0]))
    y = rng.integers(0, widths[-1], batch)
    targets = pipeline.targets(y, batch)
    work = threads.step_work(pipeline, X, batch, training=True)
    return (lambda: train_step(pipeline, X, targets)), work


def timed_block(step, count: int, repeats: int) -> list[float]:
    with threadpool_limits(limits=count, user_api="blas"):
        time.sleep(SETTLE_SECONDS)
        step()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
    return times


def measure(step, counts: tuple[int, ...]) -> dict[int, float]:
    """Median seconds per step for each thread count, the counts taking turns."""
    with threadpool_limits(limits=1, user_api="blas"):
        started = time.perf_counter()
        step()
        one = time.perf_counter() - started
    repeats = max(1, min(2000, int(BUDGET_SECONDS / ROUNDS / max(one, 1e-6))))
    times: dict[int, list[float]] = {c: [] for c in counts}
    for _ in range(ROUNDS):
        for count in counts:
            times[count] += timed_block(step, count, repeats)
    return {c: statistics.median(t) for c, t in times.items()}


def quick_start(count: int | None) -> float:
    """Seconds of ``fit`` on examples/spiral.json (300 epochs, full batch):
    with ``count`` threads, or with the rule when None."""
    pipeline = netspec.compile(ROOT / "examples" / "spiral.json")
    X, y = netspec.data.spiral(100, 3, seed=0)
    targets = pipeline.targets(y, len(X))
    time.sleep(SETTLE_SECONDS)
    started = time.perf_counter()
    fit(pipeline, X, targets, pipeline.training, verbose=0, threads=count)
    return time.perf_counter() - started


def run(cases: list[str], loads: list[str], most: int) -> list[dict]:
    counts = (1, most)
    rows = []
    for load in loads:
        helper = busy_helper() if load == "busy" else None
        try:
            time.sleep(0.3)
            for name in cases:
                step, work = step_of(*CASES[name])
                busy, mine = others_cpu()
                started = time.perf_counter()
                medians = measure(step, counts)
                elapsed = time.perf_counter() - started
                busy_after, mine_after = others_cpu()
                others = (busy_after - busy - (mine_after - mine)) / elapsed
                rule = threads.choose(work)
                rows.append({"case": name, "load": load, "work": work, "seconds": medians,
                             "rule": rule or most, "others_cpu": others})
                print(json.dumps(rows[-1]), file=sys.stderr)
            fits = {count: statistics.median(quick_start(count) for _ in range(3)) for count in counts}
            fits["rule"] = statistics.median(quick_start(None) for _ in range(3))
            rows.append({"case": "quick start fit", "load": load, "fit_seconds": fits})
            print(json.dumps(rows[-1]), file=sys.stderr)
        finally:
            if helper is not None:
                helper.kill()
                helper.wait()
    return rows


def table(rows: list[dict], most: int) -> str:
    lines = [f"| net ×batch | load | multiply-adds per step | 1 thread ms | {most} threads ms | {most}/1 | "
             "rule picks | others' CPU |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if "work" not in row:
            continue
        widths, batch = CASES[row["case"]]
        one, many = row["seconds"][1] * 1e3, row["seconds"][most] * 1e3
        lines.append(f"| {'→'.join(map(str, widths))} ×{batch} | {row['load']} | {row['work']:,} | {one:.3f} | "
                     f"{many:.3f} | {many / one:.2f} | {row['rule']} | {row['others_cpu']:.2f} |")
    lines += ["", f"| quick start (`fit`, examples/spiral.json) | load | 1 thread s | {most} threads s | rule s |",
              "|---|---|---:|---:|---:|"]
    for row in rows:
        if "fit_seconds" in row:
            fits = row["fit_seconds"]
            lines.append(f"| 300 epochs × 300 samples | {row['load']} | {fits[1]:.2f} | {fits[most]:.2f} | "
                         f"{fits['rule']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--load", default="idle,busy", help="idle, busy (one spinning process beside), or both")
    parser.add_argument("--json", metavar="OUT", help="also write every number here")
    args = parser.parse_args()
    print_conditions()
    blas = next(lib for lib in threadpool_info() if lib["user_api"] == "blas")
    most = blas["num_threads"]
    env = {name: os.environ.get(name, "unset") for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"{blas['internal_api']} {blas['version']} ({blas.get('architecture')}), {most} threads by default, "
          f"{os.cpu_count()} CPUs; {env}; WORK_PER_THREAD = {threads.WORK_PER_THREAD:,}")
    loads = [] if args.load == "none" else args.load.split(",")
    rows = run(args.cases.split(","), loads or ["idle"], most)
    print_load_at_end()
    print(table(rows, most))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
