"""BLAS threads by problem size: one for small steps, the library's choice
for large ones, and an explicit count (argument or NETSPEC_THREADS) over both."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import netspec
from netspec.errors import NetspecError
from netspec.runtime import threads
from netspec.runtime.training import fit

DENSE = {"input": {"features": 2}, "seed": 0,
         "layers": [{"type": "dense", "neurons": 64, "activation": "relu"}, {"type": "dense", "neurons": 3},
                    {"type": "softmax"}], "loss": "categorical_crossentropy", "train": {"epochs": 2}}
CONV = {"input": {"shape": [8, 8, 1]}, "seed": 0,
        "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same"}, {"type": "flatten"},
                   {"type": "dense", "neurons": 3}, {"type": "softmax"}], "loss": "categorical_crossentropy"}


def blas_threads_now():
    return next(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


@pytest.fixture(autouse=True)
def no_variable(monkeypatch):
    monkeypatch.delenv(threads.ENVIRONMENT, raising=False)


def test_multiply_adds_of_dense_layers_are_in_times_out():
    pipeline = netspec.compile(DENSE)
    assert threads.multiply_adds_per_sample(pipeline, np.zeros((1, 2))) == 2 * 64 + 64 * 3


def test_multiply_adds_of_a_convolution_count_every_output_position():
    pipeline = netspec.compile(CONV)
    # 3×3×1×4 kernel at 8×8 positions ("same"), then 256 → 3
    assert threads.multiply_adds_per_sample(pipeline, np.zeros((1, 8, 8, 1))) == 36 * 64 + 256 * 3


def test_a_training_step_counts_forward_and_backward():
    pipeline = netspec.compile(DENSE)
    X = np.zeros((10, 2))
    assert threads.step_work(pipeline, X, 5, training=True) == 3 * 5 * 320
    assert threads.step_work(pipeline, X, 10, training=False) == 10 * 320


def test_one_thread_per_work_quantum_up_to_the_library_count(monkeypatch):
    monkeypatch.setattr(threads, "library_threads", lambda: 4)
    quantum = threads.WORK_PER_THREAD
    assert [threads.choose(work) for work in (0, quantum - 1, quantum, 2 * quantum, 3 * quantum + 1)] == [
        1, 1, 1, 2, 3]
    assert threads.choose(4 * quantum) is None and threads.choose(100 * quantum) is None  # the library's own count


def test_the_quick_start_runs_on_one_thread():
    pipeline = netspec.compile(DENSE)
    X, _ = netspec.data.spiral(100, 3, seed=0)
    assert threads.step_work(pipeline, X, 300, training=True) < threads.WORK_PER_THREAD


def test_an_explicit_count_wins_over_the_rule(monkeypatch):
    assert threads.choose(10, threads=2) == 2
    monkeypatch.setenv(threads.ENVIRONMENT, "3")
    assert threads.choose(10) == 3 and threads.choose(10**12) == 3
    assert threads.choose(10, threads=1) == 1  # the argument wins over the variable


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_count_says_what_was_expected(monkeypatch, value):
    monkeypatch.setenv(threads.ENVIRONMENT, value)
    with pytest.raises(NetspecError, match=f"NETSPEC_THREADS must be a positive integer .BLAS threads.; "
                                           f"received '{value}'"):
        threads.choose(10)


def test_blas_threads_sets_the_count_inside_and_restores_it_after():
    before = blas_threads_now()
    with threads.blas_threads(1):
        assert blas_threads_now() == 1
    assert blas_threads_now() == before
    with threads.blas_threads(None):
        assert blas_threads_now() == before


def test_fit_trains_a_small_problem_with_one_thread_unless_told():
    pipeline = netspec.compile(DENSE)
    X, y = netspec.data.spiral(10, 3, seed=0)
    seen = []
    run = lambda **options: fit(pipeline, X, pipeline.targets(y, len(X)), pipeline.training, verbose=0,  # noqa: E731
                                on_epoch=lambda epoch, logs: seen.append(blas_threads_now()), **options)
    run()
    run(threads=2)
    assert seen == [1, 1, 2, 2]


def test_the_blas_libraries_are_looked_up_once_per_process(monkeypatch):
    """Looking them up walks every loaded library (about 0.7 ms): fit did it
    twice per call. The counts are still read live from the libraries."""
    import sys

    import threadpoolctl

    made = []

    class Counted(threadpoolctl.ThreadpoolController):
        def __init__(self):
            if sys._getframe(1).f_globals["__name__"] == threads.__name__:  # not threadpool_info's own
                made.append(self)
            super().__init__()

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Counted)
    monkeypatch.setattr(threads, "_CONTROLLER", [])
    pipeline = netspec.compile(DENSE)
    X, y = netspec.data.spiral(10, 3, seed=0)
    seen = []
    for count in (None, 1, 2):
        fit(pipeline, X, pipeline.targets(y, len(X)), pipeline.training, verbose=0, threads=count,
            on_epoch=lambda epoch, logs: seen.append(blas_threads_now()))
    assert len(made) == 1
    assert seen == [1, 1, 1, 1, 2, 2]
    with threads.blas_threads(1):
        assert threads.library_threads() == 1  # a limit in force is what the library says now
