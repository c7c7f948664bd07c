"""Time netspec's validation against a bare Pydantic v2 model of the same shape.

Three cases, each timed for ``netspec.validate`` on a dict and for a plain
Pydantic ``BaseModel`` (``extra="forbid"``, ``strict=True``, ``frozen=True``,
a discriminated union of layer models on ``type``; no reading, no source
map, no diagnostics, no shape inference, no lints), so the overhead of
netspec's machinery is visible:

1. a 4-layer spec (the spiral classifier) — specs per second, target ≥ 50,000/s;
2. a 1,000-layer spec (499 dense + relu pairs, dense, softmax) — ms per
   validation, target ≤ 3 ms and ≤ 2× the bare model;
3. a 10,000-variant sweep of the 4-layer spec (4 paths × 10 values),
   generated and validated (``netspec.sweep``) — seconds, target "seconds"
   (read as under 10 s). The bare side builds the same trees with
   ``itertools.product`` (and netspec's path setter) and validates each.

Then the cost per layer, at 10, 100, 1,000 and 10,000 layers (specs built
like case 2), for ``netspec.validate``, for the same validation with
Python's cyclic garbage collector left running (``validate`` pauses it: see
``netspec.collector``), for the bare model, and for the bare model with the
collector paused as ``validate`` pauses it, which shows how Pydantic's own
cost grows with the number of layers; target: 10,000 layers in ≤ 10× the
time of 1,000 (linear). ``--hold N`` keeps N small containers alive
while timing, as a process holding data would: how much a process holds
changes how often a running collector traverses all of it (with a million
held, its full collections come rarely and the bare model gets faster),
while a paused collector costs nothing either way.

The bare model covers what these specs use (dense and activation layers,
losses, initialisers, Adam and SGD, the spiral dataset), with the same
strictness; each pair of implementations is timed in alternating rounds.

Then the validate path is profiled for cases 1 and 2: the stages ``validate``
calls are timed in place (read, check, infer without lints, lints, and the
rest of ``validate``), and cProfile lists the functions that cost most.

Times are CPU seconds of this process (``time.process_time``), the best of
several rounds, so other load on a shared machine disturbs them less.

It prints, first, what it ran on (``_conditions.py``: BLAS kernel and
threads, ``OPENBLAS_*`` variables, load average) and the load average again
at the end.

Run by hand, never from the tests:

    python benchmarks/validation.py
    python benchmarks/validation.py --seconds 0.5 --no-profile
    python benchmarks/validation.py --hold 1000000 --no-profile
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import itertools
import platform
import pstats
import time
from typing import Annotated, Any, Callable, Literal, Optional, Union

import pydantic
from _conditions import print_conditions, print_load_at_end
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

import netspec
from netspec import api
from netspec.collector import paused_collector
from netspec.sweeps import sweep

# --- the specs -------------------------------------------------------------------

SMALL = {
    "netspec": "1",
    "name": "spiral",
    "input": {"features": 2},
    "layers": [
        {"type": "dense", "neurons": 64, "activation": "relu", "init": "he_normal"},
        {"type": "dense", "neurons": 64, "activation": "relu", "init": "he_normal"},
        {"type": "dense", "neurons": 3},
        {"type": "softmax"},
    ],
    "loss": "categorical_crossentropy",
    "seed": 0,
    "train": {"optimizer": {"type": "adam", "learning_rate": 0.02}, "epochs": 300, "metrics": ["accuracy"]},
    "data": {"dataset": "spiral", "points_per_class": 100, "classes": 3},
}


def deep_spec(layers: int = 1000) -> dict:
    """``layers`` entries: dense + relu pairs, then dense and softmax."""
    pairs = [[{"type": "dense", "neurons": 16}, {"type": "relu"}] for _ in range((layers - 2) // 2)]
    return {"netspec": "1", "input": {"features": 8},
            "layers": [entry for pair in pairs for entry in pair] + [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
            "loss": "categorical_crossentropy", "seed": 0}


SWEEP_GRID = {
    "layers[0].neurons": [8, 16, 24, 32, 40, 48, 56, 64, 72, 80],
    "layers[1].neurons": [8, 16, 24, 32, 40, 48, 56, 64, 72, 80],
    "train.optimizer.learning_rate": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    "seed": list(range(10)),
}

# --- the bare Pydantic model ---------------------------------------------------------

STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class Bare(BaseModel):
    model_config = STRICT


class Uniform(Bare):
    type: Literal["uniform"]
    low: float = -0.05
    high: float = 0.05


class Normal(Bare):
    type: Literal["normal"]
    mean: float = 0.0
    std: float = 0.01


class NamedInit(Bare):
    type: Literal["glorot_uniform", "he_normal", "zeros"]


def _bare_name(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


Init = Annotated[Union[Uniform, Normal, NamedInit], Field(discriminator="type"), pydantic.BeforeValidator(_bare_name)]


class Activation(Bare):
    type: Literal["relu", "sigmoid", "tanh", "softmax", "linear"]
    name: Optional[str] = None


class Alpha(Bare):
    type: Literal["leaky_relu", "elu"]
    alpha: float = 0.01
    name: Optional[str] = None


ActivationUnion = Annotated[Union[Activation, Alpha], Field(discriminator="type"), pydantic.BeforeValidator(_bare_name)]


class Dense(Bare):
    type: Literal["dense"]
    neurons: PositiveInt
    in_features: Optional[PositiveInt] = None
    activation: Optional[ActivationUnion] = None
    bias: bool = True
    init: Optional[Init] = None
    name: Optional[str] = None


Layer = Annotated[Union[Dense, Activation, Alpha], Field(discriminator="type")]


class Loss(Bare):
    type: Literal["categorical_crossentropy", "binary_crossentropy", "mse", "mae"]
    from_logits: bool = False


class Adam(Bare):
    type: Literal["adam"]
    learning_rate: float = Field(default=0.001, gt=0)
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-7
    decay: float = 0.0


class SGD(Bare):
    type: Literal["sgd"]
    learning_rate: float = Field(default=0.01, gt=0)
    momentum: float = 0.0
    nesterov: bool = False
    decay: float = 0.0


class Train(Bare):
    optimizer: Optional[Annotated[Union[Adam, SGD], Field(discriminator="type")]] = None
    epochs: PositiveInt = 100
    batch_size: Optional[PositiveInt] = None
    shuffle: bool = True
    seed: Optional[int] = None
    validation_split: float = 0.0
    metrics: list[Literal["accuracy", "mae"]] = []


class Spiral(Bare):
    dataset: Literal["spiral"]
    points_per_class: PositiveInt = 100
    classes: int = 3
    noise: float = 0.2
    seed: Optional[int] = 0


class Input(Bare):
    features: PositiveInt


class BareSpec(Bare):
    netspec: Literal["1"] = "1"
    name: Optional[str] = None
    description: Optional[str] = None
    input: Input
    layers: list[Layer] = Field(min_length=1)
    loss: Optional[Annotated[Loss, pydantic.BeforeValidator(_bare_name)]] = None
    init: Optional[Init] = None
    seed: Optional[int] = None
    dtype: Literal["float64", "float32"] = "float64"
    train: Optional[Train] = None
    data: Optional[Spiral] = None


def bare_validate(tree: dict) -> BareSpec:
    return BareSpec.model_validate(tree)


def bare_sweep(base: dict, grid: dict) -> int:
    """The bare side of case 3: every combination's tree, validated; the number valid."""
    from netspec.spec import parse_path, set_path
    from netspec.sweeps import _copy

    paths = [parse_path(key) for key in grid]
    valid = 0
    for values in itertools.product(*grid.values()):
        tree = _copy(base)
        for path, value in zip(paths, values):
            set_path(tree, path, value)
        try:
            bare_validate(tree)
            valid += 1
        except pydantic.ValidationError:
            pass
    return valid


# --- timing -----------------------------------------------------------------------------

# CPU time of this process: other load on the machine counts far less than in
# wall-clock time, and everything timed here runs on one thread.
clock = time.process_time


def best_per_call_of(functions: list[Callable[[], Any]], seconds: float, rounds: int = 7) -> list[float]:
    """Seconds per call of each function: the best of ``rounds`` rounds, the
    functions taking turns within each round so that they see the same load."""
    counts = []
    for function in functions:
        function()
        started, calls = clock(), 0
        while clock() - started < seconds / len(functions) / rounds:
            function()
            calls += 1
        counts.append(max(1, calls))
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for i, (function, calls) in enumerate(zip(functions, counts)):
            gc.collect()
            started = clock()
            for _ in range(calls):
                function()
            best[i] = min(best[i], (clock() - started) / calls)
    return best


def best_of(functions: list[Callable[[], Any]], rounds: int = 3) -> list[float]:
    """Seconds of the fastest of ``rounds`` runs of each long function, taking turns."""
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for i, function in enumerate(functions):
            gc.collect()
            started = clock()
            function()
            best[i] = min(best[i], clock() - started)
    return best


def table(seconds: float) -> list[str]:
    deep = deep_spec()
    base = SMALL
    assert netspec.validate(SMALL).ok and netspec.validate(deep).ok
    bare_validate(SMALL), bare_validate(deep)
    small = best_per_call_of([lambda: netspec.validate(SMALL), lambda: bare_validate(SMALL)], 2 * seconds)
    large = best_per_call_of([lambda: netspec.validate(deep), lambda: bare_validate(deep)], 2 * seconds)
    count = len(list(itertools.product(*SWEEP_GRID.values())))
    netspec_sweep, bare = best_of([lambda: sum(v.ok for v in sweep(base, SWEEP_GRID)), lambda: bare_sweep(base, SWEEP_GRID)])
    rows = [
        ("1. 4-layer spec: specs/s (µs each)", f"{1 / small[0]:,.0f} ({small[0] * 1e6:,.0f} µs)",
         f"{1 / small[1]:,.0f} ({small[1] * 1e6:,.0f} µs)", small[0] / small[1], "≥ 50,000/s", 1 / small[0] >= 50_000),
        ("2. 1,000-layer spec: ms each", f"{large[0] * 1e3:,.2f}", f"{large[1] * 1e3:,.2f}", large[0] / large[1],
         "≤ 3 ms, ≤ 2× bare", large[0] <= 3e-3 and large[0] <= 2 * large[1]),
        (f"3. {count:,}-variant sweep: s", f"{netspec_sweep:,.2f}", f"{bare:,.2f}", netspec_sweep / bare,
         "seconds (< 10 s)", netspec_sweep < 10),
    ]
    lines = ["| case | netspec | bare Pydantic | netspec / bare | target | met |", "|---|---:|---:|---:|---|---|"]
    lines += [f"| {c} | {n} | {b} | {ratio:.1f}× | {t} | {'yes' if ok else 'no'} |" for c, n, b, ratio, t, ok in rows]
    return lines


LAYER_COUNTS = (10, 100, 1000, 10_000)


def per_layer(seconds: float) -> list[str]:
    """Cost per layer at each of :data:`LAYER_COUNTS`: ``netspec.validate``, the
    same with the garbage collector running, the bare model, and the bare
    model with the collector paused (as ``validate`` pauses it)."""
    running = functools.partial(api._validate, strict=False, ignore=(), limits=api.DEFAULT_LIMITS)
    lines = ["| layers | netspec ms | µs per layer | collector running: ms | µs per layer | bare Pydantic ms "
             "| µs per layer | bare, collector paused: µs per layer | netspec / bare |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    times, bare_paused_times = {}, {}
    for count in LAYER_COUNTS:
        tree = deep_spec(count)
        assert netspec.validate(tree).ok and len(tree["layers"]) == count
        paused, unpaused, bare, bare_paused = best_per_call_of(
            [lambda: netspec.validate(tree), lambda: running(tree), lambda: bare_validate(tree),
             lambda: bare_with_collector_paused(tree)], 4 * seconds)
        times[count], bare_paused_times[count] = paused, bare_paused
        lines.append(f"| {count:,} | {paused * 1e3:,.3f} | {paused / count * 1e6:.2f} | {unpaused * 1e3:,.3f} | "
                     f"{unpaused / count * 1e6:.2f} | {bare * 1e3:,.3f} | {bare / count * 1e6:.2f} | "
                     f"{bare_paused / count * 1e6:.2f} | {paused / bare:.2f}× |")
    growth = times[10_000] / times[1000]
    bare_growth = bare_paused_times[10_000] / bare_paused_times[1000]
    return lines + ["", f"10,000 layers take {growth:.1f}× the time of 1,000 (target ≤ 10×: "
                        f"{'met' if growth <= 10 else 'MISSED'}); the bare model, collector paused, "
                        f"{bare_growth:.1f}×"]


def bare_with_collector_paused(tree: dict) -> BareSpec:
    with paused_collector():  # the pause validate takes
        return bare_validate(tree)


# --- where the time goes -------------------------------------------------------------------

def stages(tree: dict, seconds: float) -> list[tuple[str, float]]:
    """Where ``netspec.validate(tree)`` spends its time: (stage, seconds per
    spec). The stage functions ``validate`` calls are wrapped in timers in
    place (``read``, ``check``, ``infer``, then ``lint``, which ``validate``
    runs after inference); the fastest of 5 rounds is kept."""
    targets = [(api, "read", "read"), (api, "check", "check"), (api, "infer_shapes", "infer"), (api, "lint", "lints")]
    originals = [getattr(module, name) for module, name, _ in targets]
    calls = max(1, int(seconds / 5 / best_per_call_of([lambda: netspec.validate(tree)], seconds / 4)[0]))
    best: dict[str, float] = {}
    try:
        for _ in range(5):
            spent = dict.fromkeys(("read", "check", "infer", "lints"), 0.0)
            for (module, name, stage), original in zip(targets, originals):
                setattr(module, name, _timed(original, stage, spent))
            gc.collect()
            started = clock()
            for _ in range(calls):
                netspec.validate(tree)
            spent["total"] = clock() - started
            if not best or spent["total"] < best["total"]:
                best = spent
    finally:
        for (module, name, _), original in zip(targets, originals):
            setattr(module, name, original)
    parts = [("read", best["read"]), ("check", best["check"]), ("infer (without lints)", best["infer"]),
             ("lints", best["lints"])]
    parts.append(("other (validate itself, timers)", best["total"] - sum(s for _, s in parts)))
    return [(stage, s / calls) for stage, s in [*parts, ("total", best["total"])]]


def _timed(function: Callable, stage: str, spent: dict[str, float]) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] += clock() - started

    return timed


def profile(tree: dict, calls: int, top: int) -> str:
    """cProfile of ``calls`` validations: the ``top`` functions by own time."""
    netspec.validate(tree)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        netspec.validate(tree)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]
    total = sum(v[2] for v in stats.stats.values())
    lines = ["| function | calls per spec | own µs per spec | own % | cumulative µs per spec |", "|---|---:|---:|---:|---:|"]
    for (file, line, name), (_, ncalls, own, cumulative, _) in rows:
        where = f"{file.rsplit('/', 2)[-2]}/{file.rsplit('/', 1)[-1]}:{line}({name})" if "/" in file else name
        lines.append(f"| `{where}` | {ncalls / calls:,.1f} | {own / calls * 1e6:,.1f} | {own / total:.0%} | "
                     f"{cumulative / calls * 1e6:,.1f} |")
    return "\n".join(lines)


def breakdown(name: str, tree: dict, seconds: float, calls: int) -> list[str]:
    parts = stages(tree, seconds)
    total = parts[-1][1]
    lines = [f"### {name}", "", "| stage | µs per spec | share |", "|---|---:|---:|"]
    lines += [f"| {stage} | {s * 1e6:,.1f} | {s / total:.0%} |" for stage, s in parts]
    return lines + ["", f"cProfile, {calls:,} validations (profiler overhead inflates Python-heavy code):", "",
                    profile(tree, calls, 15), ""]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per measurement (default 2)")
    parser.add_argument("--no-profile", action="store_true", help="only the tables")
    parser.add_argument("--hold", type=int, default=0, metavar="N",
                        help="keep N small containers alive while timing, as a process holding data would "
                             "(default 0)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    print_conditions()
    held = [[{}] for _ in range(args.hold)]
    print(f"netspec {netspec.__version__}, Pydantic {pydantic.VERSION}, Python {platform.python_version()}, "
          f"{platform.machine()}; {len(held):,} containers held while timing\n")
    print("\n".join(table(args.seconds)))
    print("\n### cost per layer\n")
    print("\n".join(per_layer(args.seconds)))
    if not args.no_profile:
        print()
        print("\n".join(breakdown("case 1: 4-layer spec", SMALL, args.seconds, 2000)))
        print("\n".join(breakdown("case 2: 1,000-layer spec", deep_spec(), args.seconds, 30)))
    print_load_at_end()


if __name__ == "__main__":
    main()
