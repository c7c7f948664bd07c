"""The built-in components, each registered once: parameter model, shape rule, runtime.

This module and :mod:`netspec.compile` are the only ones that know both worlds:
the parameter models (Pydantic) and the runtime objects (plain NumPy, in
:mod:`netspec.runtime`). Built-ins go through the same ``register_*``
decorators users and plugins use (:mod:`netspec.extend`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, PositiveInt, model_validator

from .extend import register_activation, register_initializer, register_layer, register_loss, register_optimizer
from .registry import ShapeProblem
from .runtime import activations as act
from .runtime import initializers as inits
from .runtime import layers as rl
from .runtime import losses as rloss
from .runtime import optimizers as ropt
from .spec import Activation, Initializer, Layer, Loss, Optimizer, shorthand

# Bound of initialiser and activation options: beyond it weights or activations
# overflow (uniform on ±1e308 cannot even be drawn); the init-scale lint warns far below.
MAX_OPTION = 1e6

# ---------------------------------------------------------------- initialisers

@register_initializer("uniform", function=inits.uniform)
class Uniform(Initializer):
    """Uniform on [low, high). Legacy rng: one ``rand`` call, ``low + (high - low) * rand``."""

    positional: ClassVar[tuple[str, ...]] = ("low", "high")
    type: Literal["uniform"] = "uniform"
    low: float = Field(default=-0.05, ge=-MAX_OPTION, le=MAX_OPTION)
    high: float = Field(default=0.05, ge=-MAX_OPTION, le=MAX_OPTION)

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low={self.low} and high={self.high}")
        return self


@register_initializer("normal", function=inits.normal)
class Normal(Initializer):
    """Normal with ``mean`` and ``std``. Legacy rng: one ``randn`` call, ``mean + std * randn``."""

    positional: ClassVar[tuple[str, ...]] = ("mean", "std")
    type: Literal["normal"] = "normal"
    mean: float = Field(default=0.0, ge=-MAX_OPTION, le=MAX_OPTION)
    std: float = Field(default=0.01, gt=0, le=MAX_OPTION)


@register_initializer("glorot_uniform", function=inits.glorot_uniform)
class GlorotUniform(Initializer):
    """Uniform on ±sqrt(6 / (fan_in + fan_out)) (the default initialiser)."""

    type: Literal["glorot_uniform"] = "glorot_uniform"


@register_initializer("he_normal", function=inits.he_normal)
class HeNormal(Initializer):
    """Normal with std sqrt(2 / fan_in), suited to ReLU networks."""

    type: Literal["he_normal"] = "he_normal"


@register_initializer("zeros", function=inits.zeros)
class Zeros(Initializer):
    """All zeros (draws nothing)."""

    type: Literal["zeros"] = "zeros"


# ---------------------------------------------------------------- layers

def _dense_shape(params: "Dense", in_features: int) -> tuple[int, int]:
    return params.neurons, in_features * params.neurons + (params.neurons if params.bias else 0)


def _dense_build(params: "Dense", in_features: int, context: Any) -> rl.Dense:
    weights = context.initialize(params.init, (in_features, params.neurons))
    bias = context.zeros((1, params.neurons)) if params.bias else None
    return rl.Dense(weights, bias, name=context.name)


@register_layer("dense", build=_dense_build, shape=_dense_shape, example={"neurons": 3})
class Dense(Layer):
    """Fully connected: ``output = inputs @ weights + bias``; (n, in_features) → (n, neurons).

    ``weights`` has shape (in_features, neurons) and ``bias`` (1, neurons),
    zeros. ``in_features`` is inferred from the previous width when absent and
    checked when present. ``activation`` is shorthand for an activation layer
    right after this one. ``init`` overrides the spec's default initialiser.
    """

    positional: ClassVar[tuple[str, ...]] = ("neurons",)
    type: Literal["dense"] = "dense"
    neurons: PositiveInt
    in_features: Optional[PositiveInt] = None
    activation: Optional[shorthand("activation")] = None
    bias: bool = True
    init: Optional[shorthand("initializer")] = None


# ---------------------------------------------------------------- activations

def _softmax_shape(params: "Softmax", in_features: int) -> tuple[int, int]:
    if in_features < 2:
        raise ShapeProblem(
            f"softmax over {in_features} unit always outputs 1.0",
            hint="give the previous layer 2 or more neurons, or use sigmoid for a single unit",
        )
    return in_features, 0


@register_activation("relu", runtime=act.ReLU)
class ReLU(Activation):
    """max(0, x)."""

    type: Literal["relu"] = "relu"


@register_activation("leaky_relu", runtime=act.LeakyReLU)
class LeakyReLU(Activation):
    """x for x > 0, alpha·x otherwise."""

    positional: ClassVar[tuple[str, ...]] = ("alpha",)
    type: Literal["leaky_relu"] = "leaky_relu"
    alpha: float = Field(default=0.01, ge=0, le=MAX_OPTION)


@register_activation("elu", runtime=act.ELU)
class ELU(Activation):
    """x for x > 0, alpha·(exp(x) − 1) otherwise."""

    positional: ClassVar[tuple[str, ...]] = ("alpha",)
    type: Literal["elu"] = "elu"
    alpha: float = Field(default=1.0, ge=0, le=MAX_OPTION)


@register_activation("sigmoid", runtime=act.Sigmoid)
class Sigmoid(Activation):
    """1 / (1 + exp(−x))."""

    type: Literal["sigmoid"] = "sigmoid"


@register_activation("tanh", runtime=act.Tanh)
class Tanh(Activation):
    """tanh(x)."""

    type: Literal["tanh"] = "tanh"


@register_activation("softmax", runtime=act.Softmax, shape=_softmax_shape)
class Softmax(Activation):
    """exp(x − max) / sum(exp(x − max)) along each row."""

    type: Literal["softmax"] = "softmax"


@register_activation("linear", runtime=act.Linear)
class Linear(Activation):
    """The identity, x."""

    type: Literal["linear"] = "linear"


# ---------------------------------------------------------------- losses

@register_loss("mse", runtime=rloss.MeanSquaredError, targets="regression")
class MeanSquaredError(Loss):
    """Mean over samples of the mean over outputs of (y − ŷ)²."""

    type: Literal["mse"] = "mse"


@register_loss("mae", runtime=rloss.MeanAbsoluteError, targets="regression")
class MeanAbsoluteError(Loss):
    """Mean over samples of the mean over outputs of |y − ŷ|."""

    type: Literal["mae"] = "mae"


@register_loss("categorical_crossentropy", runtime=rloss.CategoricalCrossentropy, targets="categorical")
class CategoricalCrossentropy(Loss):
    """−log of the probability given to the true class; predictions clipped to
    [1e-7, 1 − 1e-7]. Targets: class indices (n,) or one-hot rows (n, k).
    ``from_logits``: the network outputs raw scores; softmax is applied inside."""

    type: Literal["categorical_crossentropy"] = "categorical_crossentropy"
    from_logits: bool = False


@register_loss("binary_crossentropy", runtime=rloss.BinaryCrossentropy, targets="binary")
class BinaryCrossentropy(Loss):
    """−(y·log ŷ + (1 − y)·log(1 − ŷ)), predictions clipped to [1e-7, 1 − 1e-7].
    ``from_logits``: the network outputs raw scores; sigmoid is applied inside."""

    type: Literal["binary_crossentropy"] = "binary_crossentropy"
    from_logits: bool = False


# ---------------------------------------------------------------- optimisers

LearningRate = Field(default=0.001, gt=0, allow_inf_nan=False)
Decay = Field(default=0.0, ge=0, allow_inf_nan=False)
Epsilon = Field(default=1e-7, gt=0, allow_inf_nan=False)


@register_optimizer("sgd", runtime=ropt.SGD)
class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum and 1/(1 + decay·t) decay."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["sgd"] = "sgd"
    learning_rate: float = Field(default=0.01, gt=0, allow_inf_nan=False)
    momentum: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    nesterov: bool = False
    decay: float = Decay

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "SGD":
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum above 0; set momentum (e.g. 0.9) or nesterov to false")
        return self


@register_optimizer("adam", runtime=ropt.Adam)
class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["adam"] = "adam"
    learning_rate: float = LearningRate
    beta1: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    beta2: float = Field(default=0.999, ge=0, lt=1, allow_inf_nan=False)
    epsilon: float = Epsilon
    decay: float = Decay


@register_optimizer("rmsprop", runtime=ropt.RMSprop)
class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running average of squared gradients."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["rmsprop"] = "rmsprop"
    learning_rate: float = LearningRate
    rho: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    epsilon: float = Epsilon
    decay: float = Decay
