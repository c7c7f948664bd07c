"""Same inputs and weights, same outputs, losses and gradients as PyTorch (float64, 1e-10)."""

import numpy as np
import pytest

import netspec
from netspec.geometry import padding_amounts
from netspec.runtime.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh, softmax
from netspec.runtime.dropout import Dropout
from netspec.runtime.layers import Dense
from netspec.runtime.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    sigmoid_binary_crossentropy_backward,
    softmax_crossentropy_backward,
)
from netspec.runtime.normalization import BatchNorm, LayerNorm

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(2024)


def close(actual, expected):
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)


def tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_dense(bias):
    rng = np.random.default_rng(0)
    inputs, weights, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=(1, 3))
    dvalues = rng.normal(size=(5, 3))
    layer = Dense(weights.copy(), b.copy() if bias else None)
    output = layer.forward(inputs)
    layer.backward(dvalues)

    x, w, tb = tensor(inputs), tensor(weights.T), tensor(b[0])
    expected = F.linear(x, w, tb if bias else None)
    expected.backward(torch.tensor(dvalues))
    close(output, expected)
    close(layer.dinputs, x.grad)
    close(layer.dweights, w.grad.T)
    if bias:
        close(layer.dbiases, tb.grad[None, :])


# Inputs include exact zeros, so the derivative chosen at each kink is compared too.
ACTIVATION_PAIRS = [
    (ReLU(), F.relu),
    (LeakyReLU(alpha=0.1), lambda x: F.leaky_relu(x, negative_slope=0.1)),
    (ELU(alpha=1.5), lambda x: F.elu(x, alpha=1.5)),
    (Sigmoid(), torch.sigmoid),
    (Tanh(), torch.tanh),
    (Softmax(), lambda x: torch.softmax(x, dim=1)),
    (Linear(), torch.nn.Identity()),
]


@pytest.mark.parametrize("activation, torch_activation", ACTIVATION_PAIRS, ids=[a.name for a, _ in ACTIVATION_PAIRS])
def test_activation(activation, torch_activation):
    rng = np.random.default_rng(1)
    inputs = rng.normal(scale=3.0, size=(6, 5))
    inputs[0, :2] = 0.0
    inputs[1, 0] = 40.0
    inputs[1, 1] = -40.0
    dvalues = rng.normal(size=(6, 5))
    output = activation.forward(inputs)
    dinputs = activation.backward(dvalues)

    x = tensor(inputs)
    expected = torch_activation(x)
    expected.backward(torch.tensor(dvalues))
    close(output, expected)
    close(dinputs, x.grad)


def probabilities(n, k):
    """Rows summing to 1, every entry well inside the clipping range."""
    return softmax(RNG.normal(size=(n, k)))


def torch_cce_of_probabilities(p, y):
    log_probs = torch.log(torch.clamp(p, 1e-7, 1 - 1e-7))
    return F.nll_loss(log_probs, y) if y.ndim == 1 else -(y * log_probs).sum(dim=1).mean()


LABELS = RNG.integers(0, 4, size=6)
SOFT_TARGETS = softmax(RNG.normal(size=(6, 4)))
BINARY_TARGETS = RNG.integers(0, 2, size=(6, 3)).astype(float)

LOSS_CASES = [
    ("mse", MeanSquaredError(), RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3)), F.mse_loss),
    ("mae", MeanAbsoluteError(), RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3)), F.l1_loss),
    ("cce_labels", CategoricalCrossentropy(), probabilities(6, 4), LABELS, torch_cce_of_probabilities),
    ("cce_one_hot", CategoricalCrossentropy(), probabilities(6, 4), np.eye(4)[LABELS], torch_cce_of_probabilities),
    ("cce_soft", CategoricalCrossentropy(), probabilities(6, 4), SOFT_TARGETS, torch_cce_of_probabilities),
    ("cce_logits_labels", CategoricalCrossentropy(from_logits=True), RNG.normal(size=(6, 4)), LABELS, F.cross_entropy),
    ("cce_logits_soft", CategoricalCrossentropy(from_logits=True), RNG.normal(size=(6, 4)), SOFT_TARGETS,
     F.cross_entropy),
    ("bce", BinaryCrossentropy(), RNG.uniform(0.01, 0.99, size=(6, 3)), BINARY_TARGETS, F.binary_cross_entropy),
    ("bce_soft", BinaryCrossentropy(), RNG.uniform(0.01, 0.99, size=(6, 3)), RNG.uniform(size=(6, 3)),
     F.binary_cross_entropy),
    ("bce_logits", BinaryCrossentropy(from_logits=True), RNG.normal(scale=5.0, size=(6, 3)), BINARY_TARGETS,
     F.binary_cross_entropy_with_logits),
]


def torch_targets(y_true):
    return torch.tensor(y_true) if y_true.dtype.kind == "i" else torch.tensor(y_true, dtype=torch.float64)


@pytest.mark.parametrize("case", LOSS_CASES, ids=lambda case: case[0])
def test_loss(case):
    _, loss, y_pred, y_true, torch_loss = case
    value = loss.calculate(y_pred, y_true)
    dinputs = loss.backward(y_pred, y_true)

    p = tensor(y_pred)
    expected = torch_loss(p, torch_targets(y_true))
    expected.backward()
    close(value, expected)
    close(dinputs, p.grad)


def test_mae_gradient_is_zero_where_prediction_equals_target():
    y_pred, y_true = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [3.0, 5.0]])
    dinputs = MeanAbsoluteError().backward(y_pred, y_true)
    p = tensor(y_pred)
    F.l1_loss(p, torch.tensor(y_true)).backward()
    close(dinputs, p.grad)


@pytest.mark.parametrize("targets", [LABELS, np.eye(4)[LABELS]], ids=["labels", "one_hot"])
def test_fused_softmax_crossentropy_is_the_gradient_wrt_logits(targets):
    logits = np.random.default_rng(2).normal(size=(6, 4))
    z = tensor(logits)
    F.cross_entropy(z, torch_targets(targets)).backward()
    close(softmax_crossentropy_backward(softmax(logits), targets), z.grad)


def test_fused_sigmoid_binary_crossentropy_is_the_gradient_wrt_logits():
    logits = np.random.default_rng(3).normal(size=(6, 3))
    z = tensor(logits)
    F.binary_cross_entropy_with_logits(z, torch.tensor(BINARY_TARGETS)).backward()
    close(sigmoid_binary_crossentropy_backward(Sigmoid().forward(logits), BINARY_TARGETS), z.grad)


# ---------------------------------------------------------------- whole compiled pipelines: CNNs


# Layouts, explicit: inputs NHWC -> NCHW by permute(0, 3, 1, 2) (NLC -> NCL by
# permute(0, 2, 1)); kernels (kh, kw, cin, f) -> (f, cin, kh, kw) by
# transpose(3, 2, 0, 1) ((k, cin, f) -> (f, cin, k) by transpose(2, 1, 0));
# dense weights (in, out) -> (out, in) by .T. netspec flattens each sample in
# (H, W, C) order, PyTorch in (C, H, W) order: row h·W·C + w·C + c of
# netspec's first dense layer is column c·H·W + h·W + w of PyTorch's.

CNN_SPEC = {
    "input": {"shape": [9, 8, 2]}, "seed": 11, "dtype": "float64",
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "max_pool2d"},
        {"type": "conv2d", "filters": 3, "kernel_size": [2, 3], "padding": "valid", "activation": "tanh"},
        {"type": "avg_pool2d", "pool_size": 2, "strides": 1},
        {"type": "conv2d", "filters": 3, "kernel_size": 2, "padding": "same", "bias": False},
        {"type": "flatten"},
        {"type": "dense", "neurons": 6, "activation": "relu"},
        {"type": "dense", "neurons": 4},
        {"type": "softmax"},
    ],
    "loss": "categorical_crossentropy",
}

CONV1D_SPEC = {
    "input": {"shape": [13, 2]}, "seed": 12, "dtype": "float64",
    "layers": [
        {"type": "conv1d", "filters": 4, "kernel_size": 4, "padding": "same", "activation": "relu"},
        {"type": "max_pool1d", "pool_size": 3, "strides": 2, "padding": "same"},
        {"type": "conv1d", "filters": 3, "kernel_size": 3, "dilation": 2, "activation": "elu"},
        {"type": "avg_pool1d", "pool_size": 2, "strides": 1},
        {"type": "flatten"},
        {"type": "dense", "neurons": 3},
        {"type": "softmax"},
    ],
    "loss": "categorical_crossentropy",
}


def flatten_permutation(shape):
    """``order[j]``: netspec's flattened index of PyTorch's flattened feature ``j``,
    for a channels-last sample ``shape`` (*spatial, C)."""
    rank = len(shape)
    return np.arange(int(np.prod(shape))).reshape(shape).transpose(rank - 1, *range(rank - 1)).ravel()


def torch_forward(pipeline, shapes, x):
    """The compiled network rebuilt in PyTorch from its own parameters (as
    leaf tensors, returned in pipeline.parameters() order, in netspec's
    layouts, so their .grad compare directly), on channels-first ``x``."""
    leaves = []

    def leaf(array):
        leaves.append(tensor(array))
        return leaves[-1]

    hidden, flattened = x, None
    for step, layer in zip(shapes.layers, pipeline.layers):
        kind, options = step.type, step.params
        spatial = step.in_shape[:-1]
        if kind in ("conv2d", "conv1d"):
            kernel, strides, dilation, padding = options.window()
            weights = leaf(layer.weights)
            bias = leaf(layer.bias) if layer.bias is not None else None
            pads = [padding_amounts(n, k, s, padding, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
            flat_pads = tuple(p for pair in reversed(pads) for p in pair)  # F.pad: last axis first
            if kind == "conv2d":
                hidden = F.conv2d(F.pad(hidden, flat_pads), weights.permute(3, 2, 0, 1),
                                  bias, stride=strides, dilation=dilation)
            else:
                hidden = F.conv1d(F.pad(hidden, flat_pads), weights.permute(2, 1, 0),
                                  bias, stride=strides, dilation=dilation)
        elif kind.startswith(("max_pool", "avg_pool")):
            kernel, strides, _, padding = options.window()
            pads = tuple(p for pair in reversed([padding_amounts(n, k, s, padding)
                                                 for n, k, s in zip(spatial, kernel, strides)]) for p in pair)
            pool = getattr(F, f"{kind}")
            if kind.startswith("max"):
                hidden = pool(F.pad(hidden, pads, value=-np.inf), kernel, strides)
            else:  # the mean over each window's real values
                ones = torch.ones_like(hidden)
                hidden = pool(F.pad(hidden, pads), kernel, strides) / pool(F.pad(ones, pads), kernel, strides)
        elif kind == "flatten":
            hidden = hidden.reshape(len(hidden), -1)  # C, H, W order
            flattened = step.in_shape
        elif kind == "dense":
            weights = leaf(layer.weights)
            bias = leaf(layer.bias) if layer.bias is not None else None
            w = weights.T
            if flattened is not None:  # the first dense layer after the flatten: its columns in C, H, W order
                w = w[:, flatten_permutation(flattened)]
                flattened = None
            hidden = F.linear(hidden, w, bias[0] if bias is not None else None)
        elif kind == "relu":
            hidden = F.relu(hidden)
        elif kind == "tanh":
            hidden = torch.tanh(hidden)
        elif kind == "elu":
            hidden = F.elu(hidden)
        elif kind == "softmax":
            hidden = torch.softmax(hidden, dim=1)
        else:
            raise AssertionError(f"no PyTorch counterpart written for {kind}")
        if kind != "flatten" and hidden.ndim > 2:
            assert tuple(hidden.shape[1:]) == (step.out_shape[-1], *step.out_shape[:-1]), step.name
    return hidden, leaves


@pytest.mark.parametrize("spec, channels_first", [(CNN_SPEC, (0, 3, 1, 2)), (CONV1D_SPEC, (0, 2, 1))],
                         ids=["conv2d", "conv1d"])
def test_a_compiled_cnn_pipeline_matches_pytorch(spec, channels_first):
    pipeline = netspec.compile(spec)
    shapes = netspec.infer(spec)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, *spec["input"]["shape"]))
    labels = rng.integers(0, pipeline.output_features, size=6)
    targets = pipeline.targets(labels, 6)

    output = pipeline.forward(X, training=True)
    loss = pipeline.loss_function.calculate(output, targets)
    pipeline.backward(targets)
    gradients = pipeline.gradients()

    x = torch.tensor(X, dtype=torch.float64).permute(*channels_first)
    probabilities, leaves = torch_forward(pipeline, shapes, x)
    expected_loss = torch_cce_of_probabilities(probabilities, torch.tensor(labels))
    expected_loss.backward()

    close(output, probabilities)
    close(loss, expected_loss)
    close(pipeline.loss(X, labels), expected_loss)
    assert len(leaves) == len(pipeline.parameters()) == len(gradients)
    for parameter, leaf_tensor, gradient in zip(pipeline.parameters(), leaves, gradients):
        assert gradient.shape == parameter.shape
        close(gradient, leaf_tensor.grad)


def test_flatten_permutation_maps_channels_last_to_channels_first():
    sample = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (H, W, C)
    assert np.array_equal(sample.ravel()[flatten_permutation((2, 3, 4))], sample.transpose(2, 0, 1).ravel())


# ---------------------------------------------------------------- normalization, dropout, penalties


@pytest.mark.parametrize("shape, module", [((12, 5), torch.nn.BatchNorm1d), ((4, 3, 6, 5), torch.nn.BatchNorm2d)],
                         ids=["vectors", "images"])
def test_batch_norm_matches_pytorch_over_several_steps_and_in_inference(shape, module):
    # Keras's momentum 0.9 is PyTorch's 0.1; both move the moving variance by the unbiased batch variance.
    rng = np.random.default_rng(21)
    channels = shape[-1]
    gamma, beta = rng.normal(size=channels), rng.normal(size=channels)
    ours = BatchNorm(gamma.copy(), beta.copy(), np.zeros(channels), np.ones(channels), momentum=0.9, epsilon=1e-3)
    theirs = module(channels, eps=1e-3, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    order = (0, len(shape) - 1, *range(1, len(shape) - 1))  # channels last -> channels first
    back = np.argsort(order)
    for training in (True,) * 6 + (False,):
        theirs.train(training)
        inputs, dvalues = rng.normal(loc=1.5, scale=2.0, size=shape), rng.normal(size=shape)
        output = ours.forward(inputs, training=training)
        dinputs = ours.backward(dvalues)
        x = tensor(inputs.transpose(order))
        theirs.weight.grad = theirs.bias.grad = None
        expected = theirs(x)
        expected.backward(torch.tensor(dvalues.transpose(order)))
        close(output, expected.detach().numpy().transpose(back))
        close(dinputs, x.grad.numpy().transpose(back))
        close(ours.dgamma, theirs.weight.grad)
        close(ours.dbeta, theirs.bias.grad)
        close(ours.moving_mean, theirs.running_mean)
        close(ours.moving_variance, theirs.running_var)


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)], ids=["vectors", "sequences"])
def test_layer_norm_matches_pytorch(shape):
    rng = np.random.default_rng(22)
    gamma, beta = rng.normal(size=shape[-1]), rng.normal(size=shape[-1])
    inputs, dvalues = rng.normal(loc=-1.0, scale=3.0, size=shape), rng.normal(size=shape)
    layer = LayerNorm(gamma.copy(), beta.copy(), epsilon=1e-3)
    output = layer.forward(inputs, training=True)
    layer.backward(dvalues)
    x, g, b = tensor(inputs), tensor(gamma), tensor(beta)
    expected = F.layer_norm(x, (shape[-1],), g, b, eps=1e-3)
    expected.backward(torch.tensor(dvalues))
    close(output, expected)
    close(layer.dinputs, x.grad)
    close(layer.dgamma, g.grad)
    close(layer.dbeta, b.grad)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_with_pytorchs_mask_matches_pytorch(rate):
    rng = np.random.default_rng(23)
    inputs, dvalues = rng.uniform(0.5, 1.5, size=(7, 3, 4)), rng.normal(size=(7, 3, 4))
    torch.manual_seed(0)
    x = tensor(inputs)
    expected = F.dropout(x, p=rate, training=True)
    expected.backward(torch.tensor(dvalues))
    layer = Dropout(rate)
    layer.binary_mask = lambda shape, dtype: (expected != 0).numpy()  # PyTorch's draw, our arithmetic
    close(layer.forward(inputs, training=True), expected)
    close(layer.backward(dvalues), x.grad)


PENALISED = {
    "input": {"features": 4}, "seed": 3,
    "layers": [{"type": "dense", "neurons": 5, "activation": "tanh",
                "regularizer": {"l1": 0.01, "l2": 0.02}, "bias_regularizer": {"l2": 0.05}},
               {"type": "dense", "neurons": 3, "regularizer": {"l2": 0.03}, "bias_regularizer": {"l1": 0.04}},
               {"type": "softmax"}],
    "loss": "categorical_crossentropy",
}


def test_the_regularized_loss_and_its_gradient_match_pytorch():
    pipeline = netspec.compile(PENALISED)
    rng = np.random.default_rng(24)
    X, labels = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    targets = pipeline.targets(labels, 8)
    output = pipeline.forward(X, training=True)
    loss = pipeline.loss_function.calculate(output, targets) + pipeline.regularization_loss()
    pipeline.backward(targets)

    first, second = pipeline.layers[0], pipeline.layers[2]
    w1, b1, w2, b2 = (tensor(a) for a in (first.weights, first.bias, second.weights, second.bias))
    probabilities = torch.softmax(F.linear(torch.tanh(F.linear(torch.tensor(X), w1.T, b1[0])), w2.T, b2[0]), dim=1)
    penalty = (0.01 * w1.abs().sum() + 0.02 * (w1**2).sum() + 0.05 * (b1**2).sum()
               + 0.03 * (w2**2).sum() + 0.04 * b2.abs().sum())
    expected = torch_cce_of_probabilities(probabilities, torch.tensor(labels)) + penalty
    expected.backward()
    close(loss, expected)
    for gradient, leaf_tensor in zip(pipeline.gradients(), (w1, b1, w2, b2)):
        close(gradient, leaf_tensor.grad)


def test_an_l2_penalty_is_pytorchs_sgd_weight_decay_of_twice_l2_for_twenty_steps():
    from netspec.runtime.training import train_step

    spec = {"input": {"features": 4}, "seed": 5, "regularizer": {"l2": 0.05},
            "layers": [{"type": "dense", "neurons": 6, "activation": "relu", "bias_regularizer": {"l2": 0.05}},
                       {"type": "dense", "neurons": 2, "bias_regularizer": {"l2": 0.05}}],
            "loss": "mse", "train": {"optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.5}}}
    pipeline = netspec.compile(spec)
    rng = np.random.default_rng(25)
    X, Y = rng.normal(size=(10, 4)), rng.normal(size=(10, 2))
    leaves = [tensor(p.copy()) for p in pipeline.parameters()]
    optimizer = torch.optim.SGD(leaves, lr=0.1, momentum=0.5, weight_decay=2 * 0.05)
    for _ in range(20):
        train_step(pipeline, X, pipeline.targets(Y, 10))
        optimizer.zero_grad()
        w1, b1, w2, b2 = leaves
        F.mse_loss(F.linear(F.relu(F.linear(torch.tensor(X), w1.T, b1[0])), w2.T, b2[0]), torch.tensor(Y)).backward()
        optimizer.step()
    for ours, theirs in zip(pipeline.parameters(), leaves):
        close(ours, theirs)
