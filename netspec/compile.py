"""Stage 4, compile: a checked :class:`~netspec.spec.Spec` and its
:class:`~netspec.infer.Shapes` become a :class:`~netspec.runtime.pipeline.Pipeline`.

This is the only stage that knows both worlds: it reads parameter models and
builds plain NumPy objects, through each component's registered builder.

Randomness: ``rng: "default"`` uses one ``numpy.random.default_rng(seed)``;
``rng: "legacy"`` one ``numpy.random.RandomState(seed)`` shared by the whole
spec, so tutorials written against ``np.random.seed(seed)`` are reproduced bit
for bit. Layers are initialised in spec order; biases are zeros and draw
nothing. Every component's initialiser draws its whole array in one call
(a conv kernel of shape (kh, kw, in_channels, filters) as a dense layer's
(in_features, neurons)). The same source then draws dropout's masks in
training, so the pipeline keeps it (``Pipeline.random``) for checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .components import Adam, GlorotUniform
from .infer import Shapes
from .registry import REGISTRY
from .spec import Component, Spec, Train

if TYPE_CHECKING:  # the runtime is imported when a pipeline is first built, not with this module
    import numpy as np

    from .runtime.pipeline import Pipeline
    from .runtime.training import TrainingConfig

DEFAULT_INIT = GlorotUniform()
DEFAULT_OPTIMIZER = Adam()


def make_rng(kind: str, seed: int | None) -> np.random.Generator | np.random.RandomState:
    """The spec's random source: a Generator, or the legacy RandomState."""
    import numpy as np

    return np.random.RandomState(seed) if kind == "legacy" else np.random.default_rng(seed)


@dataclass
class BuildContext:
    """What a component's builder may use: the step's name, the dtype, the
    shared random source, and the spec's default initialiser and regularizer."""

    name: str
    dtype: np.dtype
    rng: np.random.Generator | np.random.RandomState
    default_init: Component
    default_regularizer: Component | None = None

    def initialize(self, init: Component | None, shape: tuple[int, ...]) -> np.ndarray:
        """An array of ``shape`` from ``init`` (or the spec's default initialiser)."""
        init = init if init is not None else self.default_init
        make = REGISTRY.get("initializer", init.type).build(init)
        return make(shape, self.rng, self.dtype)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.zeros(shape, dtype=self.dtype)

    def ones(self, shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.ones(shape, dtype=self.dtype)

    def penalties(self, params: Component) -> dict[str, Any]:
        """``regularizer`` and ``bias_regularizer`` for a layer's runtime: the
        :class:`~netspec.runtime.penalties.Penalty` of the layer's own
        ``regularizer`` (or the spec's default) and ``bias_regularizer``,
        None where there is no penalty."""
        from .runtime.penalties import penalty

        own = params.__dict__.get("regularizer")
        weights = own if own is not None else self.default_regularizer
        bias = params.__dict__.get("bias_regularizer")
        return {"regularizer": penalty(weights.l1, weights.l2) if weights is not None else None,
                "bias_regularizer": penalty(bias.l1, bias.l2) if bias is not None else None}


def build_pipeline(spec: Spec, shapes: Shapes) -> Pipeline:
    """Build the runtime objects of every step of ``shapes`` and the loss."""
    import numpy as np

    from .runtime.flat import pack
    from .runtime.pipeline import Pipeline

    assert not shapes.errors, "compile needs a spec without errors"
    dtype = np.dtype(spec.dtype)
    rng = make_rng(spec.rng, spec.seed)
    default_init = spec.init if spec.init is not None else DEFAULT_INIT
    layers = []
    for step in shapes.layers:
        entry = REGISTRY.get("layer", step.type)
        received = step.in_shapes if step.params.merge else step.in_shape
        context = BuildContext(step.name, dtype, rng, default_init, spec.regularizer)
        layers.append(entry.build(step.params, received, context))
    loss = REGISTRY.get("loss", spec.loss.type).build(spec.loss) if spec.loss is not None else None
    train = spec.train if spec.train is not None else Train()
    optimizer_spec = train.optimizer if train.optimizer is not None else DEFAULT_OPTIMIZER
    optimizer = REGISTRY.get("optimizer", optimizer_spec.type).build(optimizer_spec)
    flat = pack(layers, dtype)  # before anyone holds the layers' arrays
    pipeline = Pipeline(layers, loss, input_shape=shapes.input_shape, output_shape=shapes.output_shape, dtype=dtype,
                        task=task_of(spec, shapes), spec=spec.to_dict(), summary=shapes.table(),
                        warnings=shapes.warnings, optimizer=optimizer, training=training_config(spec, train),
                        graph=wiring(shapes) if shapes.graph else None, random=rng)
    pipeline.flat = flat
    return pipeline


def wiring(shapes: Shapes) -> Any:
    """The :class:`~netspec.runtime.graph.Graph` of a graph's steps: inputs are values
    0 .. m-1, step i's output value m + i."""
    from .runtime.graph import Graph

    value = {name: index for index, name in enumerate(shapes.input_shapes)}
    value.update({step.name: len(shapes.input_shapes) + index for index, step in enumerate(shapes.layers)})
    sources = [tuple(value[name] for name in step.inputs) for step in shapes.layers]
    output = next(index for index, step in enumerate(shapes.layers) if step.name == shapes.output_step.name)
    return Graph(dict(shapes.input_shapes), sources, output)


def training_config(spec: Spec, train: Train) -> TrainingConfig:
    """The ``train`` section as plain runtime values; its seed defaults to the spec's."""
    from .runtime.clipping import Clipping
    from .runtime.training import EarlyStopping, TrainingConfig

    stopping = train.early_stopping
    clipped = train.clip_norm is not None or train.clip_global_norm is not None or train.clip_value is not None
    weights = train.class_weight
    if isinstance(weights, tuple):
        weights = dict(enumerate(weights))
    elif weights is not None:
        weights = {int(key): value for key, value in weights.items()}
    return TrainingConfig(
        epochs=train.epochs, batch_size=train.batch_size, shuffle=train.shuffle,
        seed=train.seed if train.seed is not None else spec.seed,
        validation_split=train.validation_split, metrics=tuple(train.metrics),
        early_stopping=EarlyStopping(**stopping.options()) if stopping is not None else None,
        top_k=train.top_k, schedule=schedule_of(train),
        clipping=Clipping(train.clip_norm, train.clip_global_norm, train.clip_value) if clipped else None,
        class_weight={key: float(value) for key, value in weights.items()} if weights is not None else None)


def schedule_of(train: Train) -> Any:
    """The runtime schedule (:mod:`netspec.runtime.schedules`) of ``train.schedule``, or None."""
    from .runtime import schedules

    given = train.schedule
    if given is None:
        return None
    if given.type == "step":
        return schedules.StepDecay(given.step_size, given.gamma)
    if given.type == "exponential":
        return schedules.ExponentialDecay(given.gamma)
    if given.type == "cosine":
        epochs = given.decay_epochs if given.decay_epochs is not None else max(1, train.epochs - given.warmup_epochs)
        return schedules.CosineDecay(epochs, given.warmup_epochs, given.min_learning_rate)
    return schedules.ReduceOnPlateau(given.monitor, given.factor, given.patience, given.min_delta, given.cooldown,
                                     given.min_learning_rate)


def task_of(spec: Spec, shapes: Shapes) -> str:
    """``categorical``, ``binary`` or ``regression``: the targets the loss takes, else from the output layer."""
    if spec.loss is not None:
        return REGISTRY.get("loss", spec.loss.type).targets
    last = shapes.output_step.type
    return {"softmax": "categorical", "sigmoid": "binary"}.get(last, "regression")
