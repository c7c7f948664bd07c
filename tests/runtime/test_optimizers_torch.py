"""Same parameters, same gradients, same updates as torch.optim (float64, 1e-10), step after step."""

import numpy as np
import pytest

from netspec.runtime.optimizers import OPTIMIZERS

torch = pytest.importorskip("torch")

TORCH_OPTIMIZERS = {
    "sgd": lambda params, learning_rate=0.01, momentum=0.0, nesterov=False: torch.optim.SGD(
        params, lr=learning_rate, momentum=momentum, nesterov=nesterov
    ),
    "adam": lambda params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7: torch.optim.Adam(
        params, lr=learning_rate, betas=(beta1, beta2), eps=epsilon
    ),
    "rmsprop": lambda params, learning_rate=0.001, rho=0.9, epsilon=1e-7: torch.optim.RMSprop(
        params, lr=learning_rate, alpha=rho, eps=epsilon
    ),
    "adamw": lambda params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7, weight_decay=0.01:
        torch.optim.AdamW(params, lr=learning_rate, betas=(beta1, beta2), eps=epsilon, weight_decay=weight_decay),
    "adagrad": lambda params, learning_rate=0.001, initial_accumulator_value=0.0, epsilon=1e-7: torch.optim.Adagrad(
        params, lr=learning_rate, initial_accumulator_value=initial_accumulator_value, eps=epsilon
    ),
}

CASES = [
    ("sgd", dict(learning_rate=0.1)),
    ("sgd", dict(learning_rate=0.1, decay=0.3)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9)),
    ("sgd", dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    ("sgd", dict(learning_rate=0.1, momentum=0.5, nesterov=True, decay=0.1)),
    ("adam", dict()),
    ("adam", dict(learning_rate=0.05, beta1=0.8, beta2=0.99, epsilon=1e-8)),
    ("adam", dict(learning_rate=0.05, decay=0.2)),
    ("rmsprop", dict()),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8, epsilon=1e-6)),
    ("rmsprop", dict(learning_rate=0.02, decay=0.5)),
    ("adamw", dict()),
    ("adamw", dict(learning_rate=0.05, beta1=0.8, beta2=0.99, epsilon=1e-8, weight_decay=0.3)),
    ("adamw", dict(learning_rate=0.05, weight_decay=0.1, decay=0.2)),
    ("adagrad", dict(learning_rate=0.1)),
    ("adagrad", dict(learning_rate=0.5, initial_accumulator_value=0.2, epsilon=1e-10)),
    ("adagrad", dict(learning_rate=0.3, decay=0.5)),
]

RNG = np.random.default_rng(7)
X, Y = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2))
START = [RNG.normal(size=(3, 2)), RNG.normal(size=(1, 2))]


def gradients(weights, bias):
    """Gradients of the mean squared error ½·mean‖X W + c − Y‖² w.r.t. W (3, 2) and c (1, 2)."""
    residual = (X @ weights + bias - Y) / len(X)
    return [X.T @ residual, residual.sum(axis=0, keepdims=True)]


CASE_IDS = [",".join([name, *(f"{key}={value}" for key, value in options.items())]) for name, options in CASES]


@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_twenty_steps_match_torch(name, options):
    ours = [array.copy() for array in START]
    optimizer = OPTIMIZERS[name](**options)

    theirs = [torch.tensor(array, requires_grad=True) for array in START]
    hyperparameters = {key: value for key, value in options.items() if key != "decay"}
    torch_optimizer = TORCH_OPTIMIZERS[name](theirs, **hyperparameters)
    decay = options.get("decay", 0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(torch_optimizer, lambda t: 1 / (1 + decay * t))

    for _ in range(20):
        assert optimizer.current_learning_rate == pytest.approx(scheduler.get_last_lr()[0], rel=1e-15)
        optimizer.step(ours, gradients(*ours))
        for tensor, gradient in zip(theirs, gradients(*(t.detach().numpy() for t in theirs))):
            tensor.grad = torch.from_numpy(gradient)
        torch_optimizer.step()
        scheduler.step()
        for actual, expected in zip(ours, theirs):
            np.testing.assert_allclose(actual, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
