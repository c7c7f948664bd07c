"""Gradient clipping: the closed forms, PyTorch's clip_grad_norm_ and
clip_grad_value_, and one clipped training step against PyTorch's."""

import numpy as np
import pytest

import netspec as ns
from netspec.runtime.clipping import Clipping

RNG = np.random.default_rng(31)


def gradients():
    return [RNG.normal(scale=3.0, size=(4, 3)), RNG.normal(size=(1, 3)), RNG.normal(scale=0.01, size=(3, 2))]


def test_per_array_norm_rescales_only_the_arrays_above_it():
    found = gradients()
    expected = [g * (1.0 / (np.linalg.norm(g) + 1e-6)) if np.linalg.norm(g) > 1.0 else g.copy() for g in found]
    Clipping(norm=1.0)(found)
    for g, e in zip(found, expected):
        np.testing.assert_allclose(g, e, rtol=1e-14)
    assert np.linalg.norm(found[0]) == pytest.approx(1.0, rel=1e-5) and np.linalg.norm(found[2]) < 0.1


def test_global_norm_rescales_all_together_and_value_clamps():
    found = gradients()
    total = np.sqrt(sum(np.sum(g**2) for g in found))
    expected = [g * (2.0 / (total + 1e-6)) for g in found]
    Clipping(global_norm=2.0)(found)
    for g, e in zip(found, expected):
        np.testing.assert_allclose(g, e, rtol=1e-14)
    small = [np.array([0.5, -0.25])]
    Clipping(global_norm=10.0)(small)
    np.testing.assert_array_equal(small[0], [0.5, -0.25])
    clamped = [np.array([[-3.0, 0.2], [4.0, -0.1]])]
    Clipping(value=0.5)(clamped)
    np.testing.assert_array_equal(clamped[0], [[-0.5, 0.2], [0.5, -0.1]])


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["norm", "global_norm", "value"])
def test_clipping_matches_pytorch(kind):
    ours = gradients()
    theirs = [torch.tensor(g, requires_grad=True) for g in ours]
    for tensor, gradient in zip(theirs, ours):
        tensor.grad = torch.tensor(gradient.copy())
    Clipping(**{kind: 0.7})(ours)
    if kind == "norm":
        for tensor in theirs:
            torch.nn.utils.clip_grad_norm_([tensor], 0.7)
    elif kind == "global_norm":
        torch.nn.utils.clip_grad_norm_(theirs, 0.7)
    else:
        torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for g, tensor in zip(ours, theirs):
        np.testing.assert_allclose(g, tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("option", [{"clip_global_norm": 0.5}, {"clip_value": 0.05}, {"clip_norm": 0.3}])
def test_twenty_clipped_training_steps_match_pytorch(option):
    spec = {"input": 3, "seed": 2, "layers": [{"type": "dense", "neurons": 5, "activation": "tanh"},
                                             {"type": "dense", "neurons": 2}],
            "loss": "mse", "train": {"optimizer": {"type": "sgd", "learning_rate": 0.3}, "batch_size": 16, **option,
                                     "epochs": 20, "shuffle": False}}
    pipeline = ns.compile(spec)
    X, Y = RNG.normal(size=(16, 3)), RNG.normal(scale=5.0, size=(16, 2))
    leaves = [torch.tensor(p.copy(), requires_grad=True) for p in pipeline.parameters()]
    optimizer = torch.optim.SGD(leaves, lr=0.3)
    pipeline.fit(X, Y, verbose=0)
    for _ in range(20):
        optimizer.zero_grad()
        w1, b1, w2, b2 = leaves
        hidden = torch.tanh(torch.tensor(X) @ w1 + b1)
        torch.nn.functional.mse_loss(hidden @ w2 + b2, torch.tensor(Y)).backward()
        if "clip_global_norm" in option:
            torch.nn.utils.clip_grad_norm_(leaves, 0.5)
        elif "clip_value" in option:
            torch.nn.utils.clip_grad_value_(leaves, 0.05)
        else:
            for leaf in leaves:
                torch.nn.utils.clip_grad_norm_([leaf], 0.3)
        optimizer.step()
    for ours, theirs in zip(pipeline.parameters(), leaves):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_only_one_kind_of_clipping():
    report = ns.validate({"input": 2, "layers": [{"type": "dense", "neurons": 1}],
                          "train": {"clip_norm": 1.0, "clip_value": 0.5}})
    [error] = report.errors
    assert (error.where, error.code) == ("train", "invalid-value")
    assert "at most one of clip_norm, clip_global_norm and clip_value" in error.message
