"""The ``netspec`` command: a thin shell over the Python API.

Exit codes: 0 success, 1 an invalid spec, bad data or an output that cannot
be written (with every diagnostic printed), 2 a usage error, 130 interrupted
(Ctrl-C). Bad input never produces a traceback.

The commands that only look at specs (``validate``, ``summary``, ``schema``,
``list``) never import NumPy or the runtime, so editors and pre-commit hooks
get their answer at Python's start-up cost; the others import what they use.

What a careful user can count on:

- every output path is checked before any work starts (see
  :func:`netspec.files.check_output`); the command's own inputs, and
  existing files of another kind, are replaced only with ``--force``;
- Ctrl-C during ``train`` stops at the end of the current batch and saves
  the checkpoint; a second Ctrl-C aborts at once;
- a reader that goes away (``netspec train … | head -1``) never stops the
  work: output to a closed pipe is dropped quietly;
- BLAS threads follow the size of the problem (:mod:`netspec.runtime.threads`),
  unless ``--threads`` or ``NETSPEC_THREADS`` says otherwise.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TextIO

from . import api
from .check import did_you_mean
from .codes import CODES
from .errors import DataError, Diagnostic, NetspecError, SpecError
from .files import check_output, check_output_folder, is_temporary, read_head, write_atomically, write_text
from .interop.cli import add_interop_commands
from .limits import DEFAULT_LIMITS, Limits
from .lints import LINTS
from .plugins import load_plugins
from .registry import KINDS, REGISTRY, format_shape
from .schema import json_schema_text
from .spec import FileData, Train

if TYPE_CHECKING:
    import numpy as np

    from .sweeps import Folder

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CARET_WINDOW = 100  # characters of a long source line shown around the column
THREADS_VARIABLE = "NETSPEC_THREADS"  # netspec.runtime.threads.ENVIRONMENT; the parser must not import the runtime


class UsageError(NetspecError):
    """The command line asks for something that cannot be (exit 2)."""


class Printer:
    """Writes diagnostics as ``FILE:LINE:COL: PATH: message``, then the source
    line with a caret under the column (a window of the line around it when
    the line is long, as minified JSON is), then the hint; colour on a terminal only."""

    def __init__(self, stream: TextIO, color: bool | None = None):
        self.stream = stream
        self.color = _wants_color(stream) if color is None else color

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def diagnostic(self, d: Diagnostic, report: api.Report | None, file: str) -> None:
        place = ":".join(str(p) for p in (d.file or file, d.line, d.column) if p is not None)
        label = self.paint("error", "1;31") if d.is_error else self.paint("warning", "1;33")
        print(f"{one_line(place)}: {one_line(d.where)}: {label}: {one_line(d.message)} [{d.code}]", file=self.stream)
        line = report.document.line_text(d.line) if report and report.document and d.line else None
        if line is not None:
            shown, offset = caret_window(line, max(d.column or 1, 1))
            print(f"    {shown}", file=self.stream)
            print("    " + " " * offset + self.paint("^", "1;32"), file=self.stream)
        if d.hint:
            print(f"    {self.paint('hint', '1;36')}: {d.hint}", file=self.stream)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters written as
    escapes (``\\n``), so a key or value holding them cannot split a diagnostic's line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def caret_window(line: str, column: int, width: int = CARET_WINDOW) -> tuple[str, int]:
    """``(text, offset)``: ``line`` as shown above a caret at 1-based
    ``column``, and how many characters precede the caret. A line longer than
    ``width`` is cut to ``width`` characters around the column, with ``…``
    where text was left out."""
    if len(line) <= width:
        return line, column - 1
    start = min(max(column - 1 - width // 2, 0), len(line) - width)
    before = "…" if start > 0 else ""
    after = "…" if start + width < len(line) else ""
    return before + line[start:start + width] + after, column - 1 - start + len(before)


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 sample``, ``2 samples``, ``1,000 samples``."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


# ---------------------------------------------------------------- commands that only read specs

def cmd_validate(args: argparse.Namespace) -> int:
    limits = _limits(args)
    results = [(file, api.validate(Path(file), strict=args.strict, ignore=args.ignore, limits=limits))
               for file in args.files]
    if args.format == "json":
        found = [{**d.to_dict(), "file": d.file or file} for file, r in results for d in r.diagnostics]
        out = {"ok": all(r.ok for _, r in results), "diagnostics": found}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        printer = Printer(sys.stdout)
        for file, report in results:
            for d in report.diagnostics:
                printer.diagnostic(d, report, file)
            if report.ok:
                note = f" ({count(len(report.warnings), 'warning')})" if report.warnings else ""
                print(f"{file}: ok{note}")
    return EXIT_OK if all(r.ok for _, r in results) else EXIT_INVALID


def cmd_summary(args: argparse.Namespace) -> int:
    report = _checked(args.file, args)
    if report is None:
        return EXIT_INVALID
    if args.format == "json":
        print(json.dumps(report.shapes.as_dict(), indent=2))
    else:
        print(report.shapes.table())
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(json_schema_text())
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    for kind in [args.kind] if args.kind else [k for k in KINDS if k != "layer"] + ["layer"]:
        entries = [e for e in REGISTRY.entries(kind) if kind != "layer" or e.kind == "layer"]
        print(_HEADINGS[kind])
        for entry in entries:
            print(f"  {entry.name:<26} {entry.summary}")
            for option in _options_of(entry):
                print(f"      {option}")
    return EXIT_OK


_HEADINGS = {"layer": "layers:", "activation": "activations (also usable as layers):", "loss": "losses:",
             "initializer": "initializers:", "optimizer": "optimizers:"}


def _options_of(entry: Any) -> list[str]:
    """``name: type = default`` (or ``(required)``) for each option of a component."""
    lines = []
    for name, info in entry.params.model_fields.items():
        if name in ("type", "name", "inputs"):
            continue
        kind = info.annotation.__name__ if isinstance(info.annotation, type) else None
        label = f"{name}: {kind}" if kind else name
        lines.append(f"{label} (required)" if info.is_required() else f"{label} = {json.dumps(info.default)}")
    return lines


def cmd_check_gradients(args: argparse.Namespace) -> int:
    from .gradients import check_all

    for name in args.names:
        _check_differentiable(name)
    reports = check_all(args.names)
    for report in reports:
        print(report)
    failed = [r.name for r in reports if not r.ok]
    if failed:
        print(f"wrong gradients: {', '.join(failed)}", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def _check_differentiable(name: str) -> None:
    """A UsageError unless ``name`` is a registered layer, activation or loss."""
    from .gradients import CHECKED_KINDS

    if any(REGISTRY.get(kind, name) for kind in CHECKED_KINDS):
        return
    other = next((kind for kind in KINDS if REGISTRY.get(kind, name)), None)
    if other is not None:
        raise UsageError(f'"{name}" is an {other}; only layers, activations and losses have gradients to check')
    known = sorted({e.name for kind in CHECKED_KINDS for e in REGISTRY.entries(kind)})
    close = did_you_mean(name, known)
    raise UsageError(f'no layer, activation or loss is registered as "{name}"' + (f"; {close}" if close else "")
                     + f" (registered: {', '.join(known)}; see netspec list)")


# ---------------------------------------------------------------- commands that compute

def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    prepared = _compiled_with_data(args)
    if prepared is None:
        return EXIT_INVALID
    pipeline, X, y, source = prepared
    with _inference_threads(pipeline, X, args):
        output = pipeline.forward(X)
        losses = pipeline.evaluate(X, y, pipeline.reported_metrics) if pipeline.loss_function and y is not None else {}
    each = format_shape(output.shape[1:])
    print(f"{args.file}: forward pass on {source}: {count(len(X), 'sample')} → {each} output"
          f"{'s' * (each != '1')} each")
    for name, value in losses.items():
        print(f"{name}: {value:.10g}")
    rows = min(args.rows, len(output))
    print(f"first {count(rows, 'output')}:")
    with np.printoptions(precision=8, suppress=True, linewidth=120):
        print(output[:rows])
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .runtime.training import fit

    out = args.out or (os.path.splitext(os.path.basename(args.file))[0] + ".npz")
    inputs = [args.file] + ([args.data] if args.data else [])
    _check_train_outputs(args, out, inputs)
    prepared = _compiled_with_data(args, chunked=True)
    if prepared is None:
        return EXIT_INVALID
    pipeline, X, y, source = prepared
    if y is None:
        raise DataError(f"{source} has no labels or targets to train on")
    _check_train_outputs(args, out, inputs + _data_files(pipeline.spec, args.file)
                         + ([args.validation_data] if args.validation_data else []))
    config = pipeline.training.with_overrides(**({"epochs": args.epochs} if args.epochs is not None else {}))
    chunked = _is_chunked(X)
    if not chunked:
        X = pipeline.checked(X)
        targets = pipeline.targets(y, len(X))
    validation, validated_on = _validation_data(args, pipeline)
    with Interrupt() as interrupt:
        if not args.quiet:
            print(pipeline.summary())
            print(f"training on {source}: {count(len(X), 'sample')}, optimizer {pipeline.optimizer!r}", flush=True)
            if validation is not None:
                print(f"validating on {validated_on}: {count(len(validation[0]), 'sample')}", flush=True)
        if chunked:  # larger than memory: read chunk by chunk (netspec.runtime.streaming)
            from .runtime.streaming import fit as fit_in_chunks

            history = fit_in_chunks(pipeline, X, y, config, verbose=0 if args.quiet else 1, stop=interrupt.requested,
                                    threads=args.threads, validation_data=validation)
        else:
            history = fit(pipeline, X, targets, config, verbose=0 if args.quiet else 1, stop=interrupt.requested,
                          threads=args.threads, validation=validation)
    _report_training(history, out)
    pipeline.spec = _rebased(pipeline.spec, args.file, out)
    pipeline.save(out)
    print(f"saved {out}")
    if args.history:
        _write_history(args.history, history)
        print(f"saved the history to {args.history}")
    if args.plot:
        from . import plot

        plot.save(plot.history(history, title=_title(pipeline.spec, args.file)), args.plot)
        print(f"saved the training curves to {args.plot}")
    return EXIT_INTERRUPTED if history.interrupted else EXIT_OK


def _validation_data(args: argparse.Namespace, pipeline: Any) -> tuple[tuple[Any, np.ndarray] | None, str | None]:
    """The rows to validate on, checked, and where they come from: ``--validation-data``,
    else the spec's ``data.validation``; ``(None, None)`` without either (then
    ``train.validation_split``, if any, holds out rows of the training data)."""
    section = api.load(pipeline.spec).data
    validation = section.validation if section is not None else None
    if args.validation_data is None and validation is None:
        return None, None
    X, y, source = _data(args.validation_data, validation, args.file, _csv_options(args), _input_names(pipeline))
    if y is None:
        raise DataError(f"the validation data {source} has no labels or targets")
    X = pipeline.checked(X)
    return (X, pipeline.targets(y, len(X))), source


def _check_train_outputs(args: argparse.Namespace, out: str, inputs: list[str]) -> None:
    from .runtime.checkpoint import is_checkpoint

    check_output(out, "checkpoint", is_kind=is_checkpoint, inputs=inputs, force=args.force)
    if args.history:
        if os.path.abspath(args.history) == os.path.abspath(out):
            raise UsageError(f"--history and --out both name {out}; give each its own file")
        _history_format(args.history)
        check_output(args.history, "history file", is_kind=_is_history, inputs=inputs + [out], force=args.force)
    if args.plot:
        if os.path.abspath(args.plot) in (os.path.abspath(out), os.path.abspath(args.history or out)):
            raise UsageError(f"--plot names {args.plot}, as --out or --history does; give each its own file")
        _check_picture(args.plot, "--plot", "picture of the training curves", inputs + [out], args.force)


def _report_training(history: Any, out: str) -> None:
    """Say how training ended (early stopping, Ctrl-C), then the final values
    of the weights kept, on the training and validation rows of each epoch."""
    if history.stopped_early:
        best = history.at(history.best_epoch)[history.monitor]
        kept = (f"the weights of epoch {history.restored_epoch} are kept" if history.restored_epoch is not None
                else "the last epoch's weights are kept")
        print(f"early stopping at epoch {history.epochs[-1]}: {history.monitor} has not improved for "
              f"{count(history.epochs[-1] - history.best_epoch, 'epoch')}; the best, {best:.6g}, was at epoch "
              f"{history.best_epoch}; {kept}")
    if history.interrupted:
        where = history.interrupted
        print(f"netspec: interrupted after batch {where['batch']} of {where['batches']} of epoch {where['epoch']}; "
              f"saving the checkpoint to {out}", file=sys.stderr)
    label = f"final (epoch {history.restored_epoch}'s weights)" if history.restored_epoch is not None else "final"
    print(f"{label}: " + " - ".join(f"{k}: {v:.6g}" for k, v in history.final().items()))


def _rebased(spec: dict, spec_file: str, out: str) -> dict:
    """``spec`` with relative data paths (of ``data`` and ``data.validation``)
    made relative to the checkpoint's folder, so that ``netspec evaluate
    MODEL.npz`` finds the same files."""
    section = spec.get("data")
    if not isinstance(section, dict):
        return spec
    return {**spec, "data": _rebased_section(section, spec_file, out)}


def _rebased_section(section: dict, spec_file: str, out: str) -> dict:
    if isinstance(section.get("validation"), dict):
        section = {**section, "validation": _rebased_section(section["validation"], spec_file, out)}
    if "path" not in section or os.path.isabs(section["path"]):
        return section
    full = os.path.join(os.path.dirname(os.path.abspath(spec_file)), section["path"])
    return {**section, "path": os.path.relpath(full, os.path.dirname(os.path.abspath(out)))}


def _data_files(spec: dict, spec_file: str) -> list[str]:
    """The data files a canonical spec's data section names (of ``data`` and
    ``data.validation``), if any: inputs not to overwrite."""
    section, files = spec.get("data"), []
    while isinstance(section, dict):
        if "path" in section:
            files.append(os.path.join(os.path.dirname(os.path.abspath(spec_file)), section["path"]))
        section = section.get("validation")
    return files


_HISTORY_FORMATS = (".csv", ".json")


def _history_format(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in _HISTORY_FORMATS:
        raise UsageError(f"--history {path}: expected a .csv or .json file name")
    return extension


def _is_history(path: str) -> bool:
    """An earlier history: a CSV whose header starts with ``epoch``, or JSON with an ``epoch`` list."""
    head = read_head(path, 256).lstrip()
    return head.startswith(b"epoch,") or head == b"epoch\n" or (head.startswith(b"{") and b'"epoch"' in head)


def _write_history(path: str, history: Any) -> None:
    if _history_format(path) == ".csv":
        write_text(path, history.as_csv())
    else:
        write_text(path, json.dumps(history.as_dict(), indent=2) + "\n")


class Interrupt:
    """Ctrl-C while training: the first asks training to stop at the end of
    the current batch (:meth:`requested` turns true), the second aborts at
    once (KeyboardInterrupt). The previous handler is back after the block.
    Outside the main thread, where signals cannot be caught, it does nothing."""

    def __init__(self) -> None:
        self.pressed = 0
        self.previous: Any = None

    def __enter__(self) -> "Interrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def requested(self) -> bool:
        return self.pressed > 0

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt
        print("\nnetspec: stopping at the end of this batch to save the checkpoint (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)


def cmd_evaluate(args: argparse.Namespace) -> int:
    pipeline = api.load_pipeline(args.checkpoint)
    X, y, source = _checkpoint_data(args, pipeline, chunked=True)
    if y is None:
        raise DataError(f"{source} has no labels or targets to evaluate against")
    import numpy as np

    if _is_chunked(X):  # summed chunk by chunk (netspec.runtime.streaming), each chunk checked at the door
        threads = _threads_for_rows(pipeline, X, args)
    else:
        X = pipeline.checked(X)
        threads = _inference_threads(pipeline, X, args)
    with threads, np.errstate(over="ignore", invalid="ignore"):
        results = pipeline.evaluate(X, y, pipeline.reported_metrics)
    bad = [name for name, value in results.items() if not math.isfinite(value)]
    if bad:
        raise DataError(f"{args.checkpoint} on {source}: the {bad[0]} is {results[bad[0]]}, not a number; the "
                        "network's outputs overflow on this data (scale the inputs as in training)")
    if args.format == "json":
        print(json.dumps(results))
    else:
        print(f"{args.checkpoint} on {source} ({count(len(X), 'sample')}):")
        for name, value in results.items():
            print(f"{name}: {value:.10g}")
    return EXIT_OK


def _checkpoint_data(args: argparse.Namespace, pipeline: Any,
                     chunked: bool = False) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``--data``, else the data section of the checkpoint's spec (relative to the checkpoint);
    with ``chunked``, data read in chunks comes as dask arrays (see :func:`_data`)."""
    if args.data is not None:
        return _data(args.data, None, args.checkpoint, _csv_options(args), _input_names(pipeline), chunked)
    section = api.load(pipeline.spec).data
    if section is None:
        raise DataError(f"{args.checkpoint} has no data section in its spec: pass --data spiral|xor|sine|PATH")
    return _data(None, section, args.checkpoint, _csv_options(args), _input_names(pipeline))


def cmd_predict(args: argparse.Namespace) -> int:
    layout = _prediction_format(args)
    if args.out:
        check_output(args.out, "predictions file", is_kind=functools.partial(_is_predictions, layout=layout),
                     inputs=[args.checkpoint, args.data], force=args.force)
    pipeline = api.load_pipeline(args.checkpoint)
    if args.proba and pipeline.task == "regression":
        raise UsageError(f"--proba needs a classifier, but {args.checkpoint} is a regression network; "
                         "its outputs are the predictions")
    if args.chunk_rows is not None or _chunked_source(args.data):
        return _predict_in_chunks(args, pipeline, layout)
    X = _inputs(args.data, pipeline, _csv_options(args))
    with _inference_threads(pipeline, X, args):
        values = probabilities(pipeline, X) if args.proba else pipeline.predict(X)
        labels = pipeline.predict(X) if args.proba and layout == "json" else None
    if args.out:
        _write_predictions(args.out, layout, values, labels, args.proba)
        print(f"wrote {count(len(values), 'prediction')} to {args.out}")
    else:
        sys.stdout.write(_predictions_text(layout, values, labels, args.proba))
    return EXIT_OK


def probabilities(pipeline: Any, X: Any) -> np.ndarray:
    """Each class's probability, (n, classes), or each output's for binary
    outputs: the network's output, through softmax or sigmoid when its loss
    takes logits."""
    import numpy as np

    output = pipeline.forward(X)
    if not getattr(pipeline.loss_function, "from_logits", False):
        return output
    if pipeline.task == "categorical":
        shifted = np.exp(output - output.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    return 1 / (1 + np.exp(-output))


_PREDICTION_FORMATS = {".npy": "npy", ".csv": "csv", ".json": "json"}


def _prediction_format(args: argparse.Namespace) -> str:
    """``text``, ``csv``, ``json`` or ``npy``: from ``--out``'s extension, else ``--format``."""
    if not args.out:
        return args.format or "text"
    layout = _PREDICTION_FORMATS.get(os.path.splitext(args.out)[1].lower())
    if layout is None:
        raise UsageError(f"--out {args.out}: expected a .npy, .csv or .json file name")
    if args.format not in (None, layout):
        raise UsageError(f"--format {args.format} does not match --out {args.out}; the file name decides")
    return layout


def _is_predictions(path: str, layout: str) -> bool:
    """An earlier predictions file of this layout: NumPy, JSON with
    ``predictions`` or ``probabilities``, or a CSV of numbers."""
    head = read_head(path, 4096)
    if layout == "npy":
        return head.startswith(b"\x93NUMPY")
    if layout == "json":
        return head.lstrip().startswith(b"{") and (b'"predictions"' in head or b'"probabilities"' in head)
    lines = head.decode("utf-8", "replace").splitlines()[:-1] or head.decode("utf-8", "replace").splitlines()
    return bool(lines) and all(_is_number_row(line) for line in lines if line.strip())


def _is_number_row(line: str) -> bool:
    try:
        [float(cell) for cell in line.split(",")]
    except ValueError:
        return False
    return True


def _predictions_text(layout: str, values: np.ndarray, labels: np.ndarray | None, proba: bool) -> str:
    import numpy as np

    if layout == "json":
        return json.dumps(_predictions_json(values, labels, proba)) + "\n"
    if layout == "csv":
        return _csv_rows(values)
    with np.printoptions(precision=8, suppress=True, linewidth=120, threshold=sys.maxsize):
        return "".join((str(row) if np.ndim(row) == 0 else " ".join(str(v) for v in row)) + "\n" for row in values)


def _predictions_json(values: np.ndarray, labels: np.ndarray | None, proba: bool) -> dict[str, Any]:
    if proba:
        return {"predictions": labels.tolist() if labels is not None else None, "probabilities": values.tolist()}
    return {"predictions": values.tolist()}


def _csv_rows(values: np.ndarray) -> str:
    fmt = "%d" if values.dtype.kind in "iu" else "%.17g"
    rows = values.reshape(len(values), -1)
    return "".join(",".join(fmt % v for v in row) + "\n" for row in rows)


def _write_predictions(path: str, layout: str, values: np.ndarray, labels: np.ndarray | None, proba: bool) -> None:
    import numpy as np

    if layout == "npy":
        write_atomically(path, lambda stream: np.save(stream, values))
    else:
        write_text(path, _predictions_text(layout, values, labels, proba))


def _inference_threads(pipeline: Any, X: Any, args: argparse.Namespace) -> Any:
    """The BLAS threads for one forward pass over ``X`` (see :mod:`netspec.runtime.threads`)."""
    from .runtime import threads as blas

    checked = pipeline.checked(X)
    work = blas.step_work(pipeline, checked, len(checked), training=False)
    return blas.blas_threads(blas.choose(work, getattr(args, "threads", None)))


# ---------------------------------------------------------------- data in chunks

JSON_ROWS = 1_000_000  # the most predictions a JSON output holds (it is built in memory)


def _chunked_source(path: str | None) -> bool:
    """Data read chunk by chunk, never whole: a folder (of .npy files; not one named like a
    data file), a .zarr store, or a .npy file larger than a data file may be
    (:data:`netspec.data.DEFAULT_MAX_BYTES`)."""
    if path is None:
        return False
    extension = os.path.splitext(path.lower().rstrip("/"))[1]
    if extension == ".zarr" or (os.path.isdir(path) and extension not in (".csv", ".npy", ".npz")):
        return True
    if path.lower().endswith(".npy") and os.path.isfile(path):
        from .data import DEFAULT_MAX_BYTES

        return os.path.getsize(path) > DEFAULT_MAX_BYTES
    return False


def _predict_in_chunks(args: argparse.Namespace, pipeline: Any, layout: str) -> int:
    """``netspec predict`` over ``--chunk-rows`` rows at a time (by default, as many as
    keep a chunk's layer outputs within 1/64 of the memory limit), with a
    progress bar on a terminal's stderr; outputs are written as the chunks
    come, into a temporary file renamed at the end."""
    from . import data
    from .runtime import streaming
    from .runtime import threads as blas

    if pipeline.input_shape is None:
        raise UsageError(f"{args.checkpoint} has several inputs, and predicting in chunks reads one input array; "
                         "give the inputs as an .npz file (without --chunk-rows)")
    source = data.open(args.data) if _chunked_source(args.data) else _inputs(args.data, pipeline, _csv_options(args))
    streaming.check_sample_shape(pipeline, tuple(source.shape), source.dtype)
    samples = int(source.shape[0])
    first = streaming.checked_rows(pipeline, streaming.read(source, 0, 1), 0)
    rows = args.chunk_rows or streaming.default_chunk_rows(pipeline, first, _limits(args).max_memory_bytes)
    if _chunked_source(args.data):
        source = data.open(args.data, chunk_rows=rows)  # chunks as the blocks read (headers only are read again)
    if layout == "json" and samples > JSON_ROWS:
        raise UsageError(f"{args.data} has {samples:,} rows; a JSON output is built in memory and holds at most "
                         f"{JSON_ROWS:,} predictions: write --out PREDS.npy or PREDS.csv, which are written chunk by chunk")

    def chunks() -> Any:
        from tqdm import tqdm

        with tqdm(total=samples, desc="predict", unit=" rows", unit_scale=True, file=sys.stderr, mininterval=0.2,
                  disable=not sys.stderr.isatty(), leave=False) as bar:
            for start, block in streaming.row_blocks(source, rows):
                X = streaming.checked_rows(pipeline, block, start)
                values = probabilities(pipeline, X) if args.proba else pipeline.predict(X)
                yield values, pipeline.predict(X) if args.proba and layout == "json" else None
                bar.update(len(block))

    with blas.blas_threads(blas.choose(blas.step_work(pipeline, first, rows, training=False), args.threads)):
        if layout == "json":
            parts = list(chunks())
            values, labels = _joined(parts, 0), _joined(parts, 1)
            if args.out:
                _write_predictions(args.out, layout, values, labels, args.proba)
            else:
                sys.stdout.write(_predictions_text(layout, values, labels, args.proba))
        elif args.out:
            write_atomically(args.out, functools.partial(_write_chunks, layout, samples, chunks()))
        else:
            for values, labels in chunks():
                sys.stdout.write(_predictions_text(layout, values, labels, args.proba))
    if args.out:
        print(f"wrote {count(samples, 'prediction')} to {args.out}")
    return EXIT_OK


def _threads_for_rows(pipeline: Any, X: Any, args: argparse.Namespace) -> Any:
    """The BLAS threads for inference over ``X`` read chunk by chunk: as for one chunk of its rows."""
    from .runtime import streaming
    from .runtime import threads as blas

    first = streaming.checked_rows(pipeline, streaming.read(X, 0, 1), 0)
    rows = int(X.chunks[0][0]) if X.chunks and X.chunks[0] else 1
    return blas.blas_threads(blas.choose(blas.step_work(pipeline, first, rows, training=False), args.threads))


def _is_chunked(X: Any) -> bool:
    """True for data read chunk by chunk (a dask array), which is never loaded whole."""
    return type(X).__module__.startswith("dask.")


def _joined(parts: list[tuple[Any, Any]], index: int) -> Any:
    import numpy as np

    return np.concatenate([part[index] for part in parts]) if parts[0][index] is not None else None


def _write_chunks(layout: str, samples: int, chunks: Any, stream: Any) -> None:
    """Write predictions chunk by chunk: a ``.npy`` header for ``samples`` rows
    (shape and dtype from the first chunk), then each chunk's bytes; or CSV rows."""
    from numpy.lib import format as npy_format

    for number, (values, _) in enumerate(chunks):
        if layout == "csv":
            stream.write(_csv_rows(values).encode("utf-8"))
            continue
        if number == 0:
            header = {"descr": npy_format.dtype_to_descr(values.dtype), "fortran_order": False,
                      "shape": (samples, *values.shape[1:])}
            try:
                npy_format.write_array_header_1_0(stream, header)
            except ValueError:  # a header over 64 KiB
                npy_format.write_array_header_2_0(stream, header)
        stream.write(values.tobytes(order="C"))


# ---------------------------------------------------------------- sweep

def cmd_sweep(args: argparse.Namespace) -> int:
    from . import sweeps

    _check_sweep_usage(args)
    check_output_folder(args.out, "sweep")
    report = _checked(args.base, args)
    if report is None:
        return EXIT_INVALID
    grid = _grid(args.grid, sweeps.load_grid)
    if grid is None:
        return EXIT_INVALID
    base_dir = os.path.dirname(os.path.abspath(args.base))
    plan = sweeps.Sweep(report.spec, grid, samples=args.samples, seed=args.seed, base_dir=base_dir)
    data = sweeps.DataSource.of(args.data, base_dir, _csv_options(args)) if args.train else None
    training = sweeps.training_identity(data, args.epochs) if args.train else None
    resumed = None
    if os.path.isdir(args.out) and not args.force:
        folder = sweeps.Folder(args.out, grid, data_dir=base_dir)
        resumed = folder.continuing(plan, training)
        if resumed is None and _has_other_files(args.out):
            other = [SWEEP_PARTS[key] for key in folder.differences(plan, training)]
            held = f", with another sweep (other {' and '.join(dict.fromkeys(other))})" if other else ""
            print(f"netspec: {args.out} is not empty{held}; pass --force to write into it", file=sys.stderr)
            return EXIT_INVALID
    total = len(plan)
    if total > args.max_variants:
        print(f"netspec: the grid makes {total:,} variants, more than --max-variants {args.max_variants:,}; "
              "draw some with --samples N, or raise --max-variants", file=sys.stderr)
        return EXIT_INVALID
    plan = resumed or plan
    variants = list(plan)
    if args.train:
        _check_metric(args.metric, variants)
        inputs = list(api.infer(report.spec).input_shapes)
        # unusable data stops the sweep here, before anything is written
        _data(args.data, report.spec.data, args.base, _csv_options(args), inputs if len(inputs) > 1 else None)
    return _write_sweep(args, plan, variants, data, training, resume=resumed is not None)


SWEEP_PARTS = {"base": "base spec", "grid": "grid", "samples": "draw", "seed": "draw", "train": "data or epochs"}


def _check_sweep_usage(args: argparse.Namespace) -> None:
    if not args.train and (args.data or args.metric or args.epochs or args.workers > 1 or args.scheduler):
        raise UsageError("--data, --metric, --epochs, --workers and --scheduler go with --train")
    if args.seed is not None and args.samples is None:
        raise UsageError("--seed goes with --samples")
    if args.scheduler and args.workers > 1:
        raise UsageError("--workers starts a local cluster and --scheduler names an existing one; give one of them")


def _grid(path: str, load_grid: Callable[[Path], dict]) -> dict | None:
    try:
        return load_grid(Path(path))
    except SpecError as exc:
        printer = Printer(sys.stderr)
        for d in exc.diagnostics:
            printer.diagnostic(d, None, path)
        return None


def _has_other_files(folder: str) -> bool:
    return os.path.isdir(folder) and any(not is_temporary(name) for name in os.listdir(folder))


def _check_metric(metric: str | None, variants: list[Any]) -> None:
    """A UsageError when no valid variant measures ``metric`` (before any training)."""
    from .sweeps import measured_by

    measured = set().union(*(measured_by(v.spec) for v in variants if v.ok))
    if metric is not None and measured and metric not in measured:
        hint = " (val_ values need train.validation_split)" if metric.startswith("val_") else ""
        raise UsageError(f"--metric {metric}: no variant measures it{hint}; they measure "
                         f"{', '.join(sorted(measured))}")


def _write_sweep(args: argparse.Namespace, plan: Any, variants: list[Any], data: Any, training: dict | None, *,
                 resume: bool) -> int:
    """Write (and train) every variant: in this process, the index grows as they are written; on a
    cluster, every variant is written, then results.csv grows as they finish."""
    from . import sweeps

    folder = sweeps.Folder(args.out, plan.grid, data_dir=plan.base_dir)
    where = {"workers": args.workers, "scheduler": args.scheduler, "epochs": args.epochs, "limits": _limits(args),
             "threads": args.threads, "progress": sys.stderr.isatty()} if args.train else {}
    try:
        metric = folder.fill(plan, variants, data, training, resume=resume, metric=args.metric, **where)
    except KeyboardInterrupt:
        trained = f" ({count(len(folder.results), 'variant')} trained)" if args.train else ""
        print(f"netspec: interrupted after {count(len(folder.entries), 'variant')} of {len(variants):,}{trained}; "
              f"{args.out}/index.csv lists them" + (f", {args.out}/results.csv those trained; run the same command "
                                                    "again to go on" if args.train else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    return _sweep_summary(args, folder, metric)


def _sweep_summary(args: argparse.Namespace, folder: Folder, metric: str | None) -> int:
    entries = folder.entries
    invalid = sum(entry["status"] != "ok" for entry in entries)
    print(f"{args.out}: {count(len(entries), 'variant')}, {len(entries) - invalid} valid, {invalid} invalid"
          f" (index.csv{', results.csv' if metric else ''})")
    if folder.kept:
        print(f"went on from the earlier run: {count(folder.kept, 'variant')} kept, "
              f"{len(folder.results) - folder.kept:,} trained now")
    if not metric:
        return EXIT_OK
    print(folder.table(metric))
    failed = sum(not r.ok for r in folder.results)
    if failed:
        print(f"{count(failed, 'variant')} failed to train; the reasons are in {args.out}/results.csv "
              "(column error)", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


# ---------------------------------------------------------------- pictures

def cmd_draw(args: argparse.Namespace) -> int:
    _check_picture(args.out, "--out", "network drawing", [args.file], args.force)
    report = _checked(args.file, args)
    if report is None:
        return EXIT_INVALID
    from . import plot

    figure = plot.network(report.spec, ignore=args.ignore, limits=_limits(args),
                          title=_title({"name": report.spec.name}, args.file))
    plot.save(figure, args.out)
    print(f"wrote {args.out}: {count(len(report.spec.layers), 'layer')}, "
          f"{report.shapes.total_parameters:,} parameters")
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from . import plot

    _check_picture(args.out, "--out", "decision regions", [args.checkpoint] + ([args.data] if args.data else []),
                   args.force)
    pipeline = api.load_pipeline(args.checkpoint)
    plot.check_two_features(pipeline)
    X, y, source = _checkpoint_data(args, pipeline)
    with _inference_threads(pipeline, X, args):
        figure = plot.decision_boundary(pipeline, X, y, title=_title(pipeline.spec, args.checkpoint))
    plot.save(figure, args.out)
    print(f"wrote {args.out}: {args.checkpoint} on {source} ({count(len(X), 'sample')})")
    return EXIT_OK


def _check_picture(path: str, option: str, what: str, inputs: list[str], force: bool) -> None:
    """Before any work: a picture's file name, matplotlib, and the place to write it."""
    from . import plot

    try:
        plot.picture_format(path)
    except plot.PlotError:
        raise UsageError(f"{option} {path}: expected a .png, .svg or .pdf file name") from None
    try:
        plot.require_matplotlib()
    except ImportError:
        raise NetspecError(f"drawing needs the matplotlib package, which is not installed: {plot.INSTALL}") from None
    check_output(path, what, is_kind=plot.is_picture, inputs=inputs, force=force)


def _title(spec: dict, file: str) -> str:
    """A picture's title: the spec's name, else the file's."""
    return spec.get("name") or os.path.splitext(os.path.basename(file))[0]


# ---------------------------------------------------------------- data

def _compiled_with_data(args: argparse.Namespace, chunked: bool = False) -> tuple[Any, Any, Any, str] | None:
    """Validate and compile ``args.file`` and load its data (``--data`` or the
    spec's data section): ``(pipeline, X, y, source)``, or None when the spec
    is invalid (its diagnostics printed). With ``chunked``, data read in
    chunks (:func:`_chunked_source`) comes as lazy dask arrays, unchecked."""
    from .runtime.checks import check_forward_memory

    report = _checked(args.file, args)
    if report is None:
        return None
    pipeline = api.compile(report.spec, limits=_limits(args))
    X, y, source = _data(args.data, report.spec.data, args.file, _csv_options(args), _input_names(pipeline), chunked)
    if _is_chunked(X):
        return pipeline, X, y, source
    X = pipeline.checked(X)  # at the door: several inputs become one batch whose len() is the samples
    check_forward_memory(len(X), report.shapes.widths, report.spec.dtype, _limits(args).max_memory_bytes, source)
    return pipeline, X, y, source


def _input_names(pipeline: Any) -> list[str] | None:
    """The names of a network's inputs when it has several (a data file then holds one array per name)."""
    return list(pipeline.input_shapes) if pipeline.input_shape is None else None


def _data(name: str | None, section: Any, spec_file: str, csv: dict[str, Any],
          inputs: list[str] | None = None, chunked: bool = False) -> tuple[Any, np.ndarray | None, str]:
    """``(X, y, description)`` from ``--data`` or else the spec's data section;
    ``csv`` holds the CSV options given on the command line, ``inputs`` the
    names of a network's several inputs (X is then a dict of arrays). Data
    read in chunks comes as dask arrays when ``chunked``, else is refused."""
    from . import data

    files = {**csv, **({"inputs": inputs} if inputs else {})}
    if name is not None:
        if name.lower() in data.DATASETS:
            if csv:
                raise UsageError(f"--{next(iter(csv)).replace('_', '-')} applies to data files, not to the "
                                 f"built-in dataset {name}")
            return (*data.resolve(name, **({"seed": 0} if name.lower() == "spiral" else {})), name)
        if _chunked_source(name):
            if not chunked:
                raise DataError(f"--data {name} is read in chunks, which only train, evaluate and predict do; "
                                "give this command a data file of at most 1 GiB")
            if csv:
                raise UsageError(f"--{next(iter(csv)).replace('_', '-')} applies to CSV files, not to {name}")
            return (*data.open_pair(name), name)
        return (*data.resolve(name, **files), name)
    if section is None:
        raise DataError(f"{spec_file} has no data section: pass --data spiral|xor|sine|PATH")
    if csv and not isinstance(section, FileData):
        raise UsageError(f"--{next(iter(csv)).replace('_', '-')} applies to data files, but the data section of "
                         f"{spec_file} is the built-in dataset {section.dataset}")
    X, y = data.from_section(section, os.path.dirname(os.path.abspath(spec_file)), **files)
    return X, y, getattr(section, "dataset", None) or section.path


def _csv_options(args: argparse.Namespace) -> dict[str, Any]:
    """The CSV options given (``label``, ``header``, ``delimiter``), for :func:`netspec.data.load`."""
    options = {}
    if getattr(args, "label", None) is not None:
        options["label"] = args.label
    if getattr(args, "header", None) is not None:
        options["header"] = args.header
    if getattr(args, "delimiter", None) is not None:
        options["delimiter"] = args.delimiter
    return options


def _inputs(path: str, pipeline: Any, csv: dict[str, Any]) -> Any:
    """Inputs for prediction: a file's arrays (one per input name for a network
    with several), or a CSV's columns without its label column: the one
    ``--label`` names, or a trailing one when the file has one column more
    than the network takes."""
    from . import data

    inputs = _input_names(pipeline)
    if inputs is not None:
        return data.load(path, inputs=inputs, **csv)[0]
    if not path.lower().endswith(".csv") or "label" in csv:
        return data.load(path, **csv)[0]
    X, _ = data.load(path, **{**csv, "label": False})
    return X[:, :-1] if X.ndim == 2 and X.shape[1] == pipeline.input_features + 1 else X


def _checked(file: str, args: argparse.Namespace) -> api.Report | None:
    """Validate ``file``; print its diagnostics; the report when it is usable."""
    report = api.validate(Path(file), strict=getattr(args, "strict", False), ignore=getattr(args, "ignore", ()),
                          limits=_limits(args))
    printer = Printer(sys.stderr)
    for d in report.diagnostics:
        printer.diagnostic(d, report, file)
    return report if report.ok else None


def _limits(args: argparse.Namespace) -> Limits:
    overrides = {name: getattr(args, name) for name in ("max_parameters", "max_file_bytes")
                 if getattr(args, name, None) is not None}
    return Limits(**{**DEFAULT_LIMITS.__dict__, **overrides})


# ---------------------------------------------------------------- parser

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _upper_bound(model: Any, field: str) -> int:
    """The ``le`` bound of a spec field, so the command line and the spec share one limit."""
    return next(m.le for m in model.model_fields[field].metadata if getattr(m, "le", None) is not None)


MAX_EPOCHS = _upper_bound(Train, "epochs")


def _epochs(text: str) -> int:
    """Like ``train.epochs`` in a spec: a positive integer up to its limit."""
    value = _positive_int(text)
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_EPOCHS:,} epochs (the limit of train.epochs), "
                                         f"got {text}")
    return value


def _scheduler(text: str) -> str:
    """A Dask scheduler's address: ``[PROTOCOL://]HOST:PORT`` (tcp unless said)."""
    match = re.fullmatch(r"(?:(tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):(\d{1,5})", text)
    if match is None or not 0 < int(match[3]) < 65536:
        raise argparse.ArgumentTypeError(f"expected a scheduler address such as tcp://127.0.0.1:8786, got {text!r}")
    return text if match[1] else "tcp://" + text


def _label(text: str) -> str | int:
    """A CSV label column: an index (``0``, ``-1``) or a header name."""
    try:
        return int(text)
    except ValueError:
        return text


def _delimiter(text: str) -> str:
    value = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or tab), got {text!r}")
    return value


_KIND_NAMES = {**{kind: kind for kind in KINDS}, **{kind + "s": kind for kind in KINDS},
               "losses": "loss", "activations": "activation"}


def _kind(text: str) -> str:
    """A component kind, singular or plural, any case: ``layers`` is ``layer``."""
    kind = _KIND_NAMES.get(text.lower())
    if kind is None:
        close = did_you_mean(text.lower(), list(_KIND_NAMES))
        raise argparse.ArgumentTypeError(f"unknown kind {text!r}" + (f"; {close}" if close else "")
                                         + f" (kinds: {', '.join(k + 's' if k != 'loss' else 'losses' for k in KINDS)})")
    return kind


def _warning_code(text: str) -> str:
    """A code ``--ignore`` can silence: a lint's, not an error's, nor a typo."""
    if text in LINTS:
        return text
    if text in CODES:
        raise argparse.ArgumentTypeError(f"{text!r} is an error, not a warning; only warnings can be ignored")
    close = did_you_mean(text, LINTS)
    raise argparse.ArgumentTypeError(f"unknown warning code {text!r}" + (f"; {close}" if close else "")
                                     + f" (warnings: {', '.join(LINTS)})")


def _common_options() -> dict[str, argparse.ArgumentParser]:
    """Option groups shared by several commands: checking a spec, reading data, and computing."""
    checking = argparse.ArgumentParser(add_help=False)
    checking.add_argument("--strict", action="store_true", help="treat warnings as errors")
    checking.add_argument("--ignore", action="append", default=[], metavar="CODE", type=_warning_code,
                          help="silence the warning with this code (repeatable; see docs/errors.md)")
    checking.add_argument("--max-parameters", type=_positive_int, metavar="N",
                          help=f"parameter budget (default {DEFAULT_LIMITS.max_parameters:,})")
    checking.add_argument("--max-file-bytes", type=_positive_int, metavar="N",
                          help=f"largest spec file read (default {DEFAULT_LIMITS.max_file_bytes:,})")

    csv = argparse.ArgumentParser(add_help=False)
    group = csv.add_argument_group("CSV data files")
    group.add_argument("--label", type=_label, metavar="COLUMN", default=None,
                       help="the label column: a header name or an index, 0-based, negative from the end "
                            "(default: the spec's data.label, else the last column)")
    group.add_argument("--no-label", dest="label", action="store_false", default=None,
                       help="every column is a feature (no labels); the last of --label and --no-label counts")
    group.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                       help="the first row is (--header) or is not (--no-header) a header; "
                            "default: a header when none of its cells is a number")
    group.add_argument("--delimiter", type=_delimiter, metavar="CHAR", help="the cell separator (default ',')")

    computing = argparse.ArgumentParser(add_help=False)
    computing.add_argument("--threads", type=_positive_int, metavar="N",
                           help=f"BLAS threads (default: ${THREADS_VARIABLE}, else one for every 10^9 "
                                "multiply-adds of a step, up to every core)")
    return {"checking": checking, "csv": csv, "computing": computing}


DATA_HELP = ("a built-in dataset (spiral, xor, and, or, nand, sine, shapes, waves, book_spiral, vertical) or a "
             ".csv/.npy/.npz file; default: the spec's data section")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netspec", description="Describe a neural network as data: validate it, inspect it, run it.")
    parser.add_argument("--version", action="version", version=f"netspec {_version()}",
                        help="print netspec's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    _add_inspecting(commands, common)
    _add_computing(commands, common)
    _add_sweep(commands, common)
    add_interop_commands(commands, Printer, UsageError)
    return parser


def _add_inspecting(commands: Any, common: dict) -> None:
    checking = common["checking"]
    p = commands.add_parser("validate", parents=[checking], help="check spec files; print every problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="spec files (.json, .yaml, .yml)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json for tools")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("summary", parents=[checking], help="table of layers, shapes and parameters")
    p.add_argument("file", metavar="FILE", help="a spec file")
    p.add_argument("--format", choices=("text", "json"), default="text", help="a table, or json with shapes as lists")
    p.set_defaults(run=cmd_summary)

    p = commands.add_parser("draw", parents=[checking], help="draw a spec's network: a box per layer, arrows "
                            "for the data flow, warnings marked (needs netspec[plot])")
    p.add_argument("file", metavar="FILE", help="a spec file")
    p.add_argument("--out", required=True, metavar="NET.(svg|png|pdf)", help="the picture to write")
    p.add_argument("--force", action="store_true", help="write over the spec or a file that is not a picture")
    p.set_defaults(run=cmd_draw)

    p = commands.add_parser("schema", help="print the JSON Schema of the spec language")
    p.set_defaults(run=cmd_schema)

    p = commands.add_parser("list", help="the registered components (built-ins and plugins) and their options")
    p.add_argument("kind", nargs="?", type=_kind, metavar="KIND",
                   help="only this kind: layers, activations, losses, initializers or optimizers")
    p.set_defaults(run=cmd_list)

    p = commands.add_parser("check-gradients", help="compare components' backward passes with finite differences")
    p.add_argument("names", nargs="*", metavar="NAME", help="components to check (default: every layer and loss)")
    p.set_defaults(run=cmd_check_gradients)


def _add_computing(commands: Any, common: dict) -> None:
    checking, csv, computing = common["checking"], common["csv"], common["computing"]
    p = commands.add_parser("run", parents=[checking, csv, computing],
                            help="compile a spec and run a forward pass on data")
    p.add_argument("file", metavar="FILE", help="a spec file")
    p.add_argument("--data", metavar="NAME|PATH", help=DATA_HELP)
    p.add_argument("--rows", type=_positive_int, default=5, help="how many outputs to print (default 5)")
    p.set_defaults(run=cmd_run)

    p = commands.add_parser("train", parents=[checking, csv, computing],
                            help="train a spec on data and save a checkpoint")
    p.add_argument("file", metavar="FILE", help="a spec file")
    p.add_argument("--data", metavar="NAME|PATH", help=DATA_HELP)
    p.add_argument("--validation-data", metavar="NAME|PATH",
                   help="validate on this dataset or file each epoch (default: the spec's data.validation; "
                        "either replaces train.validation_split)")
    p.add_argument("--epochs", type=_epochs, metavar="N",
                   help=f"override the spec's train.epochs (at most {MAX_EPOCHS:,})")
    p.add_argument("--out", metavar="MODEL.npz", help="checkpoint to write (default: FILE's name with .npz, here)")
    p.add_argument("--history", metavar="HISTORY.(csv|json)", help="also write each epoch's loss and metrics here")
    p.add_argument("--plot", metavar="CURVES.(png|svg|pdf)",
                   help="also draw the loss, metrics and learning rate per epoch here (needs netspec[plot])")
    p.add_argument("--force", action="store_true",
                   help="write over an input or an existing file that is not a checkpoint (or history)")
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("evaluate", parents=[csv, computing], help="loss and metrics of a saved checkpoint on data")
    p.add_argument("checkpoint", metavar="MODEL.npz", help="a checkpoint written by netspec train")
    p.add_argument("--data", metavar="NAME|PATH",
                   help="a built-in dataset or a data file (default: the data section of the checkpoint's spec)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json for tools")
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser("predict", parents=[csv, computing], help="predictions of a saved checkpoint")
    p.add_argument("checkpoint", metavar="MODEL.npz", help="a checkpoint written by netspec train")
    p.add_argument("--data", required=True, metavar="X.(npy|csv|npz|zarr)|DIR",
                   help="inputs to predict: a data file, a .zarr store or a folder of .npy files (rows in name order)")
    p.add_argument("--out", metavar="PREDS.(npy|csv|json)", help="write predictions here instead of printing them")
    p.add_argument("--format", choices=("text", "csv", "json"),
                   help="how to print them (default text; with --out, the file name's extension decides)")
    p.add_argument("--proba", action="store_true",
                   help="each class's probability instead of the predicted class (classifiers only)")
    p.add_argument("--force", action="store_true", help="write over an input or a file that holds no predictions")
    p.add_argument("--chunk-rows", type=_positive_int, metavar="N",
                   help="predict N rows at a time (default: as many as keep a chunk's layer outputs within 1/64 of "
                        "the memory limit); a folder of .npy files, a .zarr store and a .npy over 1 GiB are always "
                        "read in chunks")
    p.set_defaults(run=cmd_predict)

    p = commands.add_parser("plot", parents=[csv, computing], help="draw the decision regions of a checkpoint with "
                            "two input features, its data on top (needs netspec[plot])")
    p.add_argument("checkpoint", metavar="MODEL.npz", help="a checkpoint written by netspec train")
    p.add_argument("--data", metavar="NAME|PATH",
                   help="a built-in dataset or a data file (default: the data section of the checkpoint's spec)")
    p.add_argument("--out", required=True, metavar="REGIONS.(png|svg|pdf)", help="the picture to write")
    p.add_argument("--force", action="store_true", help="write over an input or a file that is not a picture")
    p.set_defaults(run=cmd_plot)


def _add_sweep(commands: Any, common: dict) -> None:
    p = commands.add_parser("sweep", parents=[common["checking"], common["csv"], common["computing"]],
                            help="write the variants of a spec over a grid of values; optionally train them")
    p.add_argument("base", metavar="BASE", help="the base spec (.json, .yaml)")
    p.add_argument("grid", metavar="GRID", help='paths → lists of values (.json, .yaml): {"layers[0].neurons": [16, 32]}')
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for variant-NNNN.json (one per valid variant), index.csv, index.json and sweep.json; "
                        "a DIR holding a run of the same sweep is continued (variants trained ok are kept)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty DIR (files of an earlier sweep there are removed first, "
                        "even a run of the same sweep)")
    p.add_argument("--samples", type=_positive_int, metavar="N", help="N distinct combinations drawn at random")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the draw (default: a different draw each run)")
    p.add_argument("--max-variants", type=_positive_int, metavar="N", default=DEFAULT_LIMITS.max_variants,
                   help=f"refuse a sweep of more variants (default {DEFAULT_LIMITS.max_variants:,})")
    p.add_argument("--train", action="store_true", help="train each valid variant; write results.csv, best first")
    p.add_argument("--data", metavar="NAME|PATH", help=DATA_HELP)
    p.add_argument("--metric", choices=("loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"),
                   help="sort the results by this (default: val_loss when measured, else loss)")
    p.add_argument("--epochs", type=_epochs, metavar="N",
                   help="train for N epochs instead of each variant's train.epochs (the written specs keep theirs)")
    p.add_argument("--workers", type=_positive_int, metavar="N", default=1,
                   help="train N variants at a time on a local Dask cluster of N processes (default 1: one after "
                        "another in this process; needs netspec[dask])")
    p.add_argument("--scheduler", type=_scheduler, metavar="tcp://HOST:PORT",
                   help="train on the existing Dask cluster whose scheduler is at this address")
    p.set_defaults(run=cmd_sweep)


def _version() -> str:
    from . import __version__

    return __version__


# ---------------------------------------------------------------- running a command

class QuietPipe:
    """A text stream that goes quiet when its reader has gone: after the first
    write to a closed pipe (``netspec train … | head -1``), the file
    descriptor is pointed at the null device, so the command finishes its work
    and exits without an error, and Python's flush at exit has nothing to complain about."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._silence()

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _silence(self) -> None:
        self.gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netspec`` console script: loads plugins, then runs a command."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = QuietPipe(sys.stdout), QuietPipe(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


def _check_threads(args: argparse.Namespace) -> None:
    """A bad ``NETSPEC_THREADS`` is a usage error, said before any work."""
    if hasattr(args, "threads"):
        from .runtime import threads as blas

        try:
            blas.requested(args.threads)
        except NetspecError as exc:
            raise UsageError(str(exc)) from None


def _main(argv: Sequence[str] | None) -> int:
    for plugin in load_plugins():
        if not plugin.ok:
            print(f"netspec: warning: plugin {plugin.name} ({plugin.value}) failed to load: {plugin.error}",
                  file=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        _check_threads(args)
        return args.run(args)
    except UsageError as exc:
        print(f"netspec {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NetspecError as exc:
        print(f"netspec: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"netspec: {exc.strerror or exc}: {exc.filename}" if exc.filename else f"netspec: {exc}",
              file=sys.stderr)
        return EXIT_INVALID
    except MemoryError as exc:
        print(f"netspec: out of memory: {exc or 'an allocation failed'}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("netspec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
