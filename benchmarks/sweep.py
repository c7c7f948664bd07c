"""Wall time of a 16-variant sweep of the quick-start spiral classifier
(``examples/spiral.json``, 300 epochs each: 4 widths of the first layer × 4
learning rates), trained one after another in this process (``--workers 1``,
the default) and on a local Dask cluster of 2 worker processes
(``--workers 2``).

Two figures for the cluster: the whole of ``Sweep.train(workers=2)``, which
starts the cluster (about 2–4 s on this machine) and closes it, and the
training alone on a cluster already running (``Sweep.train(client=...)``,
what ``--scheduler`` costs). A control without Dask: two plain Python
processes started at once, each training half the variants one after
another, says how much two processes can gain on this machine at all. The
modes take turns in rounds, so a burst of
load from other processes hits each alike; every round checks that both
modes found the same losses (the same seeds give the same numbers). The load
average is printed before and after each measurement: on a shared machine,
read the speed-up with it. "variants' own" is the sum of each variant's
training time as measured where it ran: when it doubles with 2 workers,
each worker got half the speed of one process, the cores being busy.

Run by hand, never from the tests:

    python benchmarks/sweep.py                 # 3 rounds, about a minute on 2 cores
    python benchmarks/sweep.py --rounds 1 --epochs 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _conditions import print_conditions, print_load_at_end

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import netspec as ns  # noqa: E402
from netspec import cluster  # noqa: E402

SPIRAL = ROOT / "examples" / "spiral.json"
GRID = {"layers[0].neurons": [16, 32, 64, 128], "train.optimizer.learning_rate": [0.005, 0.01, 0.02, 0.05]}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def timed(train, label: str, times: dict[str, list[float]]) -> dict[str, float]:
    before = load()
    started = time.perf_counter()
    results = train()
    seconds = time.perf_counter() - started
    times.setdefault(label, []).append(seconds)
    failed = [r.name for r in results if not r.ok]
    print(f"  {label:<34} {seconds:7.2f} s   variants' own {sum(r.seconds for r in results):6.2f} s   "
          f"load {before} → {load()} (1/5 min)" + (f"   FAILED: {failed}" if failed else ""), flush=True)
    return {r.name: r.metrics.get("loss") for r in results}


def halves(epochs: int | None) -> list:
    """The control: two processes at once, each training every other variant; their results, merged."""
    command = [sys.executable, __file__, "--half"] + (["--epochs", str(epochs)] if epochs else [])
    processes = [subprocess.Popen(command + [str(half)], stdout=subprocess.PIPE, text=True) for half in (0, 1)]
    outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit("a half failed")
    return [ns.sweeps.Result(name, {}, {"loss": float(loss)}, float(seconds))
            for output in outputs for name, loss, seconds in (line.split() for line in output.splitlines())]


def train_half(half: int, epochs: int | None) -> int:
    variants = [v for v in ns.sweep(SPIRAL, GRID) if v.index % 2 == half]
    source = ns.sweeps.DataSource.of(None, str(SPIRAL.parent))
    for result in ns.sweeps.train_all(variants, source, epochs=epochs):
        print(result.name, result.metrics["loss"], result.seconds)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every mode (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per variant (default: the spec's 300)")
    parser.add_argument("--half", type=int, choices=(0, 1), help=argparse.SUPPRESS)  # the control's processes
    args = parser.parse_args()
    if args.half is not None:
        return train_half(args.half, args.epochs)

    print_conditions()
    plan = ns.sweep(SPIRAL, GRID)
    print(f"sweep: {len(plan)} variants of {SPIRAL.name}, {args.epochs or ns.load(SPIRAL).train.epochs} epochs each; "
          f"{cluster.cores()} usable cores\n")
    times: dict[str, list[float]] = {}
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}:")
        serial = timed(lambda: plan.train(epochs=args.epochs), "1 worker (this process)", times)
        started = timed(lambda: plan.train(epochs=args.epochs, workers=2), "2 workers, cluster start included",
                        times)
        with cluster.client_for(workers=2) as client:
            running = timed(lambda: plan.train(epochs=args.epochs, client=client), "2 workers, cluster running",
                            times)
        control = timed(lambda: halves(args.epochs), "control: 2 plain processes at once", times)
        if not serial == started == running == control:
            print("  the modes disagree on the losses:", serial, started, running, control)
            return 1
    print("\nmedian wall time of the sweep:")
    one = statistics.median(times["1 worker (this process)"])
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:<34} {median:7.2f} s  (range {min(values):.2f}–{max(values):.2f})  "
              f"speed-up {one / median:.2f}×")
    print_load_at_end()
    return 0


if __name__ == "__main__":  # the cluster's worker processes start by importing this file
    sys.exit(main())
