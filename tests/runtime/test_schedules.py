"""Learning-rate schedules: closed forms, PyTorch's schedulers over twenty
epochs, their place in fit (the learning rate in History), and the plateau
state across fit calls."""

import math

import numpy as np
import pytest

import netspec as ns
from netspec.runtime.schedules import CosineDecay, ExponentialDecay, PlateauState, ReduceOnPlateau, StepDecay


def test_closed_forms():
    assert [StepDecay(3, 0.5).rate(1.0, e) for e in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert ExponentialDecay(0.5).rate(2.0, 3) == 0.25
    cosine = CosineDecay(epochs=4, warmup=2, minimum=0.1)
    assert [cosine.rate(1.0, e) for e in (0, 1, 2)] == [0.5, 1.0, 1.0]
    assert cosine.rate(1.0, 4) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)
    assert cosine.rate(1.0, 6) == cosine.rate(1.0, 60) == 0.1


def test_plateau_reduces_at_the_patience_th_epoch_without_improvement_then_rests():
    plateau = ReduceOnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=0.0, cooldown=1, minimum=0.2)
    state = plateau.start(1.0)
    rates = []
    for loss in [3, 2, 2, 2, 2, 2, 2, 2, 2, 1]:
        plateau.update(state, {"loss": loss})
        rates.append(state.rate)
    # 3, 2 improve; the 2nd and 3rd 2 make patience 2 run out: 0.5; the next is cooldown, then two more: 0.25
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert PlateauState.from_dict(state.as_dict()) == state


def test_plateau_on_a_metric_to_maximise():
    plateau = ReduceOnPlateau(monitor="val_accuracy", factor=0.1, patience=1, min_delta=0.01)
    state = plateau.start(1.0)
    for accuracy in (0.5, 0.6, 0.605):
        plateau.update(state, {"val_accuracy": accuracy})
    assert state.rate == pytest.approx(0.1) and state.best == -0.6


torch = pytest.importorskip("torch")


def torch_rates(make, epochs=20, values=None):
    """The learning rate of each epoch under a PyTorch scheduler made by ``make(optimizer)``."""
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=0.8)
    scheduler = make(optimizer)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(values[epoch]) if values is not None else scheduler.step()
    return rates


S = torch.optim.lr_scheduler if torch is not None else None
CASES = [
    ("step", StepDecay(4, 0.5), lambda o: S.StepLR(o, step_size=4, gamma=0.5)),
    ("exponential", ExponentialDecay(0.85), lambda o: S.ExponentialLR(o, gamma=0.85)),
    ("cosine", CosineDecay(epochs=20, minimum=0.01), lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.01)),
    ("cosine_warmup", CosineDecay(epochs=15, warmup=5, minimum=0.02),
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=1 / 5, total_iters=4),
                                  S.CosineAnnealingLR(o, T_max=15, eta_min=0.02)], milestones=[5])),
]


@pytest.mark.parametrize("name, ours, theirs", CASES, ids=[c[0] for c in CASES])
def test_every_epoch_schedule_matches_pytorch_over_twenty_epochs(name, ours, theirs):
    np.testing.assert_allclose([ours.rate(0.8, e) for e in range(20)], torch_rates(theirs), rtol=1e-10, atol=1e-14)


def test_reduce_on_plateau_matches_pytorchs_with_one_less_patience_over_twenty_epochs():
    values = [5, 4, 4.5, 4.2, 4.1, 3, 3.05, 3.1, 3, 2.99, 2.5, 2.6, 2.7, 2.8, 2.9, 2.4, 2.5, 2.45, 2.5, 2.6]
    plateau = ReduceOnPlateau(monitor="val_loss", factor=0.5, patience=2, min_delta=0.02, cooldown=1, minimum=0.06)
    state, ours = plateau.start(0.8), []
    for value in values:
        ours.append(state.rate)
        plateau.update(state, {"val_loss": value})
    expected = torch_rates(lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.02,
                                                         threshold_mode="abs", cooldown=1, min_lr=0.06), values=values)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    assert len(set(ours)) > 3  # it reduced several times, down to min_lr


SPIRAL = {"input": 2, "layers": [{"type": "dense", "neurons": 8, "activation": "relu"}, {"type": "dense", "neurons": 3},
                                 {"type": "softmax"}],
          "loss": "categorical_crossentropy", "seed": 1,
          "train": {"optimizer": {"type": "sgd", "learning_rate": 0.8}, "epochs": 20}}


@pytest.mark.parametrize("name, schedule, ours", [
    ("step", {"type": "step", "step_size": 4, "gamma": 0.5}, CASES[0][1]),
    ("exponential", {"type": "exponential", "gamma": 0.85}, CASES[1][1]),
    ("cosine", {"type": "cosine", "min_learning_rate": 0.01}, CASES[2][1]),
    ("cosine_warmup", {"type": "cosine", "warmup_epochs": 5, "min_learning_rate": 0.02}, CASES[3][1]),
], ids=["step", "exponential", "cosine", "cosine_warmup"])
def test_fit_steps_with_the_epochs_rate_and_history_records_it(name, schedule, ours):
    spec = {**SPIRAL, "train": {**SPIRAL["train"], "schedule": schedule}}
    X, y = ns.data.spiral(points_per_class=20, seed=0)
    history = ns.compile(spec).fit(X, y, verbose=0)
    np.testing.assert_allclose(history["learning_rate"], [ours.rate(0.8, e) for e in range(20)], rtol=1e-15)


def test_a_schedule_and_the_per_step_decay_multiply():
    spec = {**SPIRAL, "train": {"optimizer": {"type": "sgd", "learning_rate": 0.8, "decay": 0.1}, "epochs": 6,
                                "batch_size": 30, "schedule": {"type": "step", "step_size": 3, "gamma": 0.5}}}
    X, y = ns.data.spiral(points_per_class=20, seed=0)  # 60 rows: 2 steps per epoch
    history = ns.compile(spec).fit(X, y, verbose=0)
    expected = [0.8 * 0.5 ** (e // 3) / (1 + 0.1 * (2 * e + 1)) for e in range(6)]  # each epoch's last step
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-15)


def test_without_a_schedule_or_decay_the_rate_is_not_recorded():
    X, y = ns.data.spiral(points_per_class=10, seed=0)
    assert "learning_rate" not in ns.compile({**SPIRAL, "train": {"epochs": 2}}).fit(X, y, verbose=0).values


def test_the_plateau_state_carries_over_between_fit_calls():
    spec = {**SPIRAL, "train": {**SPIRAL["train"], "epochs": 12, "metrics": ["accuracy"],
                                "schedule": {"type": "reduce_on_plateau", "monitor": "accuracy", "patience": 2,
                                             "factor": 0.5, "min_delta": 0.5}}}
    X, y = ns.data.spiral(points_per_class=20, seed=0)
    whole = ns.compile(spec).fit(X, y, verbose=0)
    parts = ns.compile(spec)
    first, second = parts.fit(X, y, verbose=0, epochs=5), parts.fit(X, y, verbose=0, epochs=7)
    assert first["learning_rate"] + second["learning_rate"] == whole["learning_rate"]
    assert whole["learning_rate"][-1] < 0.8 / 4


def test_a_plateau_watching_validation_needs_validation_rows():
    spec = {**SPIRAL, "train": {**SPIRAL["train"], "validation_split": 0.2,
                                "schedule": {"type": "reduce_on_plateau"}}}
    X, y = ns.data.spiral(points_per_class=10, seed=0)
    with pytest.raises(ns.TrainingError, match="reduce_on_plateau monitors val_loss, but there are no validation"):
        ns.compile(spec).fit(X, y, verbose=0, validation_split=0.0)
