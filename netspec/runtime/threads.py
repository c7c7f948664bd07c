"""How many BLAS threads a problem gets.

On small matrices more BLAS threads cost more than they give: OpenBLAS's
threads wake, split a product that takes microseconds, then spin waiting for
the next one, and when anything else runs on the machine they fight it (and
each other) for the cores. Training the quick-start spiral classifier on two
cores took 0.3–0.4 s with one thread and 2.7–16.5 s with two under load.

The rule, measured by ``benchmarks/threads.py``: one thread for every
:data:`WORK_PER_THREAD` multiply-adds that one step's matrix products do (per
batch when training, forward and backward; per call for inference), at least
one and at most the BLAS library's own count (every core). So the quick
start's 4 million multiply-adds a step run on one thread, and only networks
a thousand times larger spread over two. A count given explicitly —
``threads=`` here, ``--threads`` on the command line, or the
``NETSPEC_THREADS`` environment variable — wins over the rule.

:func:`blas_threads` applies a count around a block with threadpoolctl
(imported only then) and restores the previous count after it. The BLAS
libraries are looked up once per process (:func:`controller`): a lookup
walks every loaded shared library, about 0.7 ms, which ``fit`` paid twice
per call, 13 seconds over a sweep of 10,000 trainings.
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any, Iterator

import numpy as np

from ..errors import NetspecError

WORK_PER_THREAD = 1_000_000_000
ENVIRONMENT = "NETSPEC_THREADS"


def multiply_adds_per_sample(pipeline: Any, sample: np.ndarray) -> int:
    """Multiply-adds of one sample's forward pass through the layers' weight
    matrices: a dense layer's ``in × out``, a convolution's kernel size times
    its output positions. Learnt from a forward pass on ``sample`` (one row,
    already checked), so any layer with ``weights`` (or, for a plugin, any
    parameter of two or more axes) counts."""
    with np.errstate(all="ignore"):  # what the values are does not matter here
        pipeline.run(sample)
    total = 0
    for layer in pipeline.layers:
        kernel = getattr(layer, "weights", None)
        weights = kernel.size if kernel is not None else sum(p.size for p in layer.parameters() if p.ndim > 1)
        output = getattr(layer, "output", None)
        positions = math.prod(output.shape[1:-1]) if output is not None and output.ndim > 2 else 1
        total += weights * positions
    return total


def step_work(pipeline: Any, X: np.ndarray, batch: int, *, training: bool) -> int:
    """Multiply-adds of one step: a training batch (forward, then about twice
    as much backward) or one inference call over ``batch`` rows."""
    if len(X) == 0:
        return 0
    return multiply_adds_per_sample(pipeline, X[:1]) * batch * (3 if training else 1)


def requested(threads: int | None = None) -> int | None:
    """The count asked for: ``threads`` when given, else ``NETSPEC_THREADS``
    when set, else None (the rule decides). A bad value is a NetspecError."""
    if threads is not None:
        return _positive(threads, "threads")
    text = os.environ.get(ENVIRONMENT, "").strip()
    return _positive(text, ENVIRONMENT) if text else None


def choose(work: int, threads: int | None = None) -> int | None:
    """Threads for a step of ``work`` multiply-adds: the requested count, else
    ``work // WORK_PER_THREAD`` within [1, the library's count]; None when
    that is the library's count already (nothing to change)."""
    asked = requested(threads)
    if asked is not None:
        return asked
    most = library_threads()
    count = min(most, max(1, work // WORK_PER_THREAD))
    return None if count == most else count


def library_threads() -> int:
    """The BLAS library's thread count now (every core, unless its own
    environment variables say otherwise, or a limit is in force)."""
    counts = [lib.num_threads for lib in controller().select(user_api="blas").lib_controllers]
    return max(counts, default=1)


_CONTROLLER: list[Any] = []  # the one threadpoolctl controller, made on first use


def controller() -> Any:
    """A threadpoolctl ``ThreadpoolController`` over the BLAS and OpenMP
    libraries loaded when netspec first asks: NumPy's BLAS, which netspec's
    products run on, is loaded with NumPy, before any. Thread counts are read
    from the libraries each time; only the list of libraries is kept."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextlib.contextmanager
def blas_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` BLAS threads (None: leave them as they are)."""
    if count is None:
        yield
        return
    with controller().limit(limits=count, user_api="blas"):
        yield


def _positive(value: Any, name: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or count < 1 or (isinstance(value, float) and not value.is_integer()):
        raise NetspecError(f"{name} must be a positive integer (BLAS threads); received {value!r}")
    return count
