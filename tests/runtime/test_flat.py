"""A small dense net's two buffers (netspec.runtime.flat): packed at compile,
the same values as the per-array path bit for bit, and a fall back to that
path whenever the layers' arrays are no longer the buffers' views."""

import copy
import pickle

import numpy as np
import pytest

import netspec
from netspec.runtime.flat import Flat, pack
from netspec.runtime.layers import Dense
from netspec.runtime.optimizers import SGD
from netspec.runtime.training import TrainingError, train_step


def spiral_spec(dtype="float64", optimizer=None, **train):
    return {"input": {"features": 2}, "seed": 3, "dtype": dtype,
            "layers": [{"type": "dense", "neurons": 16, "activation": "relu"},
                       {"type": "dense", "neurons": 3, "activation": "softmax"}],
            "loss": "categorical_crossentropy",
            "train": {"optimizer": optimizer or {"type": "sgd", "learning_rate": 0.5}, "epochs": 4,
                      "batch_size": 32, "seed": 1, **train}}


@pytest.fixture
def data():
    X, y = netspec.data.spiral(40, 3, seed=0)
    return X, y


def unpacked(pipeline):
    """A copy whose arrays are independent of any buffer: it trains through the per-array path."""
    twin = copy.deepcopy(pipeline)
    assert not twin.flat.intact(twin.layers)
    return twin


def assert_same_parameters(a, b):
    assert len(a.parameters()) == len(b.parameters())
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q, strict=True)


def test_compile_packs_a_small_dense_net_into_views_of_two_buffers():
    pipeline = netspec.compile(spiral_spec())
    flat = pipeline.flat
    assert isinstance(flat, Flat) and flat.intact(pipeline.layers)
    for parameter, gradient in zip(pipeline.parameters(), pipeline.gradients()):
        assert np.shares_memory(parameter, flat.parameters) and np.shares_memory(gradient, flat.gradients)
        assert parameter.ctypes.data % 64 == 0
    assert sum(p.size for p in pipeline.parameters()) <= flat.parameters.size


def test_pack_keeps_the_values_and_leaves_other_networks_alone():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 5)), rng.normal(size=(1, 5))
    layer = Dense(W.copy(), b.copy())
    flat = pack([layer], np.float64)
    np.testing.assert_array_equal(layer.weights, W)
    np.testing.assert_array_equal(layer.bias, b)
    assert not np.any(flat.gradients)
    assert pack([Dense(W.astype(np.float32))], np.float64) is None  # another dtype
    assert pack([Dense(np.zeros((200, 100)))], np.float64) is None  # too large to gain anything
    conv = netspec.compile({"input": {"shape": [6, 6, 1]}, "seed": 0, "loss": "mse",
                            "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3}, {"type": "flatten"},
                                       {"type": "dense", "neurons": 1}]})
    assert conv.flat is None
    normalized = netspec.compile({"input": {"features": 2}, "seed": 0, "loss": "mse",
                                  "layers": [{"type": "dense", "neurons": 4}, {"type": "batch_norm"},
                                             {"type": "dense", "neurons": 1}]})
    assert normalized.flat is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer, train", [
    ({"type": "sgd", "learning_rate": 0.5}, {}),
    ({"type": "sgd", "learning_rate": 0.5, "decay": 0.01}, {}),
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, {}),
    ({"type": "adam", "learning_rate": 0.01}, {}),
    ({"type": "rmsprop", "learning_rate": 0.01}, {"clip_norm": 0.5}),
    ({"type": "sgd", "learning_rate": 0.5}, {"clip_global_norm": 0.1}),
    ({"type": "sgd", "learning_rate": 0.5}, {"clip_value": 0.01, "class_weight": {"0": 2.0}}),
])
def test_training_gives_the_per_array_path_values_bit_for_bit(data, dtype, optimizer, train):
    X, y = data
    pipeline = netspec.compile(spiral_spec(dtype, optimizer, **train))
    reference = unpacked(pipeline)
    first = pipeline.fit(X, y, verbose=0)
    second = reference.fit(X, y, verbose=0)
    assert pipeline.flat.intact(pipeline.layers)
    assert_same_parameters(pipeline, reference)
    assert first.as_dict() == second.as_dict()


def test_a_regularized_net_with_sample_weights_and_one_hot_targets_matches(data):
    X, y = data
    spec = spiral_spec()
    spec["regularizer"] = {"l2": 1e-3, "l1": 1e-4}
    pipeline = netspec.compile(spec)
    reference = unpacked(pipeline)
    weights = np.linspace(0.5, 2.0, len(X))
    onehot = np.eye(3)[y]
    for network in (pipeline, reference):
        network.fit(X, y, verbose=0, sample_weight=weights)
        network.fit(X, onehot, verbose=0, epochs=2)
    assert_same_parameters(pipeline, reference)


def test_a_graph_of_dense_layers_is_packed_and_matches(data):
    X, y = data
    spec = {"input": {"features": 2}, "seed": 0, "loss": "categorical_crossentropy",
            "train": {"optimizer": {"type": "sgd", "learning_rate": 0.3}, "batch_size": 16, "epochs": 3},
            "layers": [{"type": "dense", "neurons": 8, "activation": "tanh", "name": "left"},
                       {"type": "dense", "neurons": 8, "activation": "relu", "inputs": "input", "name": "right"},
                       {"type": "add", "inputs": ["left", "right"]},
                       {"type": "dense", "neurons": 3, "activation": "softmax"}]}
    pipeline = netspec.compile(spec)
    assert pipeline.graph is not None and pipeline.flat is not None
    reference = unpacked(pipeline)
    pipeline.fit(X, y, verbose=0)
    reference.fit(X, y, verbose=0)
    assert pipeline.flat.intact(pipeline.layers)
    assert_same_parameters(pipeline, reference)


def test_rebound_arrays_fall_back_to_the_per_array_path(data):
    X, y = data
    pipeline = netspec.compile(spiral_spec())
    reference = unpacked(pipeline)
    dense = pipeline.layers[0]
    dense.weights = dense.weights.copy()  # user code giving the layer a new array
    assert not pipeline.flat.intact(pipeline.layers)
    before = dense.weights.copy()
    for network in (pipeline, reference):
        network.fit(X, y, verbose=0)
    assert not np.array_equal(dense.weights, before)  # the new array is the one trained
    assert_same_parameters(pipeline, reference)


def test_a_bias_added_or_a_layer_replaced_falls_back():
    pipeline = netspec.compile(spiral_spec())
    pipeline.layers[2].bias = None
    assert not pipeline.flat.intact(pipeline.layers)
    pipeline = netspec.compile(spiral_spec())
    pipeline.layers[0] = Dense(pipeline.layers[0].weights.copy(), pipeline.layers[0].bias.copy(), name="dense_1")
    assert not pipeline.flat.intact(pipeline.layers)


def test_a_pickled_pipeline_trains_through_the_per_array_path(data):
    X, y = data
    pipeline = netspec.compile(spiral_spec())
    restored = pickle.loads(pickle.dumps(pipeline))
    assert not restored.flat.intact(restored.layers)
    pipeline.fit(X, y, verbose=0)
    restored.fit(X, y, verbose=0)
    assert_same_parameters(pipeline, restored)


def test_a_checkpoint_load_writes_into_the_views_and_resumes_exactly(tmp_path, data):
    X, y = data
    spec = spiral_spec(optimizer={"type": "sgd", "learning_rate": 0.5})
    straight = netspec.compile(spec)
    straight.fit(X, y, verbose=0, epochs=4)
    first = netspec.compile(spec)
    first.fit(X, y, verbose=0, epochs=2)
    first.save(tmp_path / "half.npz")
    resumed = netspec.load_pipeline(tmp_path / "half.npz")
    assert resumed.flat is not None and resumed.flat.intact(resumed.layers)
    resumed.fit(X, y, verbose=0, epochs=2)
    assert resumed.flat.intact(resumed.layers)
    assert_same_parameters(resumed, straight)


def test_early_stopping_restores_the_best_weights_into_the_views(data):
    X, y = data
    spec = spiral_spec(early_stopping={"monitor": "loss", "patience": 2, "restore_best": True})
    spec["train"]["optimizer"]["learning_rate"] = 5.0  # large steps: the loss goes up and down
    pipeline = netspec.compile(spec)
    reference = unpacked(pipeline)
    best = []
    history = pipeline.fit(X, y, verbose=0, epochs=60,
                           on_epoch=lambda epoch, logs: best.append((logs["loss"], epoch,
                                                                     [p.copy() for p in pipeline.parameters()])))
    reference.fit(X, y, verbose=0, epochs=60)
    assert pipeline.flat.intact(pipeline.layers)
    assert_same_parameters(pipeline, reference)
    assert history.stopped_early and history.restored_epoch is not None
    kept = next(values for loss, epoch, values in best if epoch == history.restored_epoch)
    for parameter, value in zip(pipeline.parameters(), kept):
        np.testing.assert_array_equal(parameter, value)
    # the restored values are in the buffer the next step updates
    before = pipeline.flat.parameters.copy()
    train_step(pipeline, pipeline.checked(X[:8]), pipeline.targets(y[:8], 8))
    assert not np.array_equal(pipeline.flat.parameters, before)
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in pipeline.parameters()]),
                                  np.concatenate([v.ravel() for v in pipeline.flat.parameter_views]))


@pytest.mark.parametrize("dtype, big, tiny", [("float64", 1e308, 3e-308), ("float32", 1e38, 3e-38)])
def test_a_non_finite_gradient_is_caught_with_epoch_batch_and_layer_and_the_last_finite_step_kept(dtype, big, tiny):
    # Batch 1 (zeros) moves nothing but the bias; batch 2's outputs are about 3, so its loss is finite,
    # but its weight gradient (big · 3 + big · 3) overflows: caught by the one dot over the gradient buffer.
    spec = {"input": {"features": 1}, "seed": 0, "dtype": dtype, "layers": [{"type": "dense", "neurons": 1}],
            "loss": "mse", "train": {"optimizer": {"type": "sgd", "learning_rate": 0.1}, "shuffle": False,
                                     "batch_size": 2}}
    X, y = np.array([[0.0], [0.0], [big], [big]]), np.zeros((4, 1))
    pipeline, reference = netspec.compile(spec), netspec.compile(spec)
    for network in (pipeline, reference):
        network.layers[0].weights[...] = tiny  # in place: still the buffer's view
    reference = unpacked(reference)
    train_step(reference, reference.checked(X[:2]), reference.targets(y[:2], 2))  # what batch 1 leaves
    assert pipeline.flat.intact(pipeline.layers)
    with pytest.raises(TrainingError, match=r"training diverged at epoch 1, batch 2: the loss is \d[\d.e+-]* and "
                                            r"non-finite values first appear in the gradients of layer dense_1; "
                                            r"the parameters from the last finite step are kept"):
        pipeline.fit(X, y, verbose=0, epochs=1)
    assert pipeline.flat.intact(pipeline.layers)
    assert not np.isfinite(pipeline.flat.gradients).all()
    assert_same_parameters(pipeline, reference)


def test_a_gradient_written_elsewhere_is_still_checked(data):
    """A gradient no longer a view of the buffer (here: a NaN array put in its place) is checked on its own."""
    X, y = data
    pipeline = netspec.compile(spiral_spec())
    inputs, targets = pipeline.checked(X[:4]), pipeline.targets(y[:4], 4)
    train_step(pipeline, inputs, targets)
    layer = pipeline.layers[2]
    original = layer.backward_parameters

    def poisoned(dvalues):
        original(dvalues)
        layer.dbiases = np.full_like(layer.dbiases, np.nan)

    layer.backward_parameters = layer.backward = lambda dvalues: (poisoned(dvalues), dvalues @ layer.weights.T)[1]
    before = [p.copy() for p in pipeline.parameters()]
    with pytest.raises(TrainingError, match="the gradients of layer dense_2"):
        train_step(pipeline, inputs, targets, 3, 7)
    for parameter, value in zip(pipeline.parameters(), before):
        np.testing.assert_array_equal(parameter, value)


def test_sgd_step_contiguous_is_step_on_the_separate_arrays_bit_for_bit():
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (1, 4), (4, 2), (1, 2)]
    parameters = [rng.normal(size=s) for s in shapes]
    separate = [p.copy() for p in parameters]
    one, many = SGD(0.3, decay=0.1), SGD(0.3, decay=0.1)
    for _ in range(3):
        gradients = [rng.normal(size=s) for s in shapes]
        buffer = np.concatenate([p.ravel() for p in parameters])
        one.step_contiguous(buffer, np.concatenate([g.ravel() for g in gradients]))
        parameters = [part.reshape(s) for part, s in zip(np.split(buffer, np.cumsum([np.prod(s) for s in shapes])[:-1]),
                                                         shapes)]
        many.step(separate, gradients)
    for a, b in zip(parameters, separate):
        np.testing.assert_array_equal(a, b)
    assert one.iterations == many.iterations == 3 and one.last_learning_rate == many.last_learning_rate
    with pytest.raises(ValueError, match="plain SGD"):
        SGD(0.1, momentum=0.9).step_contiguous(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        SGD(0.1).step_contiguous(np.zeros(3), np.zeros(4))
