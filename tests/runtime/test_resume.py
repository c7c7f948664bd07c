"""Resuming equals uninterrupted training, bit for bit, with everything that
has state: dropout's masks (the spec's random source), batch normalization's
moving averages, a reduce_on_plateau schedule, momentum, the shuffle order;
and validation rows of their own."""

import numpy as np
import pytest

import netspec as ns
from netspec.errors import CheckpointError

SPEC = {"input": 2, "seed": 7,
        "layers": [{"type": "dense", "neurons": 16, "bias": False, "regularizer": {"l2": 1e-4}},
                   {"type": "batch_norm", "momentum": 0.9}, {"type": "relu"}, {"type": "dropout", "rate": 0.2},
                   {"type": "dense", "neurons": 3}, {"type": "softmax"}],
        "loss": "categorical_crossentropy",
        "train": {"optimizer": {"type": "sgd", "learning_rate": 0.5, "momentum": 0.9}, "epochs": 8, "batch_size": 32,
                  "validation_split": 0.2, "metrics": ["accuracy"], "clip_global_norm": 2.0, "class_weight": [1, 2, 1],
                  "schedule": {"type": "reduce_on_plateau", "monitor": "accuracy", "patience": 1, "factor": 0.5,
                               "min_delta": 0.05}}}


@pytest.mark.parametrize("rng", ["default", "legacy"])
def test_resuming_equals_uninterrupted_training_bit_for_bit(tmp_path, rng):
    spec = {**SPEC, "rng": rng}
    X, y = ns.data.spiral(points_per_class=40, seed=0)
    whole = ns.compile(spec)
    history = whole.fit(X, y, verbose=0)
    first = ns.compile(spec)
    early = first.fit(X, y, verbose=0, epochs=3)
    first.save(tmp_path / "m.npz")
    resumed = ns.load_pipeline(tmp_path / "m.npz")
    late = resumed.fit(X, y, verbose=0, epochs=5)
    for a, b in zip(whole.parameters() + whole.buffers(), resumed.parameters() + resumed.buffers()):
        assert a.tobytes() == b.tobytes()
    assert {k: early[k] + late[k] for k in history.values} == history.values
    assert len(set(history["learning_rate"])) > 1  # the plateau reduced the rate on the way
    assert whole.random.bit_generator.state == resumed.random.bit_generator.state if rng == "default" else True


def test_a_checkpoint_keeps_the_moving_averages_for_inference(tmp_path):
    X, y = ns.data.spiral(points_per_class=40, seed=0)
    pipeline = ns.compile(SPEC)
    pipeline.fit(X, y, verbose=0, epochs=2)
    pipeline.save(tmp_path / "m.npz", optimizer_state=False)
    loaded = ns.load_pipeline(tmp_path / "m.npz")
    assert loaded.predict(X).tobytes() == pipeline.predict(X).tobytes()
    np.testing.assert_array_equal(loaded.layers[1].moving_variance, pipeline.layers[1].moving_variance)


def test_a_checkpoint_whose_buffers_do_not_fit_is_refused(tmp_path):
    pipeline = ns.compile(SPEC)
    pipeline.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["buffer.1"] = np.ones(5)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"buffer 1 is float64\[5\] but the spec needs float64\[16\]"):
        ns.load_pipeline(tmp_path / "bad.npz")


def test_validation_rows_of_their_own():
    X, y = ns.data.spiral(points_per_class=40, seed=0)
    Xv, yv = ns.data.spiral(points_per_class=10, seed=1)
    spec = {**SPEC, "train": {**SPEC["train"], "validation_split": 0.0, "epochs": 2,
                              "schedule": {"type": "step", "step_size": 1}}}
    pipeline = ns.compile(spec)
    history = pipeline.fit(X, y, verbose=0, validation_data=(Xv, yv))
    assert history["val_accuracy"][-1] == pipeline.evaluate(Xv, yv)["accuracy"]
    assert history["val_data_loss"][-1] == pytest.approx(pipeline.evaluate(Xv, yv)["data_loss"], rel=1e-12)


def test_data_validation_in_the_spec_and_its_rules():
    base = {"input": 2, "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
            "loss": "categorical_crossentropy"}
    data = {"dataset": "spiral", "validation": {"dataset": "spiral", "seed": 1}}
    spec = ns.load({**base, "data": data, "train": {"early_stopping": {"monitor": "val_loss"}}})
    X, _ = ns.data.from_section(spec.data)
    Xv, _ = ns.data.from_section(spec.data.validation)
    assert X.shape == Xv.shape and not np.array_equal(X, Xv)
    both = ns.validate({**base, "data": data, "train": {"validation_split": 0.2}})
    assert [(d.where, d.code) for d in both.errors] == [("train.validation_split", "invalid-value")]
    nested = ns.validate({**base, "data": {**data, "validation": {**data["validation"], "validation": data}}})
    assert [(d.where, d.code) for d in nested.errors] == [("data.validation.validation", "unknown-key")]
    assert ns.load({**base, "data": data}).to_dict()["data"] == data
