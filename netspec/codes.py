"""Every diagnostic code netspec emits, in one table.

A code names one kind of problem and is promised stable across releases: tools
and CI scripts match on it, ``--ignore CODE`` silences it, and
``docs/errors.md`` explains each with an example. A code is emitted at one
stage of the flow (``read``, ``check``, ``infer``, ``lint``; ``data`` is kept
for problems found in data files; ``import`` and ``export`` for models moving
between netspec and other tools, :mod:`netspec.interop`) with a default
severity: lints are warnings (``--strict`` makes them errors), everything else
is an error.

Tests keep this table in step with the package: every code used in a
``Diagnostic`` is listed here, and the lint codes are exactly those of
:data:`netspec.lints.LINTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ERROR, WARNING

Severity = Literal["error", "warning"]
Stage = Literal["read", "check", "infer", "lint", "data", "import", "export"]


@dataclass(frozen=True)
class Code:
    """One stable diagnostic code: its default severity, the stage that emits
    it, and a one-line summary of what it means."""

    code: str
    severity: Severity
    stage: Stage
    summary: str


_TABLE = [
    # read: bytes, text or a dict become a plain tree
    Code("unsupported-source", ERROR, "read", "the source is not a path, text, bytes or a dict"),
    Code("file-not-found", ERROR, "read", "the spec file does not exist"),
    Code("unreadable-file", ERROR, "read", "the spec file cannot be read (a directory, no permission)"),
    Code("file-too-large", ERROR, "read", "the spec is larger than Limits.max_file_bytes"),
    Code("not-utf8", ERROR, "read", "the spec is not valid UTF-8 text"),
    Code("empty-document", ERROR, "read", "the spec holds nothing"),
    Code("json-syntax", ERROR, "read", "the text is not valid JSON"),
    Code("yaml-syntax", ERROR, "read", "the text is not valid YAML"),
    Code("yaml-tag", ERROR, "read", "a YAML tag other than the plain JSON-like ones"),
    Code("yaml-merge-key", ERROR, "read", "a YAML merge key (<<)"),
    Code("multiple-documents", ERROR, "read", "the YAML holds more than one document"),
    Code("duplicate-key", ERROR, "read", "the same key twice in one object"),
    Code("non-string-key", ERROR, "read", "a key that is not a string"),
    Code("non-finite-number", ERROR, "read", "NaN or Infinity"),
    Code("not-json-value", ERROR, "read", "a dict source holds a value that is not JSON-like"),
    Code("string-too-long", ERROR, "read", "a string or key longer than Limits.max_string_length"),
    Code("too-deep", ERROR, "read", "objects and lists nested deeper than Limits.max_depth"),
    Code("too-large", ERROR, "read", "more than a million values, YAML aliases expanded"),
    # check: the tree becomes a typed Spec
    Code("not-an-object", ERROR, "check", "the spec is not an object"),
    Code("too-many-layers", ERROR, "check", "more layers than Limits.max_layers"),
    Code("unknown-key", ERROR, "check", "a key the object does not accept"),
    Code("missing-key", ERROR, "check", "a required key is absent"),
    Code("unknown-type", ERROR, "check", "a component type that is not registered"),
    Code("missing-type", ERROR, "check", 'a component without "type"'),
    Code("wrong-type", ERROR, "check", "a value of the wrong JSON type (nothing is coerced)"),
    Code("out-of-range", ERROR, "check", "a number outside its allowed range"),
    Code("invalid-value", ERROR, "check", "a value that is not one of the allowed ones, or breaks a rule of its object"),
    Code("empty-list", ERROR, "check", "a list that must not be empty is"),
    Code("too-long", ERROR, "check", "a string longer than its field allows"),
    Code("duplicate-name", ERROR, "check", "two layers with the same name"),
    Code("unknown-dataset", ERROR, "check", "a data section naming no built-in dataset"),
    Code("monitor-needs-validation", ERROR, "check", "early stopping watches a val_ quantity without validation data"),
    Code("monitor-not-measured", ERROR, "check", "early stopping watches a metric that is not measured"),
    Code("several-outputs", ERROR, "check", "output names several layers (one output for now)"),
    Code("bad-path", ERROR, "check", "a path (Spec.replace, a sweep grid's key) that cannot be read or leads nowhere"),
    Code("needs-parameters", ERROR, "check", "check_gradients cannot build a component without parameters"),
    Code("not-differentiable", ERROR, "check", "check_gradients was given a component with no backward pass"),
    # infer: widths and parameter counts
    Code("shape-mismatch", ERROR, "infer", "a declared in_features differs from the width that arrives"),
    Code("bad-width", ERROR, "infer", "a layer cannot take the width that arrives"),
    Code("bad-shape", ERROR, "infer", "a layer cannot take the shape that arrives (a plugin's shape rule refused it)"),
    Code("needs-flatten", ERROR, "infer", "a layer that takes vectors (dense) after an image or a sequence"),
    Code("empty-output", ERROR, "infer", "a convolution or pooling window larger than what arrives: nothing is left"),
    Code("wrong-rank", ERROR, "infer", "a layer given a shape of the wrong rank (conv2d on a sequence, conv1d on an image)"),
    Code("reshape-size", ERROR, "infer", "a reshape whose sizes do not hold the values that arrive"),
    Code("loss-needs-vector", ERROR, "infer", "a loss on a network whose output is not a vector per sample"),
    Code("ambiguous-input", ERROR, "infer", "the first layer of a network with several inputs does not say which it reads"),
    Code("unknown-input", ERROR, "infer", "inputs names neither a layer nor an input"),
    Code("forward-reference", ERROR, "infer", "inputs names a layer that comes later"),
    Code("input-cycle", ERROR, "infer", "layers that read each other in a circle"),
    Code("merge-inputs", ERROR, "infer", "a merge layer with fewer than two inputs"),
    Code("too-many-inputs", ERROR, "infer", "a layer other than a merge with more than one input"),
    Code("merge-mismatch", ERROR, "infer", "a merge whose inputs' shapes do not agree"),
    Code("unknown-output", ERROR, "infer", "output names no layer"),
    Code("too-many-parameters", ERROR, "infer", "more parameters than Limits.max_parameters"),
    Code("too-much-memory", ERROR, "infer", "training would need more memory than Limits.max_memory_bytes"),
    # lint: valid, but probably not what was meant
    Code("crossentropy-without-softmax", WARNING, "lint", "categorical cross-entropy on outputs that are not probabilities"),
    Code("sigmoid-with-categorical-crossentropy", WARNING, "lint", "categorical cross-entropy on several sigmoid outputs"),
    Code("softmax-with-logits", WARNING, "lint", "from_logits on a network that already ends with softmax or sigmoid"),
    Code("binary-crossentropy-width", WARNING, "lint", "binary cross-entropy on more than one output"),
    Code("binary-crossentropy-without-sigmoid", WARNING, "lint", "binary cross-entropy on outputs that are not probabilities"),
    Code("relu-output-regression", WARNING, "lint", "a regression network ending with ReLU"),
    Code("activation-after-activation", WARNING, "lint", "two activations in a row"),
    Code("activation-after-softmax", WARNING, "lint", "an activation right after softmax"),
    Code("dense-collapse", WARNING, "lint", "a dense layer without activation feeding another dense layer"),
    Code("init-scale", WARNING, "lint", "an initialiser's scale far outside [1e-4, 1]"),
    Code("learning-rate", WARNING, "lint", "a learning rate far outside the optimiser's usual range"),
    Code("too-large-for-data", WARNING, "lint", "far more parameters or dense layers than the dataset supports"),
    Code("drops-edge", WARNING, "lint", "valid padding or a stride leaves the last rows or columns unread"),
    Code("unused-output", WARNING, "lint", "in a graph, a layer whose output nothing reads"),
    Code("unused-input", WARNING, "lint", "a named input no layer reads"),
    Code("high-dropout-rate", WARNING, "lint", "a dropout rate of 0.9 or more"),
    Code("batch-norm-after-softmax", WARNING, "lint", "batch normalization of softmax probabilities"),
    Code("bias-before-batch-norm", WARNING, "lint", "a dense or conv bias that the batch normalization after it cancels"),
    Code("dropout-before-output", WARNING, "lint", "dropout with only activations between it and the output"),
    # import: models of other tools read into specs (netspec.interop)
    Code("not-a-model", ERROR, "import", "the file or text is not a model of the format being imported"),
    Code("unsupported-layer", ERROR, "import", "a layer (Keras) or operator (ONNX) netspec has no equivalent for"),
    Code("unsupported-option", ERROR, "import", "an option of a foreign layer or model that netspec cannot express"),
    Code("unsupported-structure", ERROR, "import",
         "a model wired in a way netspec cannot express: several outputs, a shared layer, an open size"),
    Code("weights-mismatch", ERROR, "import", "weights whose layers or shapes do not match the model's config"),
    # export: netspec networks written for other tools (netspec.interop)
    Code("no-exporter", ERROR, "export", "a layer type with no exporter to the format asked for"),
]

CODES: dict[str, Code] = {entry.code: entry for entry in _TABLE}
assert len(CODES) == len(_TABLE), "a code is listed twice"
