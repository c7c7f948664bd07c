"""Pictures: training curves, decision regions, and a drawing of the network.

Each function returns a ``matplotlib.figure.Figure``; :func:`save` writes one
to a ``.png``, ``.svg`` or ``.pdf`` file, atomically (see :mod:`netspec.files`).

- :func:`history`: loss (with the data and regularization parts when
  training recorded them), each metric, and the learning rate per epoch,
  training and validation, from a :class:`~netspec.runtime.training.History`
  or the file ``netspec train --history`` wrote;
- :func:`decision_boundary`: the decision regions of a network with two input
  features over the plane of its data, the samples on top;
- :func:`network`: one box per layer (name, type, output shape, parameters),
  arrows for the data flow, warnings marked on the boxes they concern.

The figures are made with ``matplotlib.figure.Figure``, never with pyplot:
nothing global changes (no backend is chosen, no current figure is made), and
they render without a display. matplotlib is imported only when a picture is drawn (``pip install
'netspec[plot]'``); importing netspec never imports it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .errors import NetspecError
from .files import open_input, read_head, write_atomically
from .limits import DEFAULT_LIMITS, Limits
from .registry import REGISTRY, format_shape

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .infer import Shapes

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
DPI = 150  # of saved PNGs: a figure of w×h inches is (w·DPI)×(h·DPI) pixels
GRID_CHUNK = 65_536  # grid rows per forward pass when drawing decision regions
MAX_PIXELS = 2 ** 16 - 1  # the largest PNG side matplotlib's renderer draws
INSTALL = "pip install 'netspec[plot]'"


class PlotError(NetspecError):
    """A picture cannot be drawn or written: a network without two input
    features for :func:`decision_boundary`, a history without epochs, a file
    name whose format is unknown."""


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"netspec draws pictures with matplotlib, which is not installed: {INSTALL}",
                          name="matplotlib") from None
    return matplotlib


def _figure(width: float, height: float) -> Figure:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


# ---------------------------------------------------------------- files

def picture_format(path: str | os.PathLike) -> str:
    """``png``, ``svg`` or ``pdf`` from the file name's extension, or a PlotError."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension not in FORMATS:
        raise PlotError(f"{os.fspath(path)}: expected a .png, .svg or .pdf file name")
    return FORMATS[extension]


def is_picture(path: str | os.PathLike) -> bool:
    """An earlier picture (PNG, SVG or PDF), which an output may replace."""
    head = read_head(os.fspath(path), 1024)
    svg = head.lstrip().startswith((b"<?xml", b"<svg")) and b"<svg" in head
    return head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"%PDF-") or svg


def save(figure: Figure, path: str | os.PathLike, *, dpi: int = DPI) -> None:
    """Write ``figure`` to ``path``, its format from the extension (``.png``,
    ``.svg``, ``.pdf``), atomically: a failure leaves no half-written file.
    A PNG is ``dpi`` pixels per inch of the figure's size."""
    layout = picture_format(path)
    if layout == "png":
        width, height = (round(side * dpi) for side in figure.get_size_inches())
        if max(width, height) > MAX_PIXELS:
            raise PlotError(f"{os.fspath(path)}: the picture would be {width:,}×{height:,} pixels, more than a PNG "
                            f"can be drawn ({MAX_PIXELS:,} a side); write a .svg or .pdf instead")
    write_atomically(path, lambda stream: figure.savefig(stream, format=layout, dpi=dpi))


# ---------------------------------------------------------------- history

LOSSES = ("loss", "data_loss", "regularization_loss")
_LOSS_STYLES = {"loss": ("-", "loss"), "data_loss": ("--", "data loss"),
                "regularization_loss": (":", "regularization loss")}
TRAINING, VALIDATION, PENALTY = "#1f77b4", "#ff7f0e", "#2ca02c"


@dataclass
class _Record:
    """A history as plain lists: the epochs, each quantity, how training ended."""

    epochs: list[int]
    values: dict[str, list[float]]
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: dict[str, int] | None = None


def history(history: Any, *, title: str | None = None) -> Figure:
    """The training curves of ``history`` per epoch: one panel for the loss
    (training and ``val_``; with weight penalties also the data loss, dashed,
    and the regularization loss, dotted), one per metric (training and
    validation), and one for the learning rate when a schedule recorded it
    (a log scale when it spans two decades or more, as the loss gets too).
    The best epoch of early stopping is a dotted line.

    ``history``: a :class:`~netspec.runtime.training.History`, its
    ``as_dict()``, or the path of a file ``netspec train --history`` wrote
    (``.json`` or ``.csv``). Raises :class:`PlotError` for a history without epochs."""
    record = _record(history)
    panels = _panels(record.values)
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = _figure(4.6 * columns, 3.4 * rows + 0.4)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (heading, names) in zip(axes, panels):
        _draw_panel(ax, heading, names, record)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    figure.suptitle(_history_title(record, title), fontsize=12)
    return figure


def _record(source: Any) -> _Record:
    if isinstance(source, (str, os.PathLike)):
        source = _read_history(os.fspath(source))
    if isinstance(source, Mapping):
        record = _from_mapping(source)
    elif hasattr(source, "epochs") and hasattr(source, "values"):
        record = _Record(list(source.epochs), {k: list(v) for k, v in source.values.items()},
                         getattr(source, "best_epoch", None), getattr(source, "stopped_early", False),
                         getattr(source, "interrupted", None))
    else:
        raise PlotError(f"expected a History, its as_dict() or a history file; received {type(source).__name__}")
    if not record.epochs or not record.values:
        raise PlotError("the history has no epochs to draw")
    short = [k for k, v in record.values.items() if len(v) != len(record.epochs)]
    if short:
        raise PlotError(f"the history has {len(record.epochs)} epochs but {len(record.values[short[0]])} values "
                        f"of {short[0]}")
    return record


def _from_mapping(source: Mapping[str, Any]) -> _Record:
    """``History.as_dict()``'s layout: ``epoch`` and a list per quantity, then how training ended."""
    epochs = source.get("epoch", [])
    try:
        values = {k: [float(v) for v in series] for k, series in source.items() if k != "epoch" and isinstance(series, list)}
        return _Record([int(e) for e in epochs], values, source.get("best_epoch"), bool(source.get("stopped_early")),
                       source.get("interrupted"))
    except (TypeError, ValueError) as exc:
        raise PlotError(f"the history's epochs and values must be lists of numbers: {exc}") from None


def _read_history(path: str) -> dict[str, Any]:
    """A history file: JSON (``History.as_dict()``) or CSV (``History.as_csv()``)."""
    with open_input(path, "history file") as stream:
        text = stream.read().decode("utf-8", "replace")
    try:
        if path.lower().endswith(".json"):
            found = json.loads(text)
            if isinstance(found, dict) and isinstance(found.get("epoch"), list):
                return found
        else:
            rows = list(csv.reader(io.StringIO(text)))
            if rows and rows[0] and rows[0][0] == "epoch":
                columns = list(zip(*rows[1:])) or [()] * len(rows[0])
                return {name: [float(v) for v in column] for name, column in zip(rows[0], columns)}
    except ValueError as exc:
        raise PlotError(f"{path} is not a history netspec wrote: {exc}") from None
    raise PlotError(f"{path} is not a history netspec wrote (netspec train --history H.json|H.csv): "
                    "expected an epoch column")


def _panels(values: Mapping[str, list[float]]) -> list[tuple[str, list[str]]]:
    """``(heading, quantities)`` per panel: the losses, each metric, the learning rate."""
    losses = [n for base in LOSSES for n in (base, "val_" + base) if n in values]
    panels = [("loss", losses)] if losses else []
    for name in values:
        base = name.removeprefix("val_")
        if base in LOSSES or name == "learning_rate" or any(base == heading for heading, _ in panels):
            continue
        panels.append((base, [n for n in (base, "val_" + base) if n in values]))
    if "learning_rate" in values:
        panels.append(("learning rate", ["learning_rate"]))
    return panels


def _draw_panel(ax: Axes, heading: str, names: list[str], record: _Record) -> None:
    few = len(record.epochs) <= 30
    for name in names:
        base = name.removeprefix("val_")
        validation = name.startswith("val_")
        style, label = _LOSS_STYLES.get(base, ("-", base))
        colour = PENALTY if base == "regularization_loss" else VALIDATION if validation else TRAINING
        if heading != "learning rate" and base != "regularization_loss":
            label = ("validation " if validation else "training ") + label
        ax.plot(record.epochs, record.values[name], style, color=colour, label=label, linewidth=1.6,
                marker="o" if few else None, markersize=3)
    if record.best_epoch is not None and heading != "learning rate":
        ax.axvline(record.best_epoch, color="#777777", linestyle=":", linewidth=1.2,
                   label=f"best epoch ({record.best_epoch})")
    if _spans_decades(record.values[names[0]]):  # the loss, a metric, the rate: not a penalty that starts at 0
        ax.set_yscale("log")
    ax.set_title(heading, fontsize=11)
    ax.set_xlabel("epoch")
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if len(ax.get_legend_handles_labels()[0]) > 1:
        ax.legend(fontsize=8, frameon=False)


def _spans_decades(series: list[float]) -> bool:
    """Positive values whose largest is 100 times their smallest or more."""
    finite = [v for v in series if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= 100


def _history_title(record: _Record, title: str | None) -> str:
    words = [title] if title else []
    words.append(f"{len(record.epochs):,} epoch{'s' * (len(record.epochs) != 1)}")
    if record.stopped_early:
        words.append(f"stopped early at epoch {record.epochs[-1]}")
    if record.interrupted:
        where = record.interrupted
        words.append(f"interrupted in epoch {where.get('epoch')}")
    return " · ".join(words)


# ---------------------------------------------------------------- decision regions

def decision_boundary(pipeline: Any, X: Any, y: Any = None, *, resolution: int = 300, margin: float = 0.1,
                      output: int = 0, title: str | None = None) -> Figure:
    """The decision regions of ``pipeline`` over the plane of ``X`` (n, 2), with
    the samples on top, coloured by their label ``y`` when given.

    The grid spans ``X``'s range on both axes widened by ``margin`` of it on
    each side, ``resolution`` points a side. A classifier's regions are
    filled by predicted class (softmax output), and the title gives its
    accuracy on ``(X, y)``; a binary classifier's probability of class 1
    (sigmoid output, through the sigmoid when its loss takes logits) is
    shaded, with the 0.5 contour drawn; a regression network's output is
    shaded with its contours. ``output`` picks the output drawn when a
    binary or regression network has several.

    Raises :class:`PlotError` unless the network takes one input of two
    features, :class:`~netspec.errors.DataError` for bad ``X`` or ``y``."""
    import numpy as np

    check_two_features(pipeline)
    if resolution < 2:
        raise PlotError(f"resolution must be at least 2 grid points a side; received {resolution}")
    if pipeline.task != "categorical" and not 0 <= output < pipeline.output_features:
        raise PlotError(f"output {output} does not exist: the network has {pipeline.output_features} "
                        f"output{'s' * (pipeline.output_features != 1)} (0 to {pipeline.output_features - 1})")
    X = np.asarray(pipeline.checked(X))
    if len(X) == 0:
        raise PlotError("there are no samples to draw (X has 0 rows)")
    labels = _labels(pipeline, y, len(X), output) if y is not None else None
    xs, ys = _grid_axes(X, margin, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(pipeline.dtype)
    values = _grid_values(pipeline, grid, output).reshape(resolution, resolution, -1)
    figure = _figure(6.0 if pipeline.task == "categorical" else 6.8, 5.6)
    figure.set_layout_engine("constrained")
    ax = figure.subplots()
    draw = _draw_classes if pipeline.task == "categorical" else _draw_shading
    drawn = draw(ax, pipeline, xs, ys, values, X, labels, output)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    spans = (xs[-1] - xs[0], ys[-1] - ys[0])
    if 1 / 3 <= spans[0] / spans[1] <= 3:
        ax.set_aspect("equal")
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.set_title(_boundary_title(pipeline, X, labels, drawn, output, title), fontsize=11)
    return figure


def check_two_features(pipeline: Any) -> None:
    """A PlotError, naming what the network takes, unless it takes one input of two features."""
    if pipeline.input_shape is None:
        names = ", ".join(pipeline.input_shapes)
        raise PlotError(f"decision regions are drawn over the plane of a network's two input features, but this "
                        f"network takes several inputs ({names})")
    if tuple(pipeline.input_shape) != (2,):
        shape = tuple(pipeline.input_shape)
        what = (f"{shape[0]:,} input feature{'s' * (shape[0] != 1)}" if len(shape) == 1
                else f"inputs of shape {format_shape(shape)}")
        raise PlotError(f"decision regions are drawn over the plane of a network's two input features, but this "
                        f"network takes {what}")


def _labels(pipeline: Any, y: Any, samples: int, output: int) -> Any:
    """Class indices (classifiers) or target values (regression) of ``y``, checked."""
    import numpy as np

    targets = pipeline.targets(y, samples)
    if pipeline.task == "categorical":
        return targets if targets.ndim == 1 else np.argmax(targets, axis=1)
    column = targets[:, output]
    return (column > 0.5).astype(np.int64) if pipeline.task == "binary" else column


def _grid_axes(X: Any, margin: float, resolution: int) -> tuple[Any, Any]:
    import numpy as np

    low, high = X.min(axis=0).astype(float), X.max(axis=0).astype(float)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - margin * span, high + margin * span
    return np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)


def _grid_values(pipeline: Any, grid: Any, output: int) -> Any:
    """Each class's margin (classifiers, see :func:`_margins`), the probability
    of class 1 (binary) or the output (regression) at each grid point, a
    chunk of rows at a time."""
    import numpy as np

    chunks = []
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(grid), GRID_CHUNK):
            out = pipeline.forward(grid[start:start + GRID_CHUNK])
            if pipeline.task == "categorical":
                chunks.append(_margins(out))
                continue
            column = out[:, output:output + 1]
            if pipeline.task == "binary" and getattr(pipeline.loss_function, "from_logits", False):
                column = 1 / (1 + np.exp(-column))
            chunks.append(column)
    return np.concatenate(chunks)


def _margins(out: Any) -> Any:
    """Each class's score less the best other class's, (n, classes): positive
    exactly where the class is predicted, so the contours at 0 of these
    smooth functions are the boundaries, drawn between grid points."""
    import numpy as np

    order = np.sort(out, axis=-1)
    best_other = np.where(out == order[:, -1:], order[:, -2:-1], order[:, -1:])
    return out - best_other


def class_colours(count: int) -> list[tuple[float, float, float]]:
    """``count`` distinguishable colours: a qualitative palette, then evenly spaced hues."""
    from matplotlib import colormaps
    from matplotlib.colors import hsv_to_rgb

    if count <= 10:
        return [colormaps["tab10"](i)[:3] for i in range(count)]
    return [tuple(hsv_to_rgb((i / count, 0.65, 0.85))) for i in range(count)]


def _draw_classes(ax: Axes, pipeline: Any, xs: Any, ys: Any, margins: Any, X: Any, labels: Any, output: int) -> str:
    import numpy as np
    from matplotlib.lines import Line2D

    count = pipeline.output_features
    colours = class_colours(count)
    light = [tuple(0.55 + 0.45 * c for c in colour) for colour in colours]
    for index in range(count):
        if (margins[..., index] > 0).any():
            ax.contourf(xs, ys, margins[..., index], levels=[0, np.inf], colors=[light[index]])
    point_colours = [colours[int(c)] for c in labels] if labels is not None else "#333333"
    ax.scatter(X[:, 0], X[:, 1], c=point_colours, s=_marker_size(len(X)), edgecolors="#222222", linewidths=0.5,
               zorder=3)
    if count <= 12:
        handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor=colours[i], markeredgecolor="#222222",
                          label=f"class {i}") for i in range(count)]
        ax.legend(handles=handles, fontsize=8, loc="upper right", framealpha=0.85)
    return "regions"


def _draw_shading(ax: Axes, pipeline: Any, xs: Any, ys: Any, values: Any, X: Any, labels: Any, output: int) -> str:
    import numpy as np
    from matplotlib.colors import Normalize

    binary = pipeline.task == "binary"
    values = values[..., 0]
    finite = values[np.isfinite(values)]
    low, high = (0.0, 1.0) if binary else (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    cmap = "RdBu_r" if binary else "viridis"
    norm = Normalize(low, high)
    shading = ax.contourf(xs, ys, values, levels=np.linspace(low, high, 21), cmap=cmap, norm=norm, extend="both")
    lines = [0.5] if binary else np.linspace(low, high, 9)[1:-1]
    ax.contour(xs, ys, values, levels=lines, colors="#222222", linewidths=1.4 if binary else 0.6)
    several = pipeline.output_features > 1
    label = (f"P(output {output} is 1)" if binary and several else "P(class 1)" if binary
             else f"output {output}" if several else "output")
    ax.figure.colorbar(shading, ax=ax, label=label, shrink=0.85)
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], c="#333333", s=_marker_size(len(X)), zorder=3)
    else:
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=cmap, norm=norm, s=_marker_size(len(X)), edgecolors="#222222",
                   linewidths=0.5, zorder=3)
    return "probability" if binary else "output"


def _marker_size(samples: int) -> float:
    return float(min(max(6000 / max(samples, 1), 3), 36))


def _boundary_title(pipeline: Any, X: Any, labels: Any, drawn: str, output: int, title: str | None) -> str:
    import numpy as np

    name = title or (pipeline.spec or {}).get("name") or "network"
    words = {"regions": "decision regions", "probability": "decision boundary", "output": "output"}[drawn]
    text = f"{name}: {words}"
    if labels is not None and pipeline.task != "regression":
        accuracy = float(np.mean(_predicted(pipeline, X, output) == labels))
        text += f"\naccuracy {100 * accuracy:.1f} % on {len(X):,} samples"
    return text


def _predicted(pipeline: Any, X: Any, output: int) -> Any:
    predicted = pipeline.predict(X)
    return predicted if predicted.ndim == 1 else predicted[:, output]


# ---------------------------------------------------------------- the network

FAMILIES = {  # layer type -> the colour family of its box; activations and plugins are found otherwise
    "dense": "dense", "conv2d": "conv", "conv1d": "conv", "max_pool2d": "pool", "avg_pool2d": "pool",
    "max_pool1d": "pool", "avg_pool1d": "pool", "global_avg_pool": "pool", "global_max_pool": "pool",
    "flatten": "shape", "reshape": "shape", "dropout": "dropout", "batch_norm": "norm", "layer_norm": "norm",
    "add": "merge", "multiply": "merge", "average": "merge", "concatenate": "merge",
}
FILLS = {"input": "#dde3ea", "dense": "#cfe2f3", "conv": "#fde1c4", "pool": "#d5ebd0", "shape": "#ececec",
         "dropout": "#ececec", "norm": "#e3d6ef", "merge": "#fff0bf", "activation": "#f8d5d5", "other": "#ffffff"}
EDGE, WARNED, ARROW, WARNING_TEXT = "#4d4d4d", "#d9480f", "#555555", "#c0390b"
FONT_SIZES = {"name": 10.0, "type": 8.5, "detail": 8.5, "warning": 8.0}
LINE_HEIGHT = 0.19  # inches per line of text in a box
PAD_X, PAD_Y = 0.16, 0.09  # inches of box around its text
GAP_X, GAP_Y = 0.42, 0.42  # inches between boxes side by side, and between rows
LANE = 0.18  # inches of width an edge passing through a row takes
MARGIN = 0.3
SWEEPS = 24  # rounds of ordering and placing


@dataclass(eq=False)
class _Node:
    """One box of the drawing, or (``lines`` empty) a point an edge passes through on a row it crosses."""

    key: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (text, role): a role of FONT_SIZES
    fill: str = FILLS["other"]
    warned: bool = False
    row: int = 0
    x: float = 0.0
    width: float = LANE
    height: float = 0.0
    top: float = 0.0  # of its box, in the figure's inches, once drawn

    @property
    def dummy(self) -> bool:
        return not self.lines


@dataclass
class _Diagram:
    """The boxes, the edges between them (each a list of nodes: its source,
    the rows it crosses, its target) and the warnings no box stands for."""

    nodes: dict[str, _Node]
    edges: list[tuple[str, str]]
    notes: list[str]
    paths: list[list[_Node]] = field(default_factory=list)
    rows: list[list[_Node]] = field(default_factory=list)


def network(spec: Any, *, ignore: Iterable[str] = (), limits: Limits = DEFAULT_LIMITS,
            title: str | None = None) -> Figure:
    """A drawing of the network ``spec`` (a path, JSON or YAML text, a dict, a
    :class:`~netspec.Spec` or a compiled Pipeline): a box per layer with its
    name, type (``conv2d + relu`` for the ``activation`` shorthand), output
    shape and parameter count; the inputs above and the output below; an
    arrow for every connection, merges and named inputs included; and each
    warning, with its code, on the box it concerns (the loss's on the output's
    box; others, such as the learning rate's, beneath the drawing).

    Rows are the longest path from the inputs, boxes side by side within a
    row, and an edge that skips rows runs in a lane of its own beside the boxes
    it passes. ``ignore`` silences warnings by code; a spec with errors raises
    :class:`~netspec.SpecError` carrying them, and nothing is drawn."""
    from . import api

    if hasattr(spec, "forward") and isinstance(getattr(spec, "spec", None), dict):
        spec = spec.spec  # a Pipeline
    report = api.validate(spec, ignore=ignore, limits=limits)
    report.raise_for_errors()
    require_matplotlib()
    diagram = _diagram(report.shapes, report.warnings)
    _layout(diagram)
    name = title or report.spec.name or "network"
    return _draw_diagram(diagram, f"{name} · {report.shapes.total_parameters:,} parameters")


def _diagram(shapes: Shapes, warnings: Sequence[Any]) -> _Diagram:
    nodes: dict[str, _Node] = {}
    owner: dict[str, str] = {}  # step or input name -> the key of its box
    parts: dict[str, list[Any]] = {}
    entries: dict[Any, str] = {}  # a layer's path ("layers", i) -> its box
    edges: list[tuple[str, str]] = []
    for name, shape in shapes.input_shapes.items():
        key = owner[name] = f"input:{name}"
        nodes[key] = _Node(key, [(name, "name"), ("input", "type"), (format_shape(shape), "detail")], FILLS["input"])
    for step in shapes.layers:
        entry = tuple(step.path[:2])
        if entry in entries:  # the layer's activation shorthand, drawn in its box
            owner[step.name] = entries[entry]
            parts[entries[entry]].append(step)
            continue
        key = entries[entry] = owner[step.name] = f"layer:{step.name}"
        parts[key] = [step]
        edges.extend((owner[source], key) for source in step.inputs)
    for key, steps in parts.items():
        kind = " + ".join(step.type for step in steps)
        count = sum(step.parameters for step in steps)
        detail = f"{format_shape(steps[-1].out_shape)} · {count:,} parameter{'s' * (count != 1)}"
        nodes[key] = _Node(key, [(steps[0].name, "name"), (kind, "type"), (detail, "detail")], _fill(steps[0].type))
    output = shapes.output_step
    if output is not None:
        nodes["output"] = _Node("output", [("output", "name"), (format_shape(output.out_shape), "detail")],
                                FILLS["input"])
        edges.append((owner[output.name], "output"))
    notes = _mark_warnings(nodes, warnings, entries, shapes, owner.get(output.name) if output else None)
    return _Diagram(nodes, edges, notes)


def _fill(kind: str) -> str:
    family = FAMILIES.get(kind) or ("activation" if REGISTRY.get("activation", kind) else "other")
    return FILLS[family]


def _mark_warnings(nodes: dict[str, _Node], warnings: Sequence[Any], entries: dict[Any, str], shapes: Shapes,
                   output: str | None) -> list[str]:
    """Put each warning's code on the box it concerns; return the lines for the others."""
    notes = []
    for warning in warnings:
        path = tuple(warning.path)
        key = None
        if path[:1] == ("layers",) and len(path) > 1:
            key = entries.get(path[:2])
        elif path[:1] == ("input",):
            name = path[1] if len(path) > 1 and path[1] in shapes.input_shapes else next(iter(shapes.input_shapes))
            key = f"input:{name}"
        elif path[:1] == ("loss",):
            key = output
        node = nodes.get(key) if key else None
        line = (f"⚠ {warning.code}", "warning")
        if node is None:
            notes.append(f"⚠ {warning.code} ({warning.where}): {warning.message}")
        elif line not in node.lines:
            node.lines.append(line)
            node.warned = True
    return notes


# ------------------------------------------------ layout: rows, order within rows, positions

def _layout(diagram: _Diagram) -> None:
    nodes = diagram.nodes
    sources: dict[str, list[str]] = {key: [] for key in nodes}
    for source, target in diagram.edges:
        sources[target].append(source)
    for key in nodes:  # keys are in topological order: inputs, layers in spec order, the output
        nodes[key].row = 1 + max((nodes[s].row for s in sources[key]), default=-1)
    rows: list[list[_Node]] = [[] for _ in range(max(n.row for n in nodes.values()) + 1)]
    for node in nodes.values():
        rows[node.row].append(node)
    for index, (source, target) in enumerate(diagram.edges):
        path = [nodes[source]]
        for row in range(nodes[source].row + 1, nodes[target].row):
            passing = _Node(f"edge:{index}:{row}", row=row)
            rows[row].append(passing)
            path.append(passing)
        diagram.paths.append(path + [nodes[target]])
    diagram.rows = rows
    _measure(nodes.values())
    _order(diagram)
    _place(diagram)


def _measure(nodes: Iterable[_Node]) -> None:
    """Every box the same width, the widest text's; heights by their lines."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure = TextToPath()
    boxes = [n for n in nodes if not n.dummy]
    widest = max(measure.get_text_width_height_descent(text, _font(role, FontProperties), ismath=False)[0]
                 for node in boxes for text, role in node.lines)
    for node in boxes:
        node.width = widest / 72 + 2 * PAD_X
        node.height = len(node.lines) * LINE_HEIGHT + 2 * PAD_Y


def _font(role: str, properties: Any) -> Any:
    return properties(size=FONT_SIZES[role], weight="bold" if role == "name" else "normal")


def _neighbours(diagram: _Diagram) -> tuple[dict[int, list[_Node]], dict[int, list[_Node]]]:
    """Each node's neighbours in the row above and in the row below (by id)."""
    above: dict[int, list[_Node]] = {id(n): [] for row in diagram.rows for n in row}
    below: dict[int, list[_Node]] = {id(n): [] for row in diagram.rows for n in row}
    for path in diagram.paths:
        for upper, lower in zip(path, path[1:]):
            below[id(upper)].append(lower)
            above[id(lower)].append(upper)
    return above, below


def _order(diagram: _Diagram) -> None:
    """Order each row by the mean position of its neighbours (downwards, then
    upwards), keeping the order with the fewest crossings; ties keep the
    spec's order, so a chain stays left and the lanes of skips go right."""
    above, below = _neighbours(diagram)
    rows = diagram.rows
    best, fewest = [list(row) for row in rows], _crossings(rows, below)
    for sweep in range(SWEEPS // 3):
        downwards = sweep % 2 == 0
        for index in (range(1, len(rows)) if downwards else range(len(rows) - 2, -1, -1)):
            fixed = {id(n): i for i, n in enumerate(rows[index - 1 if downwards else index + 1])}
            near = above if downwards else below
            position = {id(n): i for i, n in enumerate(rows[index])}
            rows[index].sort(key=lambda n: (sum(fixed[id(m)] for m in near[id(n)]) / len(near[id(n)])
                                            if near[id(n)] else position[id(n)]))
        found = _crossings(rows, below)
        if found < fewest:
            best, fewest = [list(row) for row in rows], found
    diagram.rows = best


def _crossings(rows: list[list[_Node]], below: dict[int, list[_Node]]) -> int:
    total = 0
    for upper, lower in zip(rows, rows[1:]):
        where = {id(n): i for i, n in enumerate(lower)}
        segments = [(i, where[id(m)]) for i, n in enumerate(upper) for m in below[id(n)]]
        total += sum(1 for a, (i, j) in enumerate(segments) for k, m in segments[a + 1:] if (i - k) * (j - m) < 0)
    return total


def _place(diagram: _Diagram) -> None:
    """x of every node: rows packed, then, row after row downwards, each node
    moved towards the weighted median of its neighbours above (the inputs:
    below), as near as the row's spacing lets it, a box before a lane. A box
    follows the boxes it is joined to (weight 8) more than the lanes (1), and
    a lane follows its own edge (8), so chains and lanes run straight."""
    above, below = _neighbours(diagram)
    for row in diagram.rows:
        _pack(row, [0.0] * len(row), [1.0] * len(row))
    for _ in range(SWEEPS // 3):
        for row in diagram.rows:
            targets = [_median(node, above[id(node)] or below[id(node)]) for node in row]
            _pack(row, targets, [0.001 if node.dummy else 1.0 for node in row])
    left = min(node.x - node.width / 2 for row in diagram.rows for node in row)
    for row in diagram.rows:
        for node in row:
            node.x -= left


def _median(node: _Node, neighbours: list[_Node]) -> float:
    if not neighbours:
        return node.x
    weighted = sorted((m.x, 8.0 if m.dummy == node.dummy else 1.0) for m in neighbours)
    half, running = sum(w for _, w in weighted) / 2, 0.0
    for index, (x, weight) in enumerate(weighted):
        running += weight
        if running > half:
            return x
        if running == half:
            return (x + weighted[index + 1][0]) / 2
    return weighted[-1][0]


def _pack(row: list[_Node], targets: list[float], weights: list[float]) -> None:
    """Set the x of the nodes of ``row``, in order, as near to ``targets`` as
    they can be without overlapping: least squares under the spacing
    constraints, solved exactly by pooling adjacent violators."""
    offsets = [0.0]
    for left, right in zip(row, row[1:]):
        offsets.append(offsets[-1] + (left.width + right.width) / 2 + (GAP_X if not (left.dummy and right.dummy)
                                                                         else GAP_X / 3))
    blocks: list[list[float]] = []  # [weight, weighted sum, count]
    for target, offset, weight in zip(targets, offsets, weights):
        blocks.append([weight, weight * (target - offset), 1])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            weight_, total, count = blocks.pop()
            blocks[-1] = [blocks[-1][0] + weight_, blocks[-1][1] + total, blocks[-1][2] + count]
    index = 0
    for weight, total, count in blocks:
        for _ in range(int(count)):
            row[index].x = total / weight + offsets[index]
            index += 1


# ------------------------------------------------ drawing

def _draw_diagram(diagram: _Diagram, title: str) -> Figure:
    import textwrap

    rows = diagram.rows
    heights = [max((n.height for n in row), default=0.0) for row in rows]
    content_width = max(n.x + n.width / 2 for row in rows for n in row)
    width = max(content_width + 2 * MARGIN, 4.0)
    notes = [line for note in diagram.notes for line in textwrap.wrap(note, max(int(width * 13), 40))]
    title_height, notes_height = 0.55, len(notes) * LINE_HEIGHT + (0.2 if notes else 0.0)
    height = title_height + sum(heights) + GAP_Y * (len(rows) - 1) + notes_height + MARGIN
    shift = (width - content_width) / 2
    tops, y = [], height - title_height
    for row_height in heights:
        tops.append(y)
        y -= row_height + GAP_Y
    figure = _figure(width, height)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    ax.text(width / 2, height - title_height / 2, title, ha="center", va="center", fontsize=12, fontweight="bold",
            parse_math=False)
    for index, row in enumerate(rows):
        for node in row:
            node.x += shift
            if not node.dummy:
                _draw_box(ax, node, tops[index] - (heights[index] - node.height) / 2)
    _draw_edges(ax, diagram, tops, heights)
    for index, line in enumerate(notes):
        ax.text(MARGIN, notes_height + MARGIN / 2 - (index + 1) * LINE_HEIGHT, line, ha="left", va="center",
                fontsize=FONT_SIZES["warning"], color=WARNING_TEXT, parse_math=False)
    return figure


def _draw_box(ax: Axes, node: _Node, top: float) -> None:
    from matplotlib.patches import FancyBboxPatch

    node.top = top
    ax.add_patch(FancyBboxPatch((node.x - node.width / 2, top - node.height), node.width, node.height,
                                boxstyle="round,pad=0,rounding_size=0.07", facecolor=node.fill,
                                edgecolor=WARNED if node.warned else EDGE, linewidth=2.0 if node.warned else 1.0,
                                zorder=2))
    for index, (text, role) in enumerate(node.lines):
        colour = WARNING_TEXT if role == "warning" else "#555555" if role == "type" else "#111111"
        ax.text(node.x, top - PAD_Y - (index + 0.5) * LINE_HEIGHT, text, ha="center", va="center",
                fontsize=FONT_SIZES[role], fontweight="bold" if role == "name" else "normal", color=colour,
                zorder=3, parse_math=False, gid=f"{role}:{text}")


def _draw_edges(ax: Axes, diagram: _Diagram, tops: list[float], heights: list[float]) -> None:
    """One arrow per edge: from the bottom of its source, down its lane through
    the rows it crosses, to the top of its target; several edges leaving or
    reaching one box are spread along its side in the order of where they go."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    leaving: dict[int, tuple[_Node, list[tuple[float, int]]]] = {}
    arriving: dict[int, tuple[_Node, list[tuple[float, int]]]] = {}
    for index, path in enumerate(diagram.paths):
        leaving.setdefault(id(path[0]), (path[0], []))[1].append((path[1].x, index))
        arriving.setdefault(id(path[-1]), (path[-1], []))[1].append((path[-2].x, index))
    starts, ends = _ports(leaving), _ports(arriving)
    for index, path in enumerate(diagram.paths):
        source, target = path[0], path[-1]
        points = [(source.x + starts[index], source.top - source.height)]
        for passing in path[1:-1]:
            points += [(passing.x, tops[passing.row]), (passing.x, tops[passing.row] - heights[passing.row])]
        points.append((target.x + ends[index], target.top))
        vertices, codes = [points[0]], [Path.MOVETO]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if x0 == x1:
                vertices.append((x1, y1))
                codes.append(Path.LINETO)
            else:
                middle = (y0 + y1) / 2
                vertices += [(x0, middle), (x1, middle), (x1, y1)]
                codes += [Path.CURVE4] * 3
        ax.add_patch(FancyArrowPatch(path=Path(vertices, codes), arrowstyle="-|>", mutation_scale=11,
                                     color=ARROW, linewidth=1.1, zorder=1, gid=f"edge:{index}"))


def _ports(ends: dict[int, tuple[_Node, list[tuple[float, int]]]]) -> dict[int, float]:
    """How far from the middle of its box each edge leaves (or arrives): towards
    where it goes, within the middle 70 % of the box's side, and apart from the
    box's other edges."""
    offsets = {}
    for node, found in ends.values():
        reach = node.width * 0.35
        spots = [min(max(x - node.x, -reach), reach) for x, _ in sorted(found)]
        for rank in range(1, len(spots)):
            spots[rank] = max(spots[rank], spots[rank - 1] + min(0.2, 2 * reach / (len(spots) - 1)))
        spill = max(spots[-1] - reach, 0.0)
        for (_, index), spot in zip(sorted(found), spots):
            offsets[index] = spot - spill
    return offsets
