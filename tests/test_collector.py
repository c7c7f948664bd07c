"""The garbage collector is paused while a spec is validated, and always left
as the caller had it: enabled or disabled, after errors, nested, and across threads."""

import gc
import threading

import pytest

import netspec
from netspec import api, collector, sweeps
from netspec.collector import paused_collector

SPEC = {"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
        "loss": "categorical_crossentropy"}


@pytest.fixture(autouse=True)
def collector_restored():
    """Each test starts with the collector enabled and leaves it as it found it."""
    was = gc.isenabled()
    gc.enable()
    yield
    assert collector._pauses == 0
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_enabled_again_after():
    with paused_collector():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_enabled_again_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with paused_collector():
            1 / 0
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled():
    gc.disable()
    with paused_collector():
        assert not gc.isenabled()
    assert not gc.isenabled()
    netspec.validate(SPEC)
    assert not gc.isenabled()


def test_nested_pauses_enable_it_only_when_the_outermost_ends():
    with paused_collector():
        with paused_collector():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause must not re-enable it under the outer one
    assert gc.isenabled()


def test_validate_runs_with_the_collector_paused(monkeypatch):
    seen = []

    def infer(spec, **kwargs):
        seen.append(gc.isenabled())
        return original(spec, **kwargs)

    original = api.infer_shapes
    monkeypatch.setattr(api, "infer_shapes", infer)
    assert netspec.validate(SPEC).ok
    assert seen == [False] and gc.isenabled()


@pytest.mark.parametrize("source", [SPEC, {"layers": "nope"}, '{"input": ', 42])
def test_validate_restores_the_collector_whatever_the_source(source):
    netspec.validate(source)
    assert gc.isenabled()


def test_load_and_compile_restore_it_after_raising():
    with pytest.raises(netspec.SpecError):
        netspec.load({"input": {"features": 2}, "layers": []})
    assert gc.isenabled()
    with pytest.raises(netspec.SpecError):
        netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 0}]})
    assert gc.isenabled()


def test_compile_builds_the_pipeline_with_the_collector_paused(monkeypatch):
    seen = []

    def build(spec, shapes):
        seen.append(gc.isenabled())
        return original(spec, shapes)

    original = api.build_pipeline
    monkeypatch.setattr(api, "build_pipeline", build)
    netspec.compile(SPEC)
    assert seen == [False] and gc.isenabled()


def test_each_sweep_variant_is_made_with_the_collector_paused(monkeypatch):
    seen = []

    def validate(tree, **kwargs):
        seen.append(gc.isenabled())
        return original(tree, **kwargs)

    original = sweeps.validate
    monkeypatch.setattr(sweeps, "validate", validate)
    variants = list(netspec.sweep(SPEC, {"layers[0].neurons": [4, 8]}))
    assert [v.ok for v in variants] == [True, True]
    assert seen == [False, False] and gc.isenabled()


def test_pauses_in_several_threads_end_with_the_last():
    inside, release = threading.Barrier(3), threading.Event()

    def pause():
        with paused_collector():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=pause) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert not gc.isenabled() and collector._pauses == 2
    release.set()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


def test_validations_in_threads_leave_it_enabled():
    errors = []

    def work():
        try:
            for _ in range(50):
                assert netspec.validate(SPEC).ok
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and gc.isenabled()
