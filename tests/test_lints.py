"""Lints: each fires on a minimal spec, stays quiet on the near miss, can be
ignored by its code, and becomes an error under ``strict``."""

import pytest

import netspec


def dense(neurons, **options):
    return {"type": "dense", "neurons": neurons, **options}


def spec(layers, features=2, **sections):
    return {"input": {"features": features}, "layers": layers, **sections}


def adam(rate, kind="adam"):
    return {"train": {"optimizer": {"type": kind, "learning_rate": rate}}}


XOR_TOO_WIDE = spec([dense(128, activation="tanh"), dense(1, activation="sigmoid")],
                    loss="binary_crossentropy", data={"dataset": "xor"})
DEEP = [dense(2, activation="relu")] * 51

# (code, spec, path of the one diagnostic it gives)
FIRES = [
    ("activation-after-activation", spec([dense(8, activation="relu"), {"type": "relu"}]), "layers[1]"),
    ("activation-after-activation", spec([dense(8), {"type": "tanh"}, {"type": "sigmoid"}]), "layers[2]"),
    ("activation-after-activation", spec([dense(8), {"type": "elu"}, {"type": "leaky_relu"}]), "layers[2]"),
    ("activation-after-softmax", spec([dense(3, activation="softmax"), {"type": "sigmoid"}]), "layers[1]"),
    ("activation-after-softmax", spec([dense(3), {"type": "softmax"}, {"type": "relu"}]), "layers[2]"),
    ("dense-collapse", spec([dense(16), dense(1)]), "layers[0]"),
    ("dense-collapse", spec([dense(16, activation="linear"), dense(1)]), "layers[0]"),
    ("dense-collapse", spec([dense(4, activation="relu"), dense(16), {"type": "linear"}, dense(1)]), "layers[1]"),
    ("init-scale", spec([dense(1)], init={"type": "normal", "std": 5.0}), "init.std"),
    ("init-scale", spec([dense(1)], init={"type": "normal", "std": 1e-5}), "init.std"),
    ("init-scale", spec([dense(1, init={"type": "uniform", "low": -2.0, "high": 0.1})]), "layers[0].init.low"),
    ("init-scale", spec([dense(1, init={"type": "uniform", "low": 0, "high": 1e-5})]), "layers[0].init.high"),
    ("learning-rate", spec([dense(1)], **adam(5)), "train.optimizer.learning_rate"),
    ("learning-rate", spec([dense(1)], **adam(1e-7)), "train.optimizer.learning_rate"),
    ("learning-rate", spec([dense(1)], **adam(2, "rmsprop")), "train.optimizer.learning_rate"),
    ("learning-rate", spec([dense(1)], **adam(20, "sgd")), "train.optimizer.learning_rate"),
    ("learning-rate", spec([dense(1)], **adam(1e-6, "sgd")), "train.optimizer.learning_rate"),
    ("too-large-for-data", XOR_TOO_WIDE, "data"),
    ("too-large-for-data", spec([dense(1000, activation="relu"), dense(1)], features=1, loss="mse",
                                data={"dataset": "sine", "samples": 20}), "data"),
    ("too-large-for-data", spec([dense(100, activation="relu"), dense(2), {"type": "softmax"}],
                                data={"dataset": "spiral", "points_per_class": 2, "classes": 2}), "data"),
    ("too-large-for-data", spec(DEEP, data={"dataset": "spiral"}), "layers"),
    ("too-large-for-data", spec([dense(100, activation="relu"), dense(2), {"type": "softmax"}],
                                data={"dataset": "vertical", "samples": 2, "classes": 2}), "data"),
    ("high-dropout-rate", spec([dense(8, activation="relu"), {"type": "dropout", "rate": 0.9}, dense(1)]),
     "layers[1].rate"),
    ("batch-norm-after-softmax", spec([dense(3, activation="softmax"), {"type": "batch_norm"}]), "layers[1]"),
    ("batch-norm-after-softmax", spec([dense(3), {"type": "softmax"}, {"type": "batch_norm", "center": False}]),
     "layers[2]"),
    ("bias-before-batch-norm", spec([dense(8), {"type": "batch_norm"}, {"type": "relu"}, dense(1)]), "layers[0]"),
    ("bias-before-batch-norm", spec([{"type": "conv1d", "filters": 4, "kernel_size": 2}, {"type": "batch_norm"},
                                     {"type": "relu"}, {"type": "flatten"}, dense(1)], input={"shape": [8, 2]}),
     "layers[0]"),
    ("dropout-before-output", spec([dense(8, activation="relu"), dense(1), {"type": "dropout", "rate": 0.2}]),
     "layers[2]"),
    ("dropout-before-output", spec([dense(8, activation="relu"), dense(3), {"type": "dropout", "rate": 0.2},
                                    {"type": "softmax"}], loss="categorical_crossentropy"), "layers[2]"),
    ("dropout-before-output", spec([dense(8, activation="relu"), dense(1), {"type": "dropout", "rate": 0.2,
                                    "name": "dropped"}, {"type": "sigmoid", "inputs": "dropped"}]), "layers[2]"),
]

# (code, spec that is close but fine)
NEAR_MISSES = [
    ("activation-after-activation", spec([dense(8, activation="relu"), dense(1)])),
    ("activation-after-activation", spec([dense(3, activation="linear"), {"type": "softmax"}])),
    ("activation-after-activation", spec([dense(3), {"type": "relu"}, {"type": "linear"}])),
    ("activation-after-softmax", spec([dense(3), {"type": "softmax"}])),
    ("activation-after-softmax", spec([dense(3, activation="softmax"), {"type": "linear"}])),
    ("dense-collapse", spec([dense(16, activation="relu"), dense(1)])),
    ("dense-collapse", spec([dense(16), {"type": "tanh"}, {"type": "linear"}, dense(1)])),
    ("dense-collapse", spec([dense(16), {"type": "linear"}])),
    ("init-scale", spec([dense(1)], init={"type": "normal", "std": 1.0})),
    ("init-scale", spec([dense(1)], init={"type": "normal", "mean": 50.0, "std": 0.01})),
    ("init-scale", spec([dense(1)], init={"type": "uniform", "low": -1e-4, "high": 1e-4})),
    ("init-scale", spec([dense(1)], init={"type": "uniform", "low": 0, "high": 0.1})),
    ("init-scale", spec([dense(1, init="zeros")], init="normal")),
    ("learning-rate", spec([dense(1)], **adam(1))),
    ("learning-rate", spec([dense(1)], **adam(1e-6))),
    ("learning-rate", spec([dense(1)], **adam(5, "sgd"))),
    ("learning-rate", spec([dense(1)], train={"optimizer": "sgd"})),
    ("too-large-for-data", spec([dense(8, activation="tanh"), dense(1, activation="sigmoid")],
                                loss="binary_crossentropy", data={"dataset": "xor"})),
    ("too-large-for-data", spec([dense(1000, activation="relu"), dense(1)], data={"path": "train.csv"})),
    ("too-large-for-data", spec([dense(1000, activation="relu"), dense(1)])),
    ("too-large-for-data", spec(DEEP[:50], data={"dataset": "spiral"})),
    ("high-dropout-rate", spec([dense(8, activation="relu"), {"type": "dropout", "rate": 0.5}, dense(1)])),
    ("batch-norm-after-softmax", spec([dense(3), {"type": "batch_norm"}, {"type": "softmax"}])),
    ("bias-before-batch-norm", spec([dense(8, bias=False), {"type": "batch_norm"}, {"type": "relu"}, dense(1)])),
    ("bias-before-batch-norm", spec([dense(8, activation="relu"), {"type": "batch_norm"}, dense(1)])),
    ("bias-before-batch-norm", spec([dense(8), {"type": "layer_norm"}, {"type": "relu"}, dense(1)])),
    ("dropout-before-output", spec([dense(8, activation="relu"), {"type": "dropout", "rate": 0.2}, dense(1)])),
    ("dropout-before-output", spec([dense(8, activation="relu"), {"type": "dropout", "rate": 0.2}, dense(3),
                                    {"type": "softmax"}])),
]

FIRE_IDS = [f"{code}-{i}" for i, (code, _, _) in enumerate(FIRES)]


def found(report, code):
    return [(d.where, d.severity) for d in report.diagnostics if d.code == code]


@pytest.mark.parametrize("code, source, path", FIRES, ids=FIRE_IDS)
def test_fires_as_the_only_warning(code, source, path):
    report = netspec.validate(source)
    assert report.ok
    assert [(d.code, d.where, d.severity) for d in report.diagnostics] == [(code, path, "warning")]


@pytest.mark.parametrize("code, source", NEAR_MISSES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(NEAR_MISSES)])
def test_near_miss_is_quiet(code, source):
    assert found(netspec.validate(source), code) == []


@pytest.mark.parametrize("code, source, path", FIRES, ids=FIRE_IDS)
def test_ignored_by_code(code, source, path):
    assert netspec.validate(source, ignore=[code]).diagnostics == []


@pytest.mark.parametrize("code, source, path", FIRES, ids=FIRE_IDS)
def test_strict_makes_it_an_error(code, source, path):
    report = netspec.validate(source, strict=True)
    assert not report.ok
    assert found(report, code) == [(path, "error")]
    with pytest.raises(netspec.SpecError):
        netspec.compile(source, strict=True)


def test_warnings_never_stop_compile():
    pipeline = netspec.compile(XOR_TOO_WIDE)
    assert [d.code for d in pipeline.warnings] == ["too-large-for-data"]


def test_messages_name_what_was_found():
    [after] = netspec.validate(spec([dense(8, activation="relu"), {"type": "sigmoid"}])).warnings
    assert "layers[1] (sigmoid_1)" in after.message and "layers[0].activation (relu_1)" in after.message
    [collapse] = netspec.validate(spec([dense(16), dense(1)])).warnings
    assert "layers[0] (dense_1)" in collapse.message and "layers[1] (dense_2)" in collapse.message
    assert "(2 → 1)" in collapse.message
    [rate] = netspec.validate(spec([dense(1)], **adam(20, "sgd"))).warnings
    assert "learning_rate 20" in rate.message and "[1e-05, 10] for sgd" in rate.message
    assert rate.hint.startswith("start from 0.01, the sgd default")
    [init] = netspec.validate(spec([dense(1)], init={"type": "normal", "std": 5.0})).warnings
    assert "std is 5" in init.message
    [size] = netspec.validate(XOR_TOO_WIDE).warnings
    assert "513 parameters for 4 samples" in size.message
    [deep] = netspec.validate(spec(DEEP, data={"dataset": "spiral"})).warnings
    assert deep.message.startswith("51 dense layers (over 50) for 300 samples")


def test_warnings_come_code_by_code_in_the_order_of_lints_then_step_by_step():
    source = spec([dense(8), dense(4, activation="relu"), {"type": "tanh"}, {"type": "softmax"}, {"type": "sigmoid"},
                   dense(3), dense(2, init={"type": "normal", "std": 5.0})], loss="categorical_crossentropy")
    found = [(d.code, d.where) for d in netspec.validate(source).warnings]
    assert found == [
        ("crossentropy-without-softmax", "loss"),
        ("activation-after-activation", "layers[2]"),
        ("activation-after-activation", "layers[3]"),
        ("activation-after-softmax", "layers[4]"),
        ("dense-collapse", "layers[0]"),
        ("dense-collapse", "layers[5]"),
        ("init-scale", "layers[6].init.std"),
    ]
    assert [code for code, _ in found] == sorted((code for code, _ in found), key=list(netspec.lints.LINTS).index)
