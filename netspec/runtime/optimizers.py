"""Optimizers, in plain NumPy.

An optimizer updates parameter arrays in place from their gradients:
``step(parameters, gradients)`` takes two lists of arrays of matching shapes
(``Dense.parameters()`` and ``Dense.gradients()``, concatenated over the
network) and changes every parameter array itself, so the layers see the new
values. Call it once per batch with *all* the network's parameters, always in
the same order: per-array state (momentum buffers, Adam's moments, RMSprop's
cache) is created on the first step in each parameter's dtype and is keyed by
position in the list.

The tutorial's vocabulary, generalised to lists of arrays:

- ``pre_update_params()`` is :attr:`Optimizer.current_learning_rate`,
  ``learning_rate / (1 + decay * iterations)``, read at the start of each step
  (the first step uses the undecayed rate);
- ``update_params(layer)`` is ``step(layer.parameters(), layer.gradients())``,
  extended to every layer at once;
- ``post_update_params()`` is the ``iterations += 1`` that ends each step.

The update rules are PyTorch's (``torch.optim.SGD``, ``Adam``, ``RMSprop``
and ``Adagrad`` without weight decay, ``AdamW`` with its decoupled weight
decay, with ``LambdaLR(lambda t: 1 / (1 + decay * t))`` for the decay), and
agree with them to rounding in float64. SGD's ``momentum_buffer="steps"`` is
instead Keras's and the from-scratch book's momentum, which differs from
PyTorch's when the learning rate changes (see :class:`SGD`).

``state_dict()`` returns plain arrays and ints only (``"iterations"`` and one
``"<slot>.<index>"`` array per slot and parameter, e.g. ``"m.0"``, ``"v.0"``),
so a checkpoint can hold it in an ``.npz`` read with ``allow_pickle=False``;
``load_state_dict`` restores it so the next steps are bit for bit those of an
uninterrupted run.

``OPTIMIZERS`` maps each optimizer's spec name to its class.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

State = dict[str, "np.ndarray | int | float"]
SMALL = 16384  # arrays of up to this many values take a temporary in Optimizer._descend (128 KiB in float64)


def _finite(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _require(name: str, value: object, valid: bool, expected: str) -> None:
    if not valid:
        raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. Received: {name}={value!r}")


def _require_fraction(name: str, value: object) -> None:
    _require(name, value, _finite(value) and 0 <= value < 1, "a number in [0, 1)")


def _require_positive(name: str, value: object) -> None:
    _require(name, value, _finite(value) and value > 0, "a finite number > 0")


def _check_gradients(parameters: list[np.ndarray], gradients: list[np.ndarray]) -> None:
    if len(parameters) != len(gradients):
        raise ValueError(
            f"step received {len(parameters)} parameters but {len(gradients)} gradients; "
            "pass one gradient per parameter, in the same order"
        )
    for parameter, gradient in zip(parameters, gradients):
        if parameter.shape != gradient.shape:
            break
    else:
        return
    for index, (parameter, gradient) in enumerate(zip(parameters, gradients)):
        if parameter.shape != gradient.shape:
            raise ValueError(
                f"gradient {index} has shape {gradient.shape} but parameter {index} has shape {parameter.shape}"
            )


def _read_iterations(state: State) -> int:
    if "iterations" not in state:
        raise ValueError("optimizer state has no 'iterations' entry; pass a dict made by state_dict()")
    iterations = np.asarray(state["iterations"])
    if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
        raise ValueError(
            f"optimizer state 'iterations' must be an integer >= 0; received {state['iterations']!r}"
        )
    return int(iterations)


class Optimizer:
    """Base of the optimizers: learning-rate decay, the step loop, per-array
    slots and their state.

    A subclass names its ``hyperparameters`` (shown by ``repr``) and its
    ``slot_names`` (one state array per parameter for each), and implements
    ``update(parameter, gradient, learning_rate, *slots)``, which changes the
    parameter and its slots in place.
    """

    hyperparameters: tuple[str, ...] = ("learning_rate", "decay")
    slot_names: tuple[str, ...] = ()
    initial_slot_value: float = 0.0  # what every slot array starts as

    def __init__(self, learning_rate: float, decay: float):
        _require_positive("learning_rate", learning_rate)
        _require("decay", decay, _finite(decay) and decay >= 0, "a finite number >= 0")
        self.learning_rate = self.initial_learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.iterations = 0
        self.last_learning_rate = self.learning_rate  # the rate of the latest step
        self.slots: dict[str, list[np.ndarray]] = {}
        self._buffers: dict[tuple[np.dtype, int], np.ndarray] = {}

    @property
    def current_learning_rate(self) -> float:
        """``learning_rate / (1 + decay * iterations)``: the rate of the next step.

        A learning-rate schedule sets ``learning_rate`` each epoch from
        ``initial_learning_rate``, the rate the optimiser was made with."""
        return self.learning_rate / (1 + self.decay * self.iterations)

    def step(self, parameters: list[np.ndarray], gradients: list[np.ndarray]) -> None:
        """Update every array of ``parameters`` in place from ``gradients``
        (same length, same shapes, same order on every step)."""
        _check_gradients(parameters, gradients)
        learning_rate = self.last_learning_rate = self.current_learning_rate
        update = self.update
        if self.slot_names:
            if not self.slots:
                self.slots = {name: [np.full_like(p, self.initial_slot_value) for p in parameters]
                              for name in self.slot_names}
            self._check_slots(self.slots, parameters)
            for parameter, gradient, *slots in zip(parameters, gradients, *(self.slots[n] for n in self.slot_names)):
                update(parameter, gradient, learning_rate, *slots)
        else:  # plain SGD: no per-array state
            for parameter, gradient in zip(parameters, gradients):
                update(parameter, gradient, learning_rate)
        self.iterations += 1

    def update(self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, *slots: np.ndarray) -> None:
        """Change ``parameter`` and its ``slots`` (in ``slot_names`` order) in place."""
        raise NotImplementedError

    def _descend(self, parameter: np.ndarray, direction: np.ndarray, learning_rate: float) -> None:
        """``parameter -= learning_rate * direction``, in place. An array of up
        to ``SMALL`` values takes a fresh temporary, which costs less than
        finding the scratch array (a few µs a step on a small net); a larger
        one goes through the scratch array. The same values either way."""
        if parameter.size <= SMALL:
            parameter -= learning_rate * direction
        else:
            parameter -= np.multiply(learning_rate, direction, out=self._scratch(parameter))

    def _scratch(self, like: np.ndarray, number: int = 0) -> np.ndarray:
        """A work array shaped like ``like`` for an update's intermediate values.

        One flat buffer per ``number`` and dtype, as large as the largest
        parameter, is reused for every parameter and step, so that a step
        allocates no large array: a fresh weight-sized temporary per update was a
        large share of a big network's step. The next call with the same
        ``number`` overwrites it."""
        key = (like.dtype, number)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = self._buffers[key] = np.empty(like.size, like.dtype)
        return buffer[: like.size].reshape(like.shape)

    def state_dict(self) -> State:
        """A copy of everything needed to resume: ``"iterations"`` and one
        ``"<slot>.<index>"`` array per slot name and parameter."""
        state: State = {"iterations": self.iterations}
        for name, arrays in self.slots.items():
            state.update({f"{name}.{index}": array.copy() for index, array in enumerate(arrays)})
        return state

    def load_state_dict(self, state: State, parameters: list[np.ndarray] | None = None) -> None:
        """Restore a copy of ``state`` (from :meth:`state_dict`, possibly via an
        ``.npz``). The slots are checked against ``parameters`` (count, shapes,
        dtypes) now when given, else on the next step; ValueError if they differ."""
        iterations = _read_iterations(state)
        slots = self._read_slots(state)
        if self.slot_names and iterations > 0 and not slots:
            raise ValueError(
                f"{type(self).__name__} state has iterations={iterations} but no "
                f"{', '.join(name + '.0' for name in self.slot_names)} arrays; it cannot be resumed exactly"
            )
        if parameters is not None:
            self._check_slots(slots, parameters)
        self.iterations = iterations
        self.slots = slots

    def _read_slots(self, state: State) -> dict[str, list[np.ndarray]]:
        keys = set(state) - {"iterations"}
        count = sum(key.startswith(f"{self.slot_names[0]}.") for key in keys) if self.slot_names else 0
        expected = {f"{name}.{index}" for name in self.slot_names for index in range(count)}
        if keys != expected:
            raise ValueError(
                f"{type(self).__name__} state does not match: missing keys {sorted(expected - keys)}, "
                f"unexpected keys {sorted(keys - expected)}; expected 'iterations' and "
                f"{', '.join(name + '.<index>' for name in self.slot_names) or 'nothing else'}"
            )
        if not count:
            return {}
        return {name: [np.array(state[f"{name}.{index}"]) for index in range(count)] for name in self.slot_names}

    def _check_slots(self, slots: dict[str, list[np.ndarray]], parameters: list[np.ndarray]) -> None:
        for name, arrays in slots.items():
            if len(arrays) != len(parameters):
                raise ValueError(
                    f"{type(self).__name__} state holds {len(arrays)} '{name}' arrays but there are "
                    f"{len(parameters)} parameters; the state belongs to a different network"
                )
            for index, (array, parameter) in enumerate(zip(arrays, parameters)):
                if array.shape != parameter.shape or array.dtype != parameter.dtype:
                    raise ValueError(
                        f"{type(self).__name__} state '{name}.{index}' has shape {array.shape} and dtype "
                        f"{array.dtype}, but parameter {index} has shape {parameter.shape} and dtype "
                        f"{parameter.dtype}; the state belongs to a different network"
                    )

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({values})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum μ.

    Without momentum: ``p -= lr * g``. With momentum, ``momentum_buffer``
    says what the buffer accumulates, which matters once the learning rate
    changes (decay, a schedule); at a constant rate both give the same steps.

    - ``"gradients"`` (the default; PyTorch's form): the buffer starts at 0,
      ``buf = μ * buf + g``, then ``p -= lr * buf``, or with ``nesterov=True``
      ``p -= lr * (g + μ * buf)``. The current rate scales the whole buffer,
      so a lower rate also shrinks the momentum of earlier steps.
    - ``"steps"`` (Keras's and the from-scratch book's form): the buffer is
      the last step, ``v = μ * v - lr * g``, then ``p += v``, or with
      ``nesterov=True`` ``p += μ * v - lr * g``. Each gradient enters the
      buffer scaled by the rate of its own step.
    """

    hyperparameters = ("learning_rate", "momentum", "nesterov", "decay")
    MOMENTUM_BUFFERS = ("gradients", "steps")

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, decay: float = 0.0,
                 momentum_buffer: str = "gradients"):
        super().__init__(learning_rate, decay)
        _require_fraction("momentum", momentum)
        _require("nesterov", nesterov, isinstance(nesterov, bool), "True or False")
        _require("nesterov", nesterov, not (nesterov and momentum == 0), "False when momentum=0")
        _require("momentum_buffer", momentum_buffer, momentum_buffer in self.MOMENTUM_BUFFERS,
                 '"gradients" or "steps"')
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self.momentum_buffer = momentum_buffer
        self.slot_names = ("momentum",) if momentum else ()

    def update(
        self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, buffer: np.ndarray | None = None
    ) -> None:
        if buffer is None:
            self._descend(parameter, gradient, learning_rate)
        elif self.momentum_buffer == "steps":
            self._update_steps(parameter, gradient, learning_rate, buffer, self._scratch(parameter))
        else:
            buffer *= self.momentum
            buffer += gradient
            if self.nesterov:  # direction = g + μ * buf
                step = self._scratch(parameter)
                np.add(gradient, np.multiply(self.momentum, buffer, out=step), out=step)
                parameter -= np.multiply(learning_rate, step, out=step)
            else:
                self._descend(parameter, buffer, learning_rate)

    def step_contiguous(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        """:meth:`step` for every parameter held in the one array ``parameters``
        (and every gradient in ``gradients``, at the same positions), in one
        update: without momentum the rule is elementwise, so the values are
        those of :meth:`step` on the separate arrays, bit for bit. The
        training step uses it on a small net's buffer (:mod:`netspec.runtime.flat`)."""
        if self.slot_names:
            raise ValueError("step_contiguous is plain SGD's (momentum=0): momentum buffers are kept per parameter")
        if parameters.shape != gradients.shape:
            raise ValueError(f"gradients have shape {gradients.shape} but parameters have shape {parameters.shape}")
        learning_rate = self.last_learning_rate = self.current_learning_rate
        self._descend(parameters, gradients, learning_rate)
        self.iterations += 1

    def __repr__(self) -> str:
        shown = super().__repr__()
        return shown if self.momentum_buffer == "gradients" else f"{shown[:-1]}, momentum_buffer='steps')"

    def _update_steps(self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, velocity: np.ndarray,
                      step: np.ndarray) -> None:
        """``v = μ * v - lr * g; p += v`` (Nesterov: ``p += μ * v - lr * g``)."""
        scaled = np.multiply(learning_rate, gradient, out=step)
        velocity *= self.momentum
        velocity -= scaled
        if self.nesterov:
            extra = self._scratch(parameter, 1)
            np.multiply(self.momentum, velocity, out=extra)
            extra -= scaled
            parameter += extra
        else:
            parameter += velocity


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (no weight decay, no amsgrad).

    At step ``t = iterations + 1``, with ``m`` and ``v`` starting at 0:
    ``m = β1 * m + (1 - β1) * g``, ``v = β2 * v + (1 - β2) * g²``,
    ``m̂ = m / (1 - β1^t)``, ``v̂ = v / (1 - β2^t)``,
    ``p -= lr * m̂ / (sqrt(v̂) + ε)``.

    The first step moves each parameter by ``lr * g / (|g| + ε)``, about
    ``lr * sign(g)``.
    """

    hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "decay")
    slot_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-7,
        decay: float = 0.0,
    ):
        super().__init__(learning_rate, decay)
        _require_fraction("beta1", beta1)
        _require_fraction("beta2", beta2)
        _require_positive("epsilon", epsilon)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)

    def update(
        self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, m: np.ndarray, v: np.ndarray
    ) -> None:
        t = self.iterations + 1
        step, denominator = self._scratch(parameter, 0), self._scratch(parameter, 1)
        m *= self.beta1
        m += np.multiply(1 - self.beta1, gradient, out=step)
        v *= self.beta2
        v += np.multiply(1 - self.beta2, np.square(gradient, out=step), out=step)
        m_hat = np.divide(m, 1 - self.beta1**t, out=step)
        v_hat = np.divide(v, 1 - self.beta2**t, out=denominator)
        denominator = np.add(np.sqrt(v_hat, out=denominator), self.epsilon, out=denominator)
        parameter -= np.divide(np.multiply(learning_rate, m_hat, out=step), denominator, out=step)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay λ.

    Each step first shrinks every parameter, ``p *= 1 - lr * λ``, with the
    step's learning rate, then takes the :class:`Adam` step (whose gradient
    holds no decay term). The default λ is PyTorch's, 0.01.
    """

    hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "decay")

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: float = 0.01, decay: float = 0.0):
        super().__init__(learning_rate, beta1, beta2, epsilon, decay)
        _require("weight_decay", weight_decay, _finite(weight_decay) and weight_decay >= 0, "a finite number >= 0")
        self.weight_decay = float(weight_decay)

    def update(
        self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, m: np.ndarray, v: np.ndarray
    ) -> None:
        if self.weight_decay:
            parameter *= 1 - learning_rate * self.weight_decay
        super().update(parameter, gradient, learning_rate, m, v)


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: steps scaled by the root of the
    sum of every squared gradient so far.

    With ``sum`` starting at ``initial_accumulator_value``:
    ``sum += g²``, ``p -= lr * g / (sqrt(sum) + ε)``. (PyTorch's own
    ``lr_decay`` is this class's ``decay``, the same formula.)
    """

    hyperparameters = ("learning_rate", "initial_accumulator_value", "epsilon", "decay")
    slot_names = ("sum",)

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.0,
                 epsilon: float = 1e-7, decay: float = 0.0):
        super().__init__(learning_rate, decay)
        _require("initial_accumulator_value", initial_accumulator_value,
                 _finite(initial_accumulator_value) and initial_accumulator_value >= 0, "a finite number >= 0")
        _require_positive("epsilon", epsilon)
        self.initial_accumulator_value = self.initial_slot_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def update(self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, total: np.ndarray) -> None:
        step, denominator = self._scratch(parameter, 0), self._scratch(parameter, 1)
        total += np.square(gradient, out=step)
        denominator = np.add(np.sqrt(total, out=denominator), self.epsilon, out=denominator)
        parameter -= np.divide(np.multiply(learning_rate, gradient, out=step), denominator, out=step)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` with ``alpha = ρ`` (no momentum,
    not centered).

    With ``cache`` starting at 0: ``cache = ρ * cache + (1 - ρ) * g²``,
    ``p -= lr * g / (sqrt(cache) + ε)``.
    """

    hyperparameters = ("learning_rate", "rho", "epsilon", "decay")
    slot_names = ("cache",)

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7, decay: float = 0.0):
        super().__init__(learning_rate, decay)
        _require_fraction("rho", rho)
        _require_positive("epsilon", epsilon)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def update(self, parameter: np.ndarray, gradient: np.ndarray, learning_rate: float, cache: np.ndarray) -> None:
        step, denominator = self._scratch(parameter, 0), self._scratch(parameter, 1)
        cache *= self.rho
        cache += np.multiply(1 - self.rho, np.square(gradient, out=step), out=step)
        denominator = np.add(np.sqrt(cache, out=denominator), self.epsilon, out=denominator)
        parameter -= np.divide(np.multiply(learning_rate, gradient, out=step), denominator, out=step)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad,
                                          "adamw": AdamW}
