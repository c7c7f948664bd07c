"""Lints: warnings about specs that are valid but probably not what was meant.

Each lint is a small function of the spec and its inferred shapes, registered
in :data:`LINTS` under its stable code. Lints never stop compile; ``--strict``
(or ``strict=True``) turns them into errors, and each can be silenced by its
code (``--ignore relu-output-regression``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from .errors import WARNING, Diagnostic

if TYPE_CHECKING:
    from .infer import Shapes
    from .spec import Spec

Lint = Callable[["Spec", "Shapes"], Iterator[Diagnostic]]
LINTS: dict[str, Lint] = {}


def lint_rule(code: str) -> Callable[[Lint], Lint]:
    """Register a lint function under ``code``."""

    def decorate(function: Lint) -> Lint:
        LINTS[code] = function
        return function

    return decorate


def lint(spec: "Spec", shapes: "Shapes") -> list[Diagnostic]:
    """Every lint's warnings for ``spec``."""
    return [d for function in LINTS.values() for d in function(spec, shapes)]


def _warn(path: tuple, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(path, code, message, hint, severity=WARNING)


def _output(shapes: "Shapes") -> tuple[str, int]:
    """The type and width of the network's last step."""
    last = shapes.layers[-1]
    return last.type, last.out_features


@lint_rule("crossentropy-without-softmax")
def _crossentropy_without_softmax(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    if loss is None or loss.type != "categorical_crossentropy" or loss.from_logits:
        return
    kind, width = _output(shapes)
    if kind not in ("softmax", "sigmoid"):
        yield _warn(("loss",), "crossentropy-without-softmax",
                    f"categorical cross-entropy expects probabilities, but the network ends with {kind}",
                    'add {"type": "softmax"} as the last layer, or set "from_logits": true')


@lint_rule("sigmoid-with-categorical-crossentropy")
def _sigmoid_with_categorical(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    kind, width = _output(shapes)
    if loss is not None and loss.type == "categorical_crossentropy" and kind == "sigmoid" and width > 1:
        yield _warn(("loss",), "sigmoid-with-categorical-crossentropy",
                    f"sigmoid outputs over {width} classes do not sum to 1, as categorical cross-entropy assumes",
                    "use softmax for one class per sample, or binary_crossentropy for several labels per sample")


@lint_rule("softmax-with-logits")
def _softmax_with_logits(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    if loss is None or not getattr(loss, "from_logits", False):
        return
    kind, _ = _output(shapes)
    if kind in ("softmax", "sigmoid"):
        yield _warn(("loss", "from_logits"), "softmax-with-logits",
                    f"from_logits is true but the network already ends with {kind}, so it is applied twice",
                    f'remove the final {kind} layer, or set "from_logits": false')


@lint_rule("binary-crossentropy-width")
def _binary_width(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    _, width = _output(shapes)
    if loss is not None and loss.type == "binary_crossentropy" and width > 1:
        yield _warn(("loss",), "binary-crossentropy-width",
                    f"binary cross-entropy on {width} outputs treats each as a separate yes/no label",
                    "for one class out of several use softmax with categorical_crossentropy")


@lint_rule("binary-crossentropy-without-sigmoid")
def _binary_without_sigmoid(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    if loss is None or loss.type != "binary_crossentropy" or loss.from_logits:
        return
    kind, _ = _output(shapes)
    if kind != "sigmoid":
        yield _warn(("loss",), "binary-crossentropy-without-sigmoid",
                    f"binary cross-entropy expects probabilities, but the network ends with {kind}",
                    'add {"type": "sigmoid"} as the last layer, or set "from_logits": true')


@lint_rule("relu-output-regression")
def _relu_output_regression(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    kind, _ = _output(shapes)
    if loss is not None and loss.type in ("mse", "mae") and kind == "relu":
        yield _warn((shapes.layers[-1].path), "relu-output-regression",
                    f"a ReLU output cannot predict negative values, and {loss.type} will not push it to",
                    "end a regression network with a dense layer (linear output)")
