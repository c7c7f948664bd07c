"""Data beyond memory: ``netspec predict`` and one epoch of training over a
``.npy`` file of several GiB, read in chunks, against the same work on
arrays that fit in memory.

What it does, in a scratch folder under ``--dir`` (default /tmp), removed at
the end (also on an error or Ctrl-C):

1. checks the free disk space first (the data, its labels and the
   predictions, plus 10 %) and refuses clearly when there is too little;
2. writes ``X.npy`` (``--gib`` GiB, default 4, of float32 rows of
   ``--features`` features, drawn block by block so the writer never holds
   more than a block) and ``y.npy``, three classes from a fixed linear rule;
3. trains a small checkpoint (features→64→64→3, float32) on 20,000 rows;
4. runs ``netspec predict MODEL --data X.npy --out preds.npy`` in a
   subprocess (the file is over 1 GiB, so it is read in chunks), polling the
   child's resident set in ``/proc`` every 20 ms and reading its peak
   (``VmHWM``, and ``ru_maxrss`` of the waited-for children), then the same
   command on an in-memory-sized ``.npy`` (``--memory-gib``, read whole);
5. one epoch of streamed training (``pipeline.fit`` on ``netspec.data.open``
   arrays, batch 512) in a subprocess, peak memory measured the same way,
   against one epoch on an in-memory array of ``--memory-gib``.

The target: predict with a peak resident set under 1 GiB. Rows/s are wall
time, file reading included.

Run by hand, never from the tests (about 6–10 minutes on 2 cores):

    python benchmarks/streaming.py
    python benchmarks/streaming.py --gib 0.5 --memory-gib 0.25   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
from _conditions import print_conditions, print_load_at_end
from numpy.lib import format as npy_format

import netspec

GIB = 1024**3
WRITE_ROWS = 1 << 20  # rows generated and written at a time
TARGET_RSS = GIB


def spec(features: int) -> dict:
    return {"seed": 0, "dtype": "float32", "input": {"features": features},
            "layers": [{"type": "dense", "neurons": 64, "activation": "relu"},
                       {"type": "dense", "neurons": 64, "activation": "relu"},
                       {"type": "dense", "neurons": 3, "activation": "softmax"}],
            "loss": "categorical_crossentropy",
            "train": {"epochs": 1, "batch_size": 512, "seed": 1, "optimizer": {"type": "adam", "learning_rate": 0.001}}}


def rule(features: int) -> np.ndarray:
    return np.random.default_rng(99).normal(size=(features, 3)).astype(np.float32)


def write_data(folder: str, name: str, rows: int, features: int) -> tuple[str, str]:
    """``name``-X.npy and ``name``-y.npy of ``rows`` rows, written block by block."""
    x_path, y_path = os.path.join(folder, f"{name}-X.npy"), os.path.join(folder, f"{name}-y.npy")
    X = npy_format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, features))
    y = npy_format.open_memmap(y_path, mode="w+", dtype=np.int64, shape=(rows,))
    rng, weights = np.random.default_rng(0), rule(features)
    for start in range(0, rows, WRITE_ROWS):
        block = rng.standard_normal((min(WRITE_ROWS, rows - start), features), dtype=np.float32)
        X[start:start + len(block)] = block
        y[start:start + len(block)] = np.argmax(block @ weights, axis=1)
        X.flush()
    del X, y
    return x_path, y_path


def measured(argv: list[str]) -> dict:
    """Run ``argv``; its wall time and peak resident set (polled VmRSS, VmHWM, ru_maxrss)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = hwm = 0
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
                    elif line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.02)
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}):\n{out}{err}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child so far
    return {"seconds": seconds, "rss": max(peak, hwm), "children_maxrss": children, "out": out}


TRAIN = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import netspec
    from netspec import data
    model, x_path, y_path, streamed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    pipeline = netspec.load_pipeline(model)
    if streamed:
        X, y = data.open(x_path), data.open(y_path)
    else:
        X, y = np.load(x_path), np.load(y_path)
    started = time.perf_counter()
    history = pipeline.fit(X, y, epochs=1, batch_size=512, verbose=0)
    print(json.dumps({"seconds": time.perf_counter() - started, "loss": history["loss"][-1]}))
""")


def mib(size: int) -> str:
    return f"{size / 1024**2:,.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="size of the large X.npy (default 4)")
    parser.add_argument("--memory-gib", type=float, default=0.5, help="size of the in-memory comparison (default 0.5)")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the scratch folder goes (default /tmp)")
    parser.add_argument("--no-train", action="store_true", help="skip the training epochs")
    args = parser.parse_args()
    print_conditions()
    row_bytes = args.features * 4
    rows, small = int(args.gib * GIB) // row_bytes, int(args.memory_gib * GIB) // row_bytes
    needed = int(((rows + small) * (row_bytes + 8 + 8)) * 1.1)  # X, y and int64 predictions of both, +10 %
    free = shutil.disk_usage(args.dir).free
    if free < needed:
        print(f"refused: {args.dir} has {free / GIB:.1f} GiB free, and this run needs {needed / GIB:.1f} GiB "
              "(lower --gib, or pass --dir on a larger disk)", file=sys.stderr)
        return 1
    folder = tempfile.mkdtemp(prefix="netspec-streaming-", dir=args.dir)
    try:
        return run(args, folder, rows, small)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"removed {folder}")


def run(args: argparse.Namespace, folder: str, rows: int, small: int) -> int:
    started = time.perf_counter()
    big_x, big_y = write_data(folder, "big", rows, args.features)
    small_x, small_y = write_data(folder, "small", small, args.features)
    print(f"wrote {big_x}: {rows:,} × {args.features} float32 ({os.path.getsize(big_x) / GIB:.2f} GiB) and "
          f"{small_x}: {small:,} rows ({os.path.getsize(small_x) / GIB:.2f} GiB), in {time.perf_counter() - started:.0f} s")
    model = os.path.join(folder, "model.npz")
    pipeline = netspec.compile(spec(args.features))
    pipeline.fit(np.load(small_x)[:20_000], np.load(small_y)[:20_000], epochs=3, verbose=0)
    pipeline.save(model)
    netspec_cli = [sys.executable, "-m", "netspec"]
    results = {}
    # netspec predict reads a .npy over 1 GiB in chunks by itself; a smaller "large" file is told to (--chunk-rows).
    chunking = [] if os.path.getsize(big_x) > GIB else ["--chunk-rows", "100000"]
    for name, x_path in (("predict, chunked from disk", big_x), ("predict, in memory", small_x)):
        out = os.path.join(folder, "preds.npy")
        result = measured([*netspec_cli, "predict", model, "--data", x_path, "--out", out, "--force",
                           *(chunking if x_path == big_x else [])])
        count = rows if x_path == big_x else small
        assert np.load(out, mmap_mode="r").shape == (count,)
        os.unlink(out)
        results[name] = {**result, "rows": count}
    if not args.no_train:
        script = os.path.join(folder, "train.py")
        with open(script, "w") as stream:
            stream.write(TRAIN)
        for name, (x_path, y_path, count, streamed) in {
                "train 1 epoch, chunked from disk": (big_x, big_y, rows, "1"),
                "train 1 epoch, in memory": (small_x, small_y, small, "0")}.items():
            result = measured([sys.executable, script, model, x_path, y_path, streamed])
            inner = json.loads(result["out"].strip().splitlines()[-1])
            results[name] = {**result, "rows": count, "fit_seconds": inner["seconds"], "loss": inner["loss"]}
    print()
    print(f"| case | rows | wall s | rows/s | peak RSS | under {mib(TARGET_RSS)} |")
    print("|---|---:|---:|---:|---:|---|")
    for name, result in results.items():
        seconds = result.get("fit_seconds", result["seconds"])
        print(f"| {name} | {result['rows']:,} | {seconds:.1f} | {result['rows'] / seconds:,.0f} | "
              f"{mib(result['rss'])} | {'yes' if result['rss'] < TARGET_RSS else 'no'} |")
    print("\n(train: rows/s of fit alone, an epoch's training pass and its metrics pass; predict: the whole command)")
    print_load_at_end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
