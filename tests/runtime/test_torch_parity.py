"""Same inputs and weights, same outputs, losses and gradients as PyTorch (float64, 1e-10)."""

import numpy as np
import pytest

from netspec.runtime.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh, softmax
from netspec.runtime.layers import Dense
from netspec.runtime.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    sigmoid_binary_crossentropy_backward,
    softmax_crossentropy_backward,
)

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
