"""Learning-rate schedules, epoch by epoch, in plain Python.

A schedule gives the optimiser's learning rate for each epoch from the
rate the spec sets (``base``); the optimiser's own per-step ``decay``, when
set, still divides it by ``1 + decay · t`` within and across epochs. Epochs
are counted from 0, as PyTorch's schedulers count their steps:

- :class:`StepDecay`: ``base · gamma^floor(epoch / step_size)`` (``StepLR``);
- :class:`ExponentialDecay`: ``base · gamma^epoch`` (``ExponentialLR``);
- :class:`CosineDecay`: after ``warmup`` epochs at ``base · (epoch + 1) / warmup``
  (``LinearLR(start_factor=1/warmup)``), ``minimum + (base − minimum) · (1 +
  cos(π · t / epochs)) / 2`` for ``t = epoch − warmup`` up to ``epochs``
  (``CosineAnnealingLR``), and ``minimum`` after that;
- :class:`ReduceOnPlateau`: ``rate · factor`` (not below ``minimum``) once
  the monitored quantity has not improved by more than ``min_delta`` for
  ``patience`` epochs, then ``cooldown`` epochs in which nothing is counted.
  As ``ReduceLROnPlateau(threshold_mode="abs")`` with PyTorch's patience one
  less: netspec counts patience as early stopping does (the rate drops at
  the ``patience``-th epoch without improvement). Its state, a
  :class:`PlateauState`, lives on the pipeline and in checkpoints.

The first three are functions of the epoch alone, so a resumed run follows
them with no state of its own.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

MINIMISED = ("loss", "mae")
PLATEAU_EPSILON = 1e-8  # a reduction smaller than this is not made, as in PyTorch


@dataclass(frozen=True)
class StepDecay:
    """``base · gamma^floor(epoch / step_size)``."""

    step_size: int
    gamma: float = 0.1

    def rate(self, base: float, epoch: int, state: "PlateauState | None" = None) -> float:
        return base * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay:
    """``base · gamma^epoch``."""

    gamma: float

    def rate(self, base: float, epoch: int, state: "PlateauState | None" = None) -> float:
        return base * self.gamma**epoch


@dataclass(frozen=True)
class CosineDecay:
    """Linear warmup over ``warmup`` epochs, then half a cosine from ``base``
    to ``minimum`` over ``epochs`` epochs, then ``minimum``."""

    epochs: int
    warmup: int = 0
    minimum: float = 0.0

    def rate(self, base: float, epoch: int, state: "PlateauState | None" = None) -> float:
        if epoch < self.warmup:
            return base * (epoch + 1) / self.warmup
        t = epoch - self.warmup
        if t >= self.epochs:
            return self.minimum
        return self.minimum + (base - self.minimum) * (1 + math.cos(math.pi * t / self.epochs)) / 2


@dataclass
class PlateauState:
    """Where a :class:`ReduceOnPlateau` is: the current rate, the best value
    seen, the epochs since it was seen, and the cooldown epochs left."""

    rate: float
    best: float
    bad_epochs: int = 0
    cooldown: int = 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PlateauState":
        names = {f.name for f in fields(cls)}
        if set(values) != names:
            raise ValueError(f"a plateau state holds {sorted(names)}, got {sorted(values)}")
        return cls(rate=float(values["rate"]), best=float(values["best"]), bad_epochs=int(values["bad_epochs"]),
                   cooldown=int(values["cooldown"]))


@dataclass(frozen=True)
class ReduceOnPlateau:
    """``rate · factor`` after ``patience`` epochs without improvement of ``monitor`` (see the module docstring)."""

    monitor: str = "val_loss"
    factor: float = 0.1
    patience: int = 10
    min_delta: float = 1e-4
    cooldown: int = 0
    minimum: float = 0.0

    @property
    def sign(self) -> float:
        """1 when lower is better (the loss, mae), −1 otherwise."""
        return 1.0 if self.monitor.removeprefix("val_") in MINIMISED else -1.0

    def start(self, base: float) -> PlateauState:
        return PlateauState(rate=base, best=math.inf)

    def rate(self, base: float, epoch: int, state: PlateauState | None = None) -> float:
        return state.rate if state is not None else base

    def update(self, state: PlateauState, logs: dict[str, float]) -> None:
        """After an epoch: count it as an improvement or not, and reduce the rate when patience runs out."""
        score = self.sign * logs[self.monitor]
        if score < state.best - self.min_delta:
            state.best, state.bad_epochs = score, 0
        else:
            state.bad_epochs += 1
        if state.cooldown > 0:
            state.cooldown -= 1
            state.bad_epochs = 0
        if state.bad_epochs >= self.patience:
            reduced = max(state.rate * self.factor, self.minimum)
            if state.rate - reduced > PLATEAU_EPSILON:
                state.rate = reduced
            state.cooldown, state.bad_epochs = self.cooldown, 0


Schedule = StepDecay | ExponentialDecay | CosineDecay | ReduceOnPlateau
