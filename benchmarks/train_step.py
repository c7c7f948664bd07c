"""Time one training step of netspec's compiled pipeline against the same
network written by hand in NumPy and in PyTorch CPU eager.

One step is: forward, loss, backward (with the fused softmax + cross-entropy
gradient ``(p - onehot) / n``) and one plain SGD update (learning rate 0.01).
Every implementation starts from the same weights, in the same dtype, on the
same inputs, with the same number of BLAS threads.

- ``netspec``: ``netspec.runtime.training.train_step(pipeline, X, targets)``
  on a pipeline compiled from a dict spec; this includes the product's
  finiteness check of the loss and every gradient.
- ``hand``: the "neural networks from scratch" tutorial's code: ``X @ W + b``,
  ``np.maximum(0, x)``, softmax with the row max subtracted, the clipped
  cross-entropy, the fused gradient, ReLU backward by masking a copy,
  ``W -= lr * dW``; unlike the tutorial, and like netspec and PyTorch, it
  skips the first layer's ``dinputs``, which nothing uses.
- ``torch``: ``nn.Linear``/``nn.ReLU``, ``F.cross_entropy`` on the logits,
  ``torch.optim.SGD`` with ``zero_grad``/``backward``/``step``.
- ``lean``: the same step in the fewest NumPy passes, every array
  preallocated and written in place (bias and ReLU in place on the product's
  buffer, softmax, loss and fused gradient in the last buffer, a kept ReLU
  mask, a dot product per gradient for the finiteness check, the update
  through one scratch array); a reference for what NumPy allows at that
  shape, not an implementation. It gives netspec's loss and weights.
- ``matmul``: only the step's matrix products, into preallocated buffers; a
  reference for what BLAS alone costs at that shape, not an implementation.
  The targets print each step's time over it, netspec's and lean's.

**Per-batch overhead** (first, and alone with ``--overhead``): the spiral
net of the classic course (2→64 relu→3, SGD, its 300-row data set) at
batch 1, 32 and 300, netspec's ``train_step`` against the classic course's
loop written out for this net (``written_out_impl``: named arrays, no loop
over layers, no copies: ``X @ W + b``, ``np.maximum(0, ·)``, softmax with
the row max, the clipped cross-entropy of each row's class, the fused
gradient ``(p − y)/n`` written into the probabilities, ReLU backward by
assigning zeros through the mask, ``W -= lr * dW``), the reference of the
ratio, and, as a second column, ``hand``'s generic loop over layers. Then
the evaluation ``fit`` runs after each epoch (``metric_values`` on a
forward pass over the 300 rows: loss and accuracy) against the hand-written
one (forward, clipped cross-entropy, ``argmax`` accuracy). Times are
process CPU time of interleaved blocks of about 20 ms, so other processes
on the machine disturb them little; the ratio is netspec's time over the
written-out loop's (< 1: netspec faster).

``--toolkit`` times the medium net with the training toolkit instead, netspec
against PyTorch with the same components: each hidden dense layer without a
bias, then batch normalization (momentum 0.99, PyTorch's 0.01; epsilon
1e-3), ReLU and dropout of 0.2; an L2 penalty of 1e-4 on every weight matrix
(added to PyTorch's loss as ``1e-4 · Σ w²``); SGD. Both draw their own
dropout masks, so their steps are not compared value for value.

FLOP convention: 6 * n * in * out per dense layer per step (2 forward, 2 for
dweights, 2 for dinputs), except 4 * n * in * out for the first layer, whose
dinputs no implementation computes. The same count is used for every
implementation, so GFLOP/s ratios equal time ratios. Bias, activation,
softmax, loss and update FLOPs are not counted.

Memory: ``tracemalloc MiB`` is the peak of the NumPy bytes allocated by three
steps on a freshly built network (model and data excluded; what the step keeps
between steps, such as saved activations and gradients, included). Torch's
tensors are invisible to tracemalloc, so ``RSS MiB`` measures every
implementation the same way in a subprocess per case: the peak resident set
during three steps (VmHWM, reset through /proc/self/clear_refs) minus the
resident set just before them.

Run by hand, never from the tests:

    python benchmarks/train_step.py
    python benchmarks/train_step.py --sizes small,medium --dtypes float32 --json out.json
    python benchmarks/train_step.py --toolkit
    python benchmarks/train_step.py --overhead
"""

from __future__ import annotations

import argparse
import gc
import json
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
from netspec.runtime.training import metric_values, train_step

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

try:
    from threadpoolctl import threadpool_info
except ImportError:
    threadpool_info = None

SIZES = {
    "small": ((2, 64, 3), 300),
    "medium": ((784, 256, 128, 10), 256),
    "large": ((1024, 4096, 4096, 1024), 512),
}
IMPLEMENTATIONS = ("netspec", "hand", "torch", "lean", "matmul")
LEARNING_RATE = 0.01
SEED = 0
BUDGET_SECONDS = 1.5  # timed seconds per implementation and case when --repeat is not given
MIN_REPEATS, MAX_REPEATS, MAX_ROUNDS = 5, 2000, 10
SETTLE_SECONDS = 0.15  # pause before each block: idle BLAS/OpenMP threads stop spinning
PEAK_SIZE = 2048


# --- the machine ---------------------------------------------------------------

def blas_info() -> dict:
    """NumPy's BLAS: thread count and kernel (threadpoolctl when installed)."""
    if threadpool_info is None:
        return {"threads": os.cpu_count(), "kernel": "unknown (threadpoolctl not installed)", "library": "?"}
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas" and "numpy" in lib["filepath"]]
    lib = blas[0] if blas else next(lib for lib in threadpool_info() if lib["user_api"] == "blas")
    return {"threads": lib["num_threads"], "kernel": lib.get("architecture", "?"),
            "library": f"{lib['internal_api']} {lib['version']}"}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def peak_probe(dtype: str, size: int = PEAK_SIZE):
    """A step-like callable multiplying two square ``size`` matrices (2 * size³ FLOPs),
    timed alongside the implementations so that it sees the same load."""
    rng = np.random.default_rng(SEED)
    A, B = (rng.standard_normal((size, size)).astype(dtype) for _ in range(2))
    C = np.empty_like(A)
    return lambda: np.matmul(A, B, out=C)


def step_flops(widths: tuple[int, ...], samples: int) -> int:
    """6 * n * in * out per dense layer, 4 * n * in * out for the first (no dinputs)."""
    return 6 * samples * sum(a * b for a, b in zip(widths, widths[1:])) - 2 * samples * widths[0] * widths[1]


# --- the four implementations: each returns (step, parameters) ------------------
# ``step()`` runs one training step and returns the loss; ``parameters`` are the
# live arrays in netspec's layout (W (in, out), b (1, out)), for the checks.

def netspec_spec(widths: tuple[int, ...], dtype: str) -> dict:
    hidden = [{"type": "dense", "neurons": w, "activation": "relu"} for w in widths[1:-1]]
    return {
        "netspec": "1",
        "input": {"features": widths[0]},
        "layers": hidden + [{"type": "dense", "neurons": widths[-1], "activation": "softmax"}],
        "loss": "categorical_crossentropy",
        "dtype": dtype,
        "seed": SEED,
        "train": {"optimizer": {"type": "sgd", "learning_rate": LEARNING_RATE}},
    }


def netspec_impl(widths, X, y):
    pipeline = netspec.compile(netspec_spec(widths, X.dtype.name))
    targets = pipeline.targets(y, len(X))
    return (lambda: train_step(pipeline, X, targets)), pipeline.parameters()


def hand_impl(initial, X, y):
    params = [p.copy() for p in initial]
    weights, biases = params[0::2], params[1::2]
    n, last = len(X), len(weights) - 1

    def step():
        inputs, outputs = [], []
        a = X
        for i, (W, b) in enumerate(zip(weights, biases)):
            inputs.append(a)
            z = a @ W + b
            outputs.append(z)
            a = z if i == last else np.maximum(0, z)
        exp_values = np.exp(a - np.max(a, axis=1, keepdims=True))
        probs = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(probs, 1e-7, 1 - 1e-7)
        loss = np.mean(-np.log(clipped[range(n), y]))
        dz = probs.copy()
        dz[range(n), y] -= 1
        dz = dz / n
        grads = []
        for i in reversed(range(len(weights))):
            grads.append((inputs[i].T @ dz, np.sum(dz, axis=0, keepdims=True)))
            if i > 0:
                dinputs = dz @ weights[i].T
                dz = dinputs.copy()
                dz[outputs[i - 1] <= 0] = 0
        for (W, b), (dW, db) in zip(zip(weights, biases), reversed(grads)):
            W -= LEARNING_RATE * dW
            b -= LEARNING_RATE * db
        return loss

    return step, params


def torch_impl(initial, X, y):
    layers = []
    for W, b in zip(initial[0::2], initial[1::2]):
        linear = torch.nn.Linear(*W.shape, dtype=getattr(torch, X.dtype.name))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b[0]))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs, labels = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    params = [a for m in linears for a in (m.weight.detach().numpy().T, m.bias.detach().numpy()[None])]
    return step, params


def product_buffers(weights, X):
    """Kept arrays for a step's products: each layer's output, each layer's
    input (``X``, then the previous output), the input gradient of every
    layer but the first, and each weight gradient."""
    outs = [np.empty((len(X), W.shape[1]), X.dtype) for W in weights]
    ins = [X] + outs[:-1]
    return outs, ins, [np.empty_like(a) for a in ins[1:]], [np.empty_like(W) for W in weights]


def matmul_impl(initial, X, y):
    weights = initial[0::2]
    outs, ins, dins, dweights = product_buffers(weights, X)

    def step():
        for a, W, z in zip(ins, weights, outs):
            np.matmul(a, W, out=z)
        for i, (a, W, z, dW) in enumerate(zip(ins, weights, outs, dweights)):
            np.matmul(a.T, z, out=dW)
            if i > 0:
                np.matmul(z, W.T, out=dins[i - 1])
        return float("nan")

    return step, []


def lean_impl(initial, X, y):
    """The fewest NumPy passes a step of netspec's algorithm takes, every array
    preallocated and written in place: the products into kept buffers, the
    bias added and ReLU applied in place on them (``relu(z) > 0`` exactly where
    ``z > 0``, so the saved output gives the backward mask), softmax, the loss
    and the fused gradient in the last layer's buffer, ReLU backward through
    a kept boolean mask, the finiteness check (a dot product per gradient)
    and ``W -= lr * dW`` through one scratch array. A reference for what NumPy
    alone allows at this shape, not an implementation: it keeps no
    pre-activation outputs and none of a pipeline's generality."""
    params = [p.copy() for p in initial]
    weights, biases = params[0::2], params[1::2]
    n, last = len(X), len(weights) - 1
    outs, ins, dins, dweights = product_buffers(weights, X)
    masks = [np.empty(z.shape, bool) for z in outs[:-1]]
    dbiases = [np.empty_like(b) for b in biases]
    gradients = [g for pair in zip(dweights, dbiases) for g in pair]
    scratch = np.empty(max(W.size for W in weights), X.dtype)
    positions = np.arange(n) * weights[-1].shape[1] + y

    def step():
        for i, (a, W, b, z) in enumerate(zip(ins, weights, biases, outs)):
            np.matmul(a, W, out=z)
            np.add(z, b, out=z)
            if i < last:
                np.maximum(z, 0, out=z)
        z = outs[-1]
        np.subtract(z, np.maximum.reduce(z, axis=1, keepdims=True), out=z)
        np.exp(z, out=z)
        np.divide(z, np.add.reduce(z, axis=1, keepdims=True), out=z)
        flat = z.reshape(-1)
        loss = -np.add.reduce(np.log(np.clip(flat[positions], 1e-7, 1 - 1e-7))) / n
        flat[positions] -= 1
        np.multiply(z, 1 / n, out=z)
        d = z
        for i in range(last, -1, -1):
            np.matmul(ins[i].T, d, out=dweights[i])
            np.add.reduce(d, axis=0, keepdims=True, out=dbiases[i])
            if i > 0:
                np.matmul(d, weights[i].T, out=dins[i - 1])
                np.multiply(dins[i - 1], np.greater(outs[i - 1], 0, out=masks[i - 1]), out=dins[i - 1])
                d = dins[i - 1]
        for g in gradients:
            flat = g.reshape(-1)
            if not np.isfinite(np.dot(flat, flat)):
                raise FloatingPointError("non-finite gradient")
        for p, g in zip(params, gradients):
            update = scratch[: g.size].reshape(g.shape)
            np.subtract(p, np.multiply(LEARNING_RATE, g, out=update), out=p)
        return loss

    return step, params


BUILDERS = {"hand": hand_impl, "torch": torch_impl, "matmul": matmul_impl, "lean": lean_impl}

# --- the medium net with dropout, batch normalization and an L2 penalty ----------

TOOLKIT_WIDTHS, TOOLKIT_BATCH = SIZES["medium"]
TOOLKIT_IMPLEMENTATIONS = ("netspec", "torch")
DROPOUT, L2 = 0.2, 1e-4


def toolkit_spec(widths: tuple[int, ...], dtype: str) -> dict:
    hidden = [layer for w in widths[1:-1] for layer in (
        {"type": "dense", "neurons": w, "bias": False}, {"type": "batch_norm"}, {"type": "relu"},
        {"type": "dropout", "rate": DROPOUT})]
    return {**netspec_spec(widths, dtype), "regularizer": {"l2": L2},
            "layers": hidden + [{"type": "dense", "neurons": widths[-1], "activation": "softmax"}]}


def netspec_toolkit_impl(widths, X, y):
    pipeline = netspec.compile(toolkit_spec(widths, X.dtype.name))
    targets = pipeline.targets(y, len(X))
    return (lambda: train_step(pipeline, X, targets)), pipeline.parameters()


def torch_toolkit_impl(initial, X, y):
    """``initial``: netspec's parameters in order (per hidden layer W, gamma, beta; then W, b)."""
    dtype = getattr(torch, X.dtype.name)
    arrays, layers, weights = list(initial), [], []
    while len(arrays) > 2:
        W, gamma, beta = arrays.pop(0), arrays.pop(0), arrays.pop(0)
        linear = torch.nn.Linear(*W.shape, bias=False, dtype=dtype)
        norm = torch.nn.BatchNorm1d(W.shape[1], eps=1e-3, momentum=0.01, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))
            norm.weight.copy_(torch.from_numpy(gamma))
            norm.bias.copy_(torch.from_numpy(beta))
        layers += [linear, norm, torch.nn.ReLU(), torch.nn.Dropout(DROPOUT)]
        weights.append(linear.weight)
    W, b = arrays
    last = torch.nn.Linear(*W.shape, dtype=dtype)
    with torch.no_grad():
        last.weight.copy_(torch.from_numpy(W.T))
        last.bias.copy_(torch.from_numpy(b[0]))
    model = torch.nn.Sequential(*layers, last).train()
    weights.append(last.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs, labels = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels) + L2 * sum((w * w).sum() for w in weights)
        loss.backward()
        optimizer.step()
        return loss

    return step, []


def build_toolkit(impl: str, X, y):
    step, params = netspec_toolkit_impl(TOOLKIT_WIDTHS, X, y)
    if impl == "netspec":
        return step, params
    return torch_toolkit_impl([p.copy() for p in params], X, y)


def run_toolkit(dtype: str, repeat: int | None, threads: int) -> list[dict]:
    """The ``--toolkit`` case: netspec and PyTorch, timed as :func:`run_case` times a case."""
    widths, samples = TOOLKIT_WIDTHS, TOOLKIT_BATCH
    X, y = make_data(widths, samples, dtype)
    impls = [impl for impl in TOOLKIT_IMPLEMENTATIONS if impl != "torch" or torch is not None]
    steps = {impl: build_toolkit(impl, X, y)[0] for impl in impls}
    rows = measured_rows("toolkit", widths, samples, dtype, impls, steps, repeat, threads)
    if len(rows) == 2:
        rows[0]["vs_torch"] = rows[1]["median_s"] / rows[0]["median_s"]
    return rows


# --- per-batch overhead: the spiral net at small batches ----------------------------

OVERHEAD_WIDTHS = SIZES["small"][0]
OVERHEAD_BATCHES = (1, 32, 300)
OVERHEAD_POINTS = 100  # per class: the classic course's spiral data set, 300 rows of 3 classes
OVERHEAD_ROUNDS = 9
OVERHEAD_BLOCK_SECONDS = 0.02  # CPU seconds per timed block


def hand_evaluation(initial, X, y):
    """What a hand-written loop computes after each epoch: a forward pass over
    every row, the clipped cross-entropy and the accuracy, the tutorial's way."""
    weights, biases = initial[0::2], initial[1::2]
    n, last = len(X), len(weights) - 1

    def evaluate():
        a = X
        for i, (W, b) in enumerate(zip(weights, biases)):
            z = a @ W + b
            a = z if i == last else np.maximum(0, z)
        exp_values = np.exp(a - np.max(a, axis=1, keepdims=True))
        probs = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        loss = np.mean(-np.log(np.clip(probs, 1e-7, 1 - 1e-7)[range(n), y]))
        return float(loss), float(np.mean(np.argmax(probs, axis=1) == y))

    return evaluate


def written_out_impl(initial, X, y):
    """The classic course's training loop written out for a net of one hidden
    ReLU layer and a softmax output, as one writes it by hand for the spiral
    net: the same algorithm as ``hand`` (and as netspec), without the loop
    over layers, the lists of saved values or the copies."""
    params = [p.copy() for p in initial]
    W1, b1, W2, b2 = params
    n, samples = len(X), np.arange(len(X))

    def step():
        z1 = X @ W1 + b1
        a1 = np.maximum(0, z1)
        z2 = a1 @ W2 + b2
        exp_values = np.exp(z2 - z2.max(axis=1, keepdims=True))
        probs = exp_values / exp_values.sum(axis=1, keepdims=True)
        loss = -np.log(np.clip(probs[samples, y], 1e-7, 1 - 1e-7)).mean()
        dz2 = probs
        dz2[samples, y] -= 1
        dz2 /= n
        dW2, db2 = a1.T @ dz2, dz2.sum(axis=0, keepdims=True)
        dz1 = dz2 @ W2.T
        dz1[z1 <= 0] = 0
        dW1, db1 = X.T @ dz1, dz1.sum(axis=0, keepdims=True)
        params[0] -= LEARNING_RATE * dW1  # W1, b1, W2, b2, in place
        params[1] -= LEARNING_RATE * db1
        params[2] -= LEARNING_RATE * dW2
        params[3] -= LEARNING_RATE * db2
        return loss

    return step, params


def cpu_blocks(functions: dict, rounds: int) -> dict[str, list[float]]:
    """CPU seconds per call of each function, one block of calls per function
    and round, the functions taking turns. Process CPU time leaves out the
    time another process holds the core; the spiral net's products are too
    small for BLAS to start its threads, so it is the time of the call."""
    counts = {}
    for name, function in functions.items():
        started, calls = time.process_time(), 0
        while calls < 20 or time.process_time() - started < 0.05:
            function()
            calls += 1
        counts[name] = max(20, int(OVERHEAD_BLOCK_SECONDS * calls / (time.process_time() - started)))
    times = {name: [] for name in functions}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, function in functions.items():
                started = time.process_time()
                for _ in range(counts[name]):
                    function()
                times[name].append((time.process_time() - started) / counts[name])
    finally:
        gc.enable()
    return times


def overhead_row(case: str, batch: int, dtype: str, times: dict[str, list[float]]) -> dict:
    """netspec's and the hand-written reference's median µs per call, their
    ratio, and the range of the ratio over the rounds (each round's blocks);
    ``generic_us``, the generic loop over layers, when it was timed too."""
    ours, theirs = statistics.median(times["netspec"]), statistics.median(times["hand"])
    rounds = [a / b for a, b in zip(times["netspec"], times["hand"])]
    row = {"case": case, "batch": batch, "dtype": dtype, "netspec_us": ours * 1e6, "hand_us": theirs * 1e6,
           "ratio": ours / theirs, "ratio_low": min(rounds), "ratio_high": max(rounds), "rounds": len(rounds)}
    if "generic" in times:
        row["generic_us"] = statistics.median(times["generic"]) * 1e6
    return row


def run_overhead(dtype: str, rounds: int = OVERHEAD_ROUNDS) -> list[dict]:
    """The spiral net (2→64 relu→3, SGD) at batch 1, 32 and 300: netspec's
    ``train_step`` against the loop written out for this net (the reference,
    ``hand_us``) and the generic hand-written loop (``generic_us``) on the
    same rows from the same weights, then the per-epoch evaluation that
    ``fit`` runs (a forward pass over the 300 rows, the loss and the
    accuracy) against the hand-written one."""
    X, y = netspec.data.spiral(OVERHEAD_POINTS, OVERHEAD_WIDTHS[-1], seed=SEED)
    X = np.ascontiguousarray(X, dtype=dtype)
    rows = np.random.default_rng(SEED).permutation(len(X))
    found = []
    for batch in OVERHEAD_BATCHES:
        chosen = np.sort(rows[:batch])
        Xb, yb = X[chosen], y[chosen]
        step, params = netspec_impl(OVERHEAD_WIDTHS, Xb, yb)
        written, written_params = written_out_impl([p.copy() for p in params], Xb, yb)
        generic, _ = hand_impl([p.copy() for p in params], Xb, yb)
        check_same_overhead_step(step, params, written, written_params, dtype)
        found.append(overhead_row("step", batch, dtype,
                                  cpu_blocks({"netspec": step, "hand": written, "generic": generic}, rounds)))
    pipeline = netspec.compile(netspec_spec(OVERHEAD_WIDTHS, dtype))
    targets = pipeline.targets(y, len(X))
    evaluations = {"netspec": lambda: metric_values(pipeline, pipeline.run(X), targets, ("accuracy",)),
                   "hand": hand_evaluation([p.copy() for p in pipeline.parameters()], X, y)}
    found.append(overhead_row("evaluation", len(X), dtype, cpu_blocks(evaluations, rounds)))
    return found


def check_same_overhead_step(step, params, written, written_params, dtype: str) -> None:
    """One step of netspec and of the written-out loop: the same loss and the
    same updated weights, to rounding (they are the same algorithm)."""
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    losses = loss_value(step()), loss_value(written())
    if not np.isclose(*losses, rtol=tolerance, atol=tolerance) or not all(
            np.allclose(a, b, rtol=tolerance, atol=tolerance) for a, b in zip(params, written_params)):
        raise SystemExit(f"the written-out loop does not compute netspec's step ({dtype}): losses {losses}")


def overhead_table(rows: list[dict]) -> str:
    head = ("| spiral 2→64→3, SGD | dtype | netspec µs | hand-written µs | netspec ÷ hand (time) | range over rounds "
            "| generic loop over layers µs |")
    lines = [head, "|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        what = f"step, batch {r['batch']}" if r["case"] == "step" else f"per-epoch evaluation, {r['batch']} rows"
        generic = f"{r['generic_us']:.1f}" if "generic_us" in r else "–"
        lines.append(f"| {what} | {r['dtype']} | {r['netspec_us']:.1f} | {r['hand_us']:.1f} | {r['ratio']:.2f}× "
                     f"| {r['ratio_low']:.2f}–{r['ratio_high']:.2f}× | {generic} |")
    return "\n".join(lines)


def overhead_targets(rows: list[dict]) -> list[str]:
    """The targets of the small-batch work: ≤ 1.2× the written-out loop's step at batch 32, ≤ 1.05× at 300."""
    lines = []
    for r in rows:
        limit = {32: 1.2, 300: 1.05}.get(r["batch"]) if r["case"] == "step" else None
        if limit is not None:
            lines.append(f"- spiral {r['dtype']} batch {r['batch']}: {r['ratio']:.2f}× the written-out loop's time "
                         f"(target ≤ {limit}×): {'met' if r['ratio'] <= limit else 'MISSED'}")
    return lines


def build(impl: str, widths, X, y):
    """``(step, parameters)`` for ``impl``; all start from netspec's initial weights."""
    step, params = netspec_impl(widths, X, y)
    if impl == "netspec":
        return step, params
    return BUILDERS[impl]([p.copy() for p in params], X, y)


def make_data(widths, samples: int, dtype: str):
    rng = np.random.default_rng(SEED)
    X = np.ascontiguousarray(rng.standard_normal((samples, widths[0])).astype(dtype))
    return X, rng.integers(0, widths[-1], samples)


# --- timing -----------------------------------------------------------------------


def time_steps(steps: dict, repeat: int | None) -> dict[str, list[float]]:
    """Per-step times of every implementation (``repeat`` each, or adaptive) and
    of the peak probe (adaptive), interleaved in up to MAX_ROUNDS rounds so
    that a burst of load from other processes hits all of them alike.

    Each block starts after a pause: OpenBLAS's worker threads keep spinning
    for about 0.1 s after a matmul, and would otherwise take a core from the
    next block's implementation (PyTorch ran 2× slower right after NumPy).
    A block of steps shorter than the pause then starts with one untimed step."""
    counts, guesses = {}, {}
    for name, step in steps.items():
        guesses[name] = warm_up(step)
        adaptive = min(MAX_REPEATS, max(MIN_REPEATS, int(BUDGET_SECONDS / guesses[name])))
        counts[name] = repeat if repeat and name in IMPLEMENTATIONS else adaptive
    rounds = min(MAX_ROUNDS, *(counts[name] for name in steps if name in IMPLEMENTATIONS))
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


def check_same_step(steps: dict, params: dict, dtype: str) -> float:
    """Run one step of each implementation from the same weights; the largest
    relative difference of the losses and of the updated parameters."""
    losses = {name: loss_value(step()) for name, step in steps.items() if name != "matmul"}
    reference = params["netspec"]
    worst = max(abs(loss - losses["netspec"]) / abs(losses["netspec"]) for loss in losses.values())
    for name, arrays in params.items():
        for mine, theirs in zip(arrays, reference):
            worst = max(worst, float(np.max(np.abs(mine - theirs)) / (np.max(np.abs(theirs)) or 1)))
    tolerance = 1e-4 if dtype == "float32" else 1e-9
    if worst > tolerance:
        print(f"warning: implementations differ after one step by {worst:.2e} (> {tolerance})", file=sys.stderr)
    return worst


# --- memory, in a subprocess per case ----------------------------------------------


def measure_memory(size: str, dtype: str, impl: str) -> dict:
    """Run in a fresh process: tracemalloc peak and RSS peak of MEMORY_STEPS steps."""
    widths, samples = SIZES[size] if size != "toolkit" else (TOOLKIT_WIDTHS, TOOLKIT_BATCH)
    X, y = make_data(widths, samples, dtype)
    step, _ = build(impl, widths, X, y) if size != "toolkit" else build_toolkit(impl, X, y)
    return step_memory(step, impl)


# --- one case and the report ---------------------------------------------------------

def measured_rows(size: str, widths, samples: int, dtype: str, impls: list[str], steps: dict, repeat: int | None,
                  threads: int, difference: float | None = None) -> list[dict]:
    """Time ``steps`` (one per implementation; the matmul peak probe is added)
    taking turns, then measure each implementation's memory in a fresh process
    (``steps`` is emptied first, so this one holds none of them): a row each."""
    steps["peak"] = peak_probe(dtype)
    busy, mine, started = *others_cpu(), time.perf_counter()
    times = time_steps(steps, repeat)
    busy_after, mine_after = others_cpu()
    others = (busy_after - busy - (mine_after - mine)) / (time.perf_counter() - started)
    steps.clear()
    gc.collect()
    flops = step_flops(widths, samples)
    peak = 2 * PEAK_SIZE**3 / statistics.median(times["peak"]) / 1e9
    rows = []
    for impl in impls:
        median = statistics.median(times[impl])
        quartiles = statistics.quantiles(times[impl], n=4)
        rows.append({
            "size": size, "widths": list(widths), "batch": samples, "dtype": dtype, "impl": impl,
            "median_s": median, "iqr_s": quartiles[2] - quartiles[0], "steps_timed": len(times[impl]),
            "samples_per_s": samples / median, "gflops": flops / median / 1e9, "peak_gflops": peak,
            "peak_fraction": flops / median / 1e9 / peak, "others_cpu": others, "check_difference": difference,
            **memory_in_subprocess(__file__, size, dtype, impl, threads),
        })
    return rows


def run_case(size: str, dtype: str, impls: list[str], repeat: int | None, threads: int) -> list[dict]:
    widths, samples = SIZES[size]
    X, y = make_data(widths, samples, dtype)
    built = {impl: build(impl, widths, X, y) for impl in impls}
    steps = {impl: step for impl, (step, _) in built.items()}
    difference = check_same_step(steps, {impl: p for impl, (_, p) in built.items() if p}, dtype)
    del built
    rows = measured_rows(size, widths, samples, dtype, impls, steps, repeat, threads, difference)
    by_impl = {row["impl"]: row for row in rows}
    for other in ("hand", "torch"):
        if other in by_impl:
            by_impl["netspec"][f"vs_{other}"] = by_impl[other]["median_s"] / by_impl["netspec"]["median_s"]
    if "matmul" in by_impl:  # time ratios over the floor (> 1 = slower than the products alone)
        floor = by_impl["matmul"]["median_s"]
        by_impl["netspec"]["vs_matmul"] = by_impl["netspec"]["median_s"] / floor
        if "lean" in by_impl:
            by_impl["netspec"]["lean_vs_matmul"] = by_impl["lean"]["median_s"] / floor
    return rows


def table(rows: list[dict]) -> str:
    head = ("| net | dtype | impl | ms/step (±IQR%) | samples/s | GFLOP/s | % of matmul peak "
            "| netspec/hand | netspec/torch | tracemalloc MiB | RSS MiB | others' CPU |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        net = f"{r['size']} {'→'.join(map(str, r['widths']))} ×{r['batch']}"
        ratios = [f"{r[key]:.2f}×" if key in r else "" for key in ("vs_hand", "vs_torch")]
        lines.append(
            f"| {net} | {r['dtype']} | {r['impl']} | {r['median_s'] * 1e3:.3f} (±{100 * r['iqr_s'] / r['median_s']:.0f}%) "
            f"| {r['samples_per_s']:,.0f} | {r['gflops']:.1f} | {100 * r['peak_fraction']:.0f}% of "
            f"{r['peak_gflops']:.0f} | {ratios[0]} | {ratios[1]} | {mib(r['tracemalloc_bytes'])} "
            f"| {mib(r['rss_bytes'])} | {r['others_cpu']:.2f} |")
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    """The project's targets, one line per case: met or not, with the numbers."""
    lines = []
    for r in (r for r in rows if r["impl"] == "netspec"):
        case = f"{r['size']} {r['dtype']}"
        if "vs_hand" in r:
            lines.append(f"- {case}: throughput vs hand-written {r['vs_hand']:.2f}× (target ≥ 0.95): "
                         f"{'met' if r['vs_hand'] >= 0.95 else 'MISSED'}")
        if "vs_torch" in r:
            lines.append(f"- {case}: throughput vs PyTorch {r['vs_torch']:.2f}× (target ≥ 1.00): "
                         f"{'met' if r['vs_torch'] >= 1.0 else 'MISSED'}")
        if r["size"] != "small":
            lines.append(f"- {case}: {100 * r['peak_fraction']:.0f}% of matmul peak (target ≥ 90%): "
                         f"{'met' if r['peak_fraction'] >= 0.9 else 'MISSED'}")
        if "vs_matmul" in r and r["size"] != "small":
            lean = f"; the fewest NumPy passes (lean): {r['lean_vs_matmul']:.2f}×" if "lean_vs_matmul" in r else ""
            target = f" (target ≤ 1.1×: {'met' if r['vs_matmul'] <= 1.1 else 'MISSED'})" if r["size"] == "medium" else ""
            lines.append(f"- {case}: step time ÷ its matrix products alone {r['vs_matmul']:.2f}×{target}{lean}")
    return lines


def header(blas: dict) -> list[str]:
    env = {name: os.environ.get(name, "unset") for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    lines = [
        f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {cpu_model()}, {os.cpu_count()} CPUs; "
        f"load average at start: {os.getloadavg()[0]:.2f}",
        f"numpy {np.__version__}, BLAS {blas['library']} kernel {blas['kernel']}, {blas['threads']} threads; "
        f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'not installed'}; "
        f"python {platform.python_version()}",
        "environment: " + ", ".join(f"{k}={v}" for k, v in env.items()),
        "FLOPs per step: 6·n·in·out per dense layer, 4·n·in·out for the first (no implementation computes "
        "its dinputs), the same count for every implementation; ratios are throughput, > 1 = netspec faster; "
        "matmul = the step's matrix products alone, a reference; matmul peak = median GFLOP/s of a square "
        f"{PEAK_SIZE} numpy matmul timed interleaved with the case; others' CPU = cores used by other "
        "processes during the case (noise)",
    ]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small,medium,large", help="comma-separated: small,medium,large")
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated: float64,float32")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed steps per implementation and case (default: adaptive, about "
                             f"{BUDGET_SECONDS} s each, between {MIN_REPEATS} and {MAX_REPEATS})")
    parser.add_argument("--toolkit", action="store_true",
                        help="time the medium net with dropout, batch_norm and an L2 penalty against PyTorch")
    parser.add_argument("--overhead", action="store_true",
                        help="time only the spiral net's step at batch 1, 32 and 300 and the per-epoch evaluation "
                             "against the hand-written loop (part of the default run)")
    parser.add_argument("--json", metavar="OUT", help="also write every number to this JSON file")
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
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
    if torch is not None:
        torch.set_num_threads(args.threads or blas["threads"])
    if args.memory_case:
        print(json.dumps(measure_memory(*args.memory_case.split(":"))))
        return
    impls = [impl for impl in IMPLEMENTATIONS if impl != "torch" or torch is not None]
    print_conditions()  # the BLAS kernel and threads, OPENBLAS_* variables, load (the end's is in `bottom`)
    top = header(blas)
    print("\n".join(top), flush=True)
    rows, overhead = [], []
    for dtype in args.dtypes if not args.toolkit else ():  # first, before the large nets' BLAS threads run
        overhead += run_overhead(dtype)
        print(f"... spiral overhead {dtype} done", file=sys.stderr, flush=True)
    for size in args.sizes if not (args.toolkit or args.overhead) else ():
        for dtype in args.dtypes:
            rows += run_case(size, dtype, impls, args.repeat, blas["threads"])
            print(f"... {size} {dtype} done", file=sys.stderr, flush=True)
    for dtype in args.dtypes if args.toolkit else ():
        rows += run_toolkit(dtype, args.repeat, blas["threads"])
        print(f"... toolkit {dtype} done", file=sys.stderr, flush=True)
    bottom = [f"load average at end: {os.getloadavg()[0]:.2f}", ""]
    if overhead:
        bottom += ["Per-batch overhead (CPU µs per call, median of interleaved blocks):", "", overhead_table(overhead),
                   "", *overhead_targets(overhead), ""]
    if rows:
        bottom += [table(rows), "", *targets(rows)]
    print("\n".join(bottom))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"header": top + bottom[:1], "blas": blas, "rows": rows, "overhead": overhead}, out, indent=2)


if __name__ == "__main__":
    main()
