"""Time one training step of a netspec convolutional network against the same
network in PyTorch CPU eager, and against the step's own matrix products.

One step is: forward, loss, backward (with the fused softmax + cross-entropy
gradient ``(p - onehot) / n``) and one plain SGD update (learning rate 0.01).
Both implementations start from the same weights, in the same dtype, on the
same inputs, with the same number of threads (PyTorch's set to NumPy's BLAS
thread count).

Nets (10 classes, random inputs and labels):

- ``lenet``: LeNet-5-sized, input 28×28×1, conv 6@5×5 relu, max pool 2,
  conv 16@5×5 relu, max pool 2, flatten, dense 120 relu, dense 84 relu,
  dense 10 softmax; batch 64.
- ``wide``: input 32×32×3, two conv 32@3×3 "same" relu, max pool 2, two conv
  64@3×3 "same" relu, max pool 2, flatten, dense 256 relu, dense 10
  softmax; batch 128.

Implementations:

- ``netspec``: ``netspec.runtime.training.train_step(pipeline, X, targets)``
  on a pipeline compiled from a dict spec (channels last, NHWC); this
  includes the product's finiteness check of the loss and every gradient.
- ``torch``: ``nn.Conv2d``/``nn.ReLU``/``nn.MaxPool2d``/``nn.Flatten``/
  ``nn.Linear``, ``F.cross_entropy`` on the logits, ``torch.optim.SGD`` with
  ``zero_grad``/``backward``/``step``. PyTorch computes in NCHW: it gets the
  same inputs permuted once, outside the timed region. Weights are copied
  from netspec's: conv (kh, kw, cin, f) -> (f, cin, kh, kw); dense (in, out)
  -> (out, in); and the first dense layer's inputs permuted from netspec's
  flatten order (h, w, c) to PyTorch's (c, h, w). Before timing, three steps
  of both from these weights must give the same losses and the same updated
  weights (relative difference ≤ 1e-6 in float64, ≤ 1e-4 in float32; for the
  weights, each layer's difference over its largest value): the two networks
  compute the same function.
- ``floor``: the step's im2col matrix products alone, into preallocated
  arrays of random data — for each conv, forward ``(n·oh·ow, kh·kw·cin) @
  (kh·kw·cin, f)``, weight gradient ``(kh·kw·cin, n·oh·ow) @ (n·oh·ow, f)``
  (the transpose of a C-ordered matrix, as in the step) and, except for the
  first layer, input gradient ``(n·oh·ow, f) @ (f, kh·kw·cin)``; plus each
  dense layer's forward, weight-gradient and input-gradient products. Not an
  implementation: what BLAS alone costs for the step's matrix shapes, the
  ceiling of any im2col implementation. ``netspec/floor`` is netspec's time
  over it.

FLOP convention: 2·m·k·n per matrix product of the floor (the same products
for every implementation, so GFLOP/s ratios equal time ratios). im2col
copies, bias, activation, pooling, softmax, loss and update work is not
counted.

Per-layer breakdown: netspec's step again, run layer by layer through each
layer's own ``forward``/``backward`` (``backward_parameters`` for the first
layer, the fused gradient for softmax) with a timer around every call, plus
the loss, the finiteness check and the SGD update; the median of each part
over many steps, so the slowest parts are visible. The parts add up to about
the step (the timers cost about a microsecond each).

Memory: ``tracemalloc MiB`` is the peak of the NumPy bytes allocated by three
steps on a freshly built network (model and data excluded; what the step keeps
between steps, such as saved activations, im2col matrices and gradients,
included). Torch's tensors are invisible to tracemalloc, so ``RSS MiB``
measures every implementation the same way in a subprocess per case: the peak
resident set during three steps (VmHWM, reset through /proc/self/clear_refs)
minus the resident set just before them. Both are set against a reference:
the weights, every layer's output for the batch (flatten's is a view and
counts nothing), and the gradients — the weights' and one per layer output
but the network's last (the fused softmax + cross-entropy gradient starts at
the logits).

Timing: as in ``train_step.py``: a warm-up, then the implementations take
turns in up to 10 rounds, each block after a 0.15 s pause (OpenBLAS's threads
spin for about 0.1 s after a matmul and would take a core from the next
block), and with one untimed step when a step is shorter than the pause;
the median step, ±IQR%; others' CPU = cores used by other processes during
the case, from /proc/stat (above about 0.1: disturbed, rerun).
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are printed as found (they
change the BLAS kernel and its blocking on some processors).

Run by hand, never from the tests:

    python benchmarks/conv_step.py
    python benchmarks/conv_step.py --sizes lenet --dtypes float32 --seconds 1 --json out.json
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import glob
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

import numpy as np
from _conditions import print_conditions
from _measure import (
    loss_value,
    memory_in_subprocess,
    mib,
    others_cpu,
    step_memory,
    timed,
    warm_up,
)

import netspec
from netspec.runtime.training import check_finite, train_step

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

try:
    from threadpoolctl import threadpool_info
except ImportError:
    threadpool_info = None

CLASSES = 10
SIZES = {
    "lenet": {
        "input": (28, 28, 1), "batch": 64,
        "layers": [
            {"type": "conv2d", "filters": 6, "kernel_size": 5, "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "conv2d", "filters": 16, "kernel_size": 5, "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "flatten"},
            {"type": "dense", "neurons": 120, "activation": "relu"},
            {"type": "dense", "neurons": 84, "activation": "relu"},
            {"type": "dense", "neurons": CLASSES, "activation": "softmax"},
        ],
    },
    "wide": {
        "input": (32, 32, 3), "batch": 128,
        "layers": [
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "flatten"},
            {"type": "dense", "neurons": 256, "activation": "relu"},
            {"type": "dense", "neurons": CLASSES, "activation": "softmax"},
        ],
    },
}
IMPLEMENTATIONS = ("netspec", "torch", "floor")
LEARNING_RATE = 0.01
SEED = 0
BUDGET_SECONDS = 1.5  # timed seconds per implementation and case when --repeat is not given
MIN_REPEATS, MAX_REPEATS, MAX_ROUNDS = 5, 2000, 10
SETTLE_SECONDS = 0.15  # pause before each block: idle BLAS/OpenMP threads stop spinning
CHECK_STEPS = 3
TOLERANCE = {"float64": 1e-6, "float32": 1e-4}


# --- the machine ---------------------------------------------------------------

def blas_info() -> dict:
    """NumPy's BLAS: thread count and kernel, from threadpoolctl when installed,
    else from the OpenBLAS library bundled with NumPy (through ctypes)."""
    if threadpool_info is not None:
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas" and "numpy" in lib["filepath"]]
        lib = blas[0] if blas else next(lib for lib in threadpool_info() if lib["user_api"] == "blas")
        return {"threads": lib["num_threads"], "kernel": lib.get("architecture", "?"),
                "library": f"{lib['internal_api']} {lib['version']}"}
    found = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "lib*openblas*"))
    for path in found:
        try:
            lib = ctypes.CDLL(path)
            prefix = next(p for p in ("scipy_openblas_", "openblas_") if hasattr(lib, p + "get_num_threads64_")
                          or hasattr(lib, p + "get_num_threads"))
            suffix = "64_" if hasattr(lib, prefix + "get_num_threads64_") else ""
            corename, config = getattr(lib, f"{prefix}get_corename{suffix}"), getattr(lib, f"{prefix}get_config{suffix}")
            corename.restype = config.restype = ctypes.c_char_p
            threads = getattr(lib, f"{prefix}get_num_threads{suffix}")()
            return {"threads": threads, "kernel": corename().decode(),
                    "library": " ".join(config().decode().split()[:2])}
        except (OSError, StopIteration, AttributeError):
            continue
    return {"threads": os.cpu_count(), "kernel": "unknown", "library": "?"}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        model = fields["Model name"].strip()
        return f"{model} (family {fields.get('CPU family', '?').strip()} model {fields.get('Model', '?').strip()})"
    except (OSError, KeyError):
        return platform.processor() or "unknown"


# --- the network -------------------------------------------------------------------

def netspec_spec(size: str, dtype: str) -> dict:
    return {
        "netspec": "1",
        "input": {"shape": list(SIZES[size]["input"])},
        "layers": SIZES[size]["layers"],
        "loss": "categorical_crossentropy",
        "dtype": dtype,
        "seed": SEED,
        "train": {"optimizer": {"type": "sgd", "learning_rate": LEARNING_RATE}},
    }


def make_data(size: str, dtype: str):
    rng = np.random.default_rng(SEED)
    shape = (SIZES[size]["batch"], *SIZES[size]["input"])
    X = np.ascontiguousarray(rng.standard_normal(shape).astype(dtype))
    return X, rng.integers(0, CLASSES, shape[0])


def geometry(pipeline, X) -> list[dict]:
    """One record per layer, from a forward pass (which changes no weights):
    its kind, the shapes of its inputs and output, and for a conv the im2col
    matrix shape."""
    pipeline.run(X)
    records = []
    for layer in pipeline.layers:
        kind = type(layer).__name__
        record = {"name": layer.name, "kind": kind, "inputs": layer.inputs.shape, "output": layer.output.shape,
                  "view": bool(np.shares_memory(layer.output, layer.inputs))}
        if kind == "Conv2D":
            n, oh, ow, f = layer.output.shape
            kh, kw, cin, _ = layer.weights.shape
            record.update(rows=n * oh * ow, depth=kh * kw * cin, filters=f)
        elif kind == "Dense":
            record.update(rows=layer.inputs.shape[0], depth=layer.weights.shape[0], filters=layer.weights.shape[1])
        records.append(record)
    return records


def products(records: list[dict]) -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """The step's matrix products as ``((m, k), (k, n), left_transposed)``:
    forward, weight gradient and (except for the first layer) input gradient
    of every conv and dense layer."""
    out = []
    for index, r in enumerate(records):
        if "rows" not in r:
            continue
        rows, depth, filters = r["rows"], r["depth"], r["filters"]
        out.append(((rows, depth), (depth, filters), False))
        out.append(((depth, rows), (rows, filters), True))
        if index > 0:
            out.append(((rows, filters), (filters, depth), False))
    return out


def step_flops(records: list[dict]) -> int:
    return sum(2 * m * k * n for (m, k), (_, n), _ in products(records))


def reference_bytes(pipeline, records: list[dict], itemsize: int) -> dict:
    """Weights, activations (every layer output; views count nothing) and
    gradients (the weights' and one per layer output but the last), in bytes."""
    weights = sum(p.nbytes for p in pipeline.parameters())
    sizes = [0 if r["view"] else math.prod(r["output"]) * itemsize for r in records]
    activations = sum(sizes)
    gradients = weights + sum(sizes[:-1])
    return {"weights": weights, "activations": activations, "gradients": gradients,
            "total": weights + activations + gradients}


# --- the three implementations: each returns (step, parameters) ------------------
# ``step()`` runs one training step and returns the loss; ``parameters`` are the
# live arrays in netspec's layout, for the checks (a function: torch's are
# converted when asked).

def netspec_impl(size: str, X, y):
    pipeline = netspec.compile(netspec_spec(size, X.dtype.name))
    targets = pipeline.targets(y, len(X))
    return (lambda: train_step(pipeline, X, targets)), pipeline.parameters, pipeline


def _rows_from_chw(weight: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """A torch Linear weight (out, C·H·W) reading a (c, h, w) flatten, as
    netspec's (H·W·C, out) reading an (h, w, c) flatten."""
    return weight.reshape(shape).transpose(2, 3, 1, 0).reshape(-1, shape[0])


def torch_model(pipeline, records: list[dict]):
    """The pipeline's layers as a ``torch.nn.Sequential`` with copies of its
    weights (the final softmax left out: ``F.cross_entropy`` takes logits),
    and a function giving the model's parameters back in netspec's layout."""
    dtype = getattr(torch, pipeline.dtype.name)
    modules, back, flattened = [], [], None
    for layer, record in zip(pipeline.layers, records):
        kind = record["kind"]
        if kind == "Conv2D":
            kh, kw, cin, f = layer.weights.shape
            pads = layer._cached_plan.pads
            if any(before != after for before, after in pads):
                raise ValueError(f"{layer.name}: asymmetric padding {pads} has no nn.Conv2d equivalent")
            conv = torch.nn.Conv2d(cin, f, (kh, kw), stride=layer.strides, padding=tuple(b for b, _ in pads),
                                   dilation=layer.dilation, dtype=dtype)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weights.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(layer.bias))
            modules.append(conv)
            back += [lambda m=conv: m.weight.detach().numpy().transpose(2, 3, 1, 0),
                     lambda m=conv: m.bias.detach().numpy()]
        elif kind == "ReLU":
            modules.append(torch.nn.ReLU())
        elif kind == "MaxPool2D":
            if layer.padding != "valid":
                raise ValueError(f"{layer.name}: only 'valid' max pooling is mapped")
            modules.append(torch.nn.MaxPool2d(layer.pool_size, layer.strides))
        elif kind == "Flatten":
            flattened = record["inputs"][1:]  # (H, W, C)
            modules.append(torch.nn.Flatten())
        elif kind == "Dense":
            W, out = layer.weights, layer.weights.shape[1]
            linear = torch.nn.Linear(*W.shape, dtype=dtype)
            if flattened is not None:  # rows in netspec's (h, w, c) order -> columns in torch's (c, h, w)
                H, Wd, C = flattened
                weight = W.reshape(H, Wd, C, out).transpose(3, 2, 0, 1).reshape(out, -1)
                unflatten = functools.partial(_rows_from_chw, shape=(out, C, H, Wd))
                flattened = None
            else:
                weight, unflatten = W.T, np.transpose
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
                linear.bias.copy_(torch.from_numpy(layer.bias[0]))
            modules.append(linear)
            back += [lambda m=linear, u=unflatten: u(m.weight.detach().numpy()),
                     lambda m=linear: m.bias.detach().numpy()[None]]
        elif kind == "Softmax" and layer is pipeline.layers[-1]:
            pass
        else:
            raise ValueError(f"no PyTorch counterpart mapped for {kind} {layer.name!r}")
    return torch.nn.Sequential(*modules), (lambda: [get() for get in back])


def torch_impl(pipeline, records, X, y):
    model, params = torch_model(pipeline, records)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))  # NHWC -> NCHW, once
    labels = torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step, params


def floor_impl(records, dtype):
    rng = np.random.default_rng(SEED + 1)
    work = []
    for (m, k), (_, n), transposed in products(records):
        left = rng.standard_normal((k, m) if transposed else (m, k)).astype(dtype)
        work.append((left.T if transposed else left, rng.standard_normal((k, n)).astype(dtype),
                     np.empty((m, n), dtype)))

    def step():
        for a, b, c in work:
            np.matmul(a, b, out=c)
        return float("nan")

    return step, (lambda: [])


def build(impl: str, size: str, X, y):
    """``(step, parameters)`` for ``impl``; torch starts from netspec's initial weights."""
    step, params, pipeline = netspec_impl(size, X, y)
    if impl == "netspec":
        return step, params
    records = geometry(pipeline, X)
    if impl == "torch":
        return torch_impl(pipeline, records, X, y)
    return floor_impl(records, X.dtype)


# --- timing -----------------------------------------------------------------------


def time_steps(steps: dict, repeat: int | None, budget: float) -> dict[str, list[float]]:
    """Per-step times of every implementation (``repeat`` each, or about
    ``budget`` seconds each), interleaved in up to MAX_ROUNDS rounds so that a
    burst of load from other processes hits all of them alike; every block
    after a SETTLE_SECONDS pause (see the module docstring)."""
    counts, guesses = {}, {}
    for name, step in steps.items():
        guesses[name] = warm_up(step)
        counts[name] = repeat or min(MAX_REPEATS, max(MIN_REPEATS, int(budget / guesses[name])))
    rounds = min(MAX_ROUNDS, *counts.values())
    times = {name: [] for name in steps}
    gc.collect()
    gc.disable()
    try:
        for round_ in range(rounds):
            for name, step in steps.items():
                share = counts[name] * (round_ + 1) // rounds - counts[name] * round_ // rounds
                time.sleep(SETTLE_SECONDS)
                if guesses[name] < SETTLE_SECONDS:
                    step()  # untimed: wakes the threads and caches after the pause
                times[name] += [timed(step) for _ in range(share)]
    finally:
        gc.enable()
    return times


def check_same_steps(steps: dict, params: dict, dtype: str) -> dict:
    """CHECK_STEPS steps of netspec and torch from the same weights: the
    largest relative difference of the losses (each step's loss depends on
    every earlier update) and of the updated parameters, each layer's
    difference over its largest weight (a conv bias that starts at zero is
    a sum over every pixel, and in float32 its relative error alone is large)."""
    losses = 0.0
    for _ in range(CHECK_STEPS):
        ours, theirs = loss_value(steps["netspec"]()), loss_value(steps["torch"]())
        losses = max(losses, abs(ours - theirs) / abs(ours))
    mine, other = params["netspec"](), params["torch"]()
    weights = 0.0
    for W, b, W2, b2 in zip(mine[0::2], mine[1::2], other[0::2], other[1::2]):
        scale = float(max(np.max(np.abs(W)), np.max(np.abs(b)))) or 1.0
        weights = max(weights, float(max(np.max(np.abs(W - W2)), np.max(np.abs(b - b2)))) / scale)
    for what, worst in (("losses", losses), ("parameters", weights)):
        if worst > TOLERANCE[dtype]:
            print(f"warning: netspec and torch {what} differ after {CHECK_STEPS} steps by {worst:.2e} "
                  f"(> {TOLERANCE[dtype]})", file=sys.stderr)
    return {"losses": losses, "parameters": weights}


def breakdown(size: str, dtype: str, repeat: int | None, budget: float) -> tuple[list[dict], float]:
    """netspec's step layer by layer, each call timed: ``(parts, median step)``,
    parts in order (forward of every layer, the loss, backward of every
    layer from the last, the finiteness check, the SGD update)."""
    from netspec.runtime.pipeline import FUSED

    X, y = make_data(size, dtype)
    pipeline = netspec.compile(netspec_spec(size, dtype))
    targets = pipeline.targets(y, len(X))
    layers, loss_function = pipeline.layers, pipeline.loss_function
    fused = FUSED.get((type(layers[-1]), type(loss_function)))
    if fused is None or loss_function.from_logits:
        raise ValueError("the breakdown expects a softmax + cross-entropy output")
    clock = time.perf_counter

    def step() -> dict[str, float]:
        t = {}
        with np.errstate(over="ignore", invalid="ignore"):
            out = X
            for layer in layers:
                start = clock()
                out = layer.forward(out, training=True)
                t[("forward", layer.name)] = clock() - start
            start = clock()
            loss = loss_function.calculate(out, targets)
            t[("loss", "")] = clock() - start
            start = clock()
            layers[-1].dinputs = dvalues = fused(layers[-1].output, targets)
            t[("backward", layers[-1].name)] = clock() - start
            for index in range(len(layers) - 2, -1, -1):
                layer = layers[index]
                start = clock()
                if index == 0 and hasattr(layer, "backward_parameters"):
                    layer.backward_parameters(dvalues)
                else:
                    dvalues = layer.backward(dvalues)
                t[("backward", layer.name)] = clock() - start
        start = clock()
        gradients = pipeline.gradients()
        check_finite(pipeline, loss, gradients, 0, 0)
        t[("check", "")] = clock() - start
        start = clock()
        pipeline.optimizer.step(pipeline.parameters(), gradients)
        t[("update", "")] = clock() - start
        return t

    whole = warm_up(lambda: train_step(pipeline, X, targets))
    count = repeat or min(MAX_REPEATS, max(MIN_REPEATS, int(budget / whole)))
    samples, totals = [], []
    gc.collect()
    gc.disable()
    try:
        time.sleep(SETTLE_SECONDS)
        step()
        for _ in range(count):
            start = clock()
            samples.append(step())
            totals.append(clock() - start)
    finally:
        gc.enable()
    kinds = {layer.name: type(layer).__name__ for layer in layers}
    parts = [{"size": size, "dtype": dtype, "part": part, "layer": name, "kind": kinds.get(name, ""),
              "median_s": statistics.median(s[(part, name)] for s in samples)} for part, name in samples[0]]
    return parts, statistics.median(totals)


# --- memory, in a subprocess per case ----------------------------------------------


def measure_memory(size: str, dtype: str, impl: str) -> dict:
    """Run in a fresh process: tracemalloc peak and RSS peak of MEMORY_STEPS steps."""
    X, y = make_data(size, dtype)
    step, _ = build(impl, size, X, y)
    return step_memory(step, impl)


# --- one case and the report ---------------------------------------------------------

def run_case(size: str, dtype: str, impls: list[str], repeat: int | None, budget: float,
             threads: int) -> tuple[list[dict], list[dict]]:
    X, y = make_data(size, dtype)
    steps, params = {}, {}
    for impl in impls:
        steps[impl], params[impl] = build(impl, size, X, y)
    _, _, pipeline = netspec_impl(size, X, y)
    records = geometry(pipeline, X)
    reference = reference_bytes(pipeline, records, X.itemsize)
    difference = check_same_steps(steps, params, dtype) if "torch" in steps else None
    busy, mine, started = *others_cpu(), time.perf_counter()
    times = time_steps(steps, repeat, budget)
    parts, instrumented = breakdown(size, dtype, repeat, budget)
    busy_after, mine_after = others_cpu()
    others = (busy_after - busy - (mine_after - mine)) / (time.perf_counter() - started)
    del steps, params, pipeline
    gc.collect()
    flops = step_flops(records)
    rows = []
    for impl in impls:
        median = statistics.median(times[impl])
        quartiles = statistics.quantiles(times[impl], n=4)
        rows.append({
            "size": size, "input": list(SIZES[size]["input"]), "batch": len(X), "dtype": dtype, "impl": impl,
            "median_s": median, "iqr_s": quartiles[2] - quartiles[0], "steps_timed": len(times[impl]),
            "samples_per_s": len(X) / median, "gflops": flops / median / 1e9, "others_cpu": others,
            "check_difference": difference, "reference_bytes": reference,
            **memory_in_subprocess(__file__, size, dtype, impl, threads),
        })
    by_impl = {row["impl"]: row for row in rows}
    ours = by_impl["netspec"]
    for other in ("torch", "floor"):
        if other in by_impl:
            ours[f"vs_{other}"] = by_impl[other]["median_s"] / ours["median_s"]
    ours["instrumented_median_s"], ours["parts_sum_s"] = instrumented, sum(p["median_s"] for p in parts)
    for part in parts:
        part["share"] = part["median_s"] / ours["parts_sum_s"]
    return rows, parts


def net_name(r: dict) -> str:
    return f"{r['size']} {'×'.join(map(str, r['input']))} ×{r['batch']}"


def table(rows: list[dict]) -> str:
    head = ("| net | dtype | impl | ms/step (±IQR%) | samples/s | GFLOP/s | netspec/torch | netspec time / floor "
            "| tracemalloc MiB | RSS MiB | reference MiB (W + A + G) | others' CPU |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        ref = r["reference_bytes"]
        ratios = [f"{r['vs_torch']:.2f}×" if "vs_torch" in r else "",
                  f"{1 / r['vs_floor']:.2f}×" if "vs_floor" in r else ""]
        lines.append(
            f"| {net_name(r)} | {r['dtype']} | {r['impl']} | {r['median_s'] * 1e3:.2f} "
            f"(±{100 * r['iqr_s'] / r['median_s']:.0f}%) | {r['samples_per_s']:,.0f} | {r['gflops']:.1f} "
            f"| {ratios[0]} | {ratios[1]} | {mib(r['tracemalloc_bytes'])} | {mib(r['rss_bytes'])} "
            f"| {mib(ref['total'])} ({mib(ref['weights'])} + {mib(ref['activations'])} + {mib(ref['gradients'])}) "
            f"| {r['others_cpu']:.2f} |")
    return "\n".join(lines)


def breakdown_table(parts: list[dict], rows: list[dict]) -> str:
    cases = list(dict.fromkeys((p["size"], p["dtype"]) for p in parts))
    steps = {(r["size"], r["dtype"]): r for r in rows if r["impl"] == "netspec"}
    head = "| part | layer | " + " | ".join(f"{s} {d} ms (%)" for s, d in cases) + " |"
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    keys = list(dict.fromkeys((p["part"], p["layer"], p["kind"]) for p in parts))
    found = {(p["size"], p["dtype"], p["part"], p["layer"]): p for p in parts}
    for part, layer, kind in keys:
        cells = []
        for s, d in cases:
            p = found.get((s, d, part, layer))
            cells.append("" if p is None else f"{p['median_s'] * 1e3:.3f} ({100 * p['share']:.0f}%)")
        label = {"backward": "fused softmax + CE gradient" if kind == "Softmax" else "backward"}.get(part, part)
        if part == "backward" and layer == parts[0]["layer"]:
            label = "backward (parameters only)"
        lines.append(f"| {label} | {f'{layer} ({kind})' if layer else ''} | " + " | ".join(cells) + " |")
    lines.append("| sum of parts | | " + " | ".join(f"{steps[c]['parts_sum_s'] * 1e3:.3f}" for c in cases) + " |")
    lines.append("| instrumented step (median) | | "
                 + " | ".join(f"{steps[c]['instrumented_median_s'] * 1e3:.3f}" for c in cases) + " |")
    lines.append("| train_step (median, above) | | " + " | ".join(f"{steps[c]['median_s'] * 1e3:.3f}" for c in cases)
                 + " |")
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    """The targets, one line per case and target: met or not, with the numbers."""
    lines = []
    for r in (r for r in rows if r["impl"] == "netspec"):
        case = f"{r['size']} {r['dtype']}"
        if "vs_torch" in r:
            lines.append(f"- {case}: throughput vs PyTorch {r['vs_torch']:.2f}× (target ≥ 0.5): "
                         f"{'met' if r['vs_torch'] >= 0.5 else 'MISSED'}")
        if "vs_floor" in r:
            over = 1 / r["vs_floor"]
            lines.append(f"- {case}: time over the matmul floor {over:.2f}× (target ≤ 1.5): "
                         f"{'met' if over <= 1.5 else 'MISSED'}")
        if r["check_difference"] is not None:
            check = r["check_difference"]
            lines.append(f"- {case}: netspec vs PyTorch over {CHECK_STEPS} steps from the same weights: losses differ "
                         f"by {check['losses']:.1e}, updated parameters by {check['parameters']:.1e} (relative; "
                         f"tolerance {TOLERANCE[r['dtype']]:.0e})")
    return lines


def header(blas: dict) -> list[str]:
    env = {name: os.environ.get(name, "unset") for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return [
        f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {cpu_model()}, {os.cpu_count()} CPUs; "
        f"load average at start: {os.getloadavg()[0]:.2f}",
        f"numpy {np.__version__}, BLAS {blas['library']} kernel {blas['kernel']}, {blas['threads']} threads; "
        f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'not installed'}; "
        f"python {platform.python_version()}; netspec from {os.path.dirname(netspec.__file__)}",
        "environment: " + ", ".join(f"{k}={v}" for k, v in env.items()),
        "FLOPs per step: 2·m·k·n per matrix product of the floor (conv forward, weight and input gradients, "
        "the first layer's input gradient excluded; dense likewise), the same count for every implementation; "
        "netspec/torch = throughput ratio (> 1 = netspec faster); floor = the step's matrix products alone; "
        "reference MiB = weights + activations + gradients; others' CPU = cores used by other processes "
        "during the case (noise)",
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="lenet,wide", help="comma-separated: " + ",".join(SIZES))
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated: float64,float32")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed steps per implementation and case (default: adaptive, --seconds each, "
                             f"between {MIN_REPEATS} and {MAX_REPEATS})")
    parser.add_argument("--seconds", type=float, default=BUDGET_SECONDS,
                        help=f"timed seconds per implementation and case when --repeat is not given "
                             f"(default {BUDGET_SECONDS})")
    parser.add_argument("--json", metavar="OUT", help="also write every number to this JSON file")
    parser.add_argument("--threads", type=int,
                        help="PyTorch's thread count (default: NumPy's BLAS threads; set OPENBLAS_NUM_THREADS "
                             "to change those)")
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes, args.dtypes = args.sizes.split(","), args.dtypes.split(",")
    for value, allowed in [(s, SIZES) for s in args.sizes] + [(d, ("float64", "float32")) for d in args.dtypes]:
        if value not in allowed:
            parser.error(f"unknown {value!r}; expected one of {', '.join(allowed)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    blas = blas_info()
    threads = args.threads or blas["threads"]
    if torch is not None:
        torch.set_num_threads(threads)
    if args.memory_case:
        print(json.dumps(measure_memory(*args.memory_case.split(":"))))
        return
    impls = [impl for impl in IMPLEMENTATIONS if impl != "torch" or torch is not None]
    print_conditions()  # the BLAS kernel and threads, OPENBLAS_* variables, load (the end's is in `bottom`)
    top = header(blas)
    print("\n".join(top), flush=True)
    rows, parts = [], []
    for size in args.sizes:
        for dtype in args.dtypes:
            case_rows, case_parts = run_case(size, dtype, impls, args.repeat, args.seconds, threads)
            rows += case_rows
            parts += case_parts
            print(f"... {size} {dtype} done", file=sys.stderr, flush=True)
    bottom = [f"load average at end: {os.getloadavg()[0]:.2f}", "", table(rows), "",
              "netspec's step, layer by layer (median ms per part, % of the parts' sum):", "",
              breakdown_table(parts, rows), "", *targets(rows)]
    print("\n".join(bottom))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"header": top + bottom[:1], "blas": blas, "rows": rows, "breakdown": parts}, out, indent=2,
                      default=list)


if __name__ == "__main__":
    main()
