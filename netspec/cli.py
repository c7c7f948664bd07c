"""The ``netspec`` command: a thin shell over the Python API.

Exit codes: 0 success, 1 an invalid spec or bad data (with every diagnostic
printed), 2 a usage error. Bad input never produces a traceback.

The commands that only look at specs (``validate``, ``summary``, ``schema``,
``list``) never import NumPy or the runtime, so editors and pre-commit hooks
get their answer at Python's start-up cost; the others import what they use.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from . import api
from .check import did_you_mean
from .codes import CODES
from .errors import DataError, Diagnostic, NetspecError, SpecError
from .files import write_atomically
from .limits import DEFAULT_LIMITS, Limits
from .lints import LINTS
from .plugins import load_plugins
from .registry import KINDS, REGISTRY, format_shape
from .schema import json_schema_text

if TYPE_CHECKING:
    import numpy as np

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class Printer:
    """Writes diagnostics as ``FILE:LINE:COL: PATH: message``, then the source
    line with a caret under the column, then the hint; colour on a terminal only."""

    def __init__(self, stream: TextIO, color: bool | None = None):
        self.stream = stream
        self.color = _wants_color(stream) if color is None else color

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def diagnostic(self, d: Diagnostic, report: api.Report | None, file: str) -> None:
        place = ":".join(str(p) for p in (d.file or file, d.line, d.column) if p is not None)
        label = self.paint("error", "1;31") if d.is_error else self.paint("warning", "1;33")
        print(f"{place}: {d.where}: {label}: {d.message} [{d.code}]", file=self.stream)
        line = report.document.line_text(d.line) if report and report.document and d.line else None
        if line is not None:
            print(f"    {line}", file=self.stream)
            print("    " + " " * (max(d.column or 1, 1) - 1) + self.paint("^", "1;32"), file=self.stream)
        if d.hint:
            print(f"    {self.paint('hint', '1;36')}: {d.hint}", file=self.stream)


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


# ---------------------------------------------------------------- commands

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
                note = f" ({len(report.warnings)} warning{'s' * (len(report.warnings) != 1)})" if report.warnings else ""
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

    reports = check_all(args.names)
    for report in reports:
        print(report)
    failed = [r.name for r in reports if not r.ok]
    if failed:
        print(f"wrong gradients: {', '.join(failed)}", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    prepared = _compiled_with_data(args)
    if prepared is None:
        return EXIT_INVALID
    pipeline, X, y, source = prepared
    output = pipeline.forward(X)
    each = format_shape(output.shape[1:])
    print(f"{args.file}: forward pass on {source}: {len(X)} samples → {each} output{'s' * (each != '1')} each")
    if pipeline.loss_function is not None and y is not None:
        for name, value in pipeline.evaluate(X, y, pipeline.reported_metrics).items():
            print(f"{name}: {value:.10g}")
    rows = min(args.rows, len(output))
    print(f"first {rows} outputs:")
    with np.printoptions(precision=8, suppress=True, linewidth=120):
        print(output[:rows])
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    prepared = _compiled_with_data(args)
    if prepared is None:
        return EXIT_INVALID
    pipeline, X, y, source = prepared
    if y is None:
        raise DataError(f"{source} has no labels or targets to train on")
    if not args.quiet:
        print(pipeline.summary())
        print(f"training on {source}: {len(X)} samples, optimizer {pipeline.optimizer!r}")
    overrides = {"epochs": args.epochs} if args.epochs is not None else {}
    history = pipeline.fit(X, y, verbose=0 if args.quiet else 1, **overrides)
    final = pipeline.evaluate(X, y, pipeline.reported_metrics)
    final.update({k: v for k, v in history.last().items() if k.startswith("val_")})
    print("final: " + " - ".join(f"{k}: {v:.6g}" for k, v in final.items()))
    out = args.out or (os.path.splitext(os.path.basename(args.file))[0] + ".npz")
    pipeline.save(out)
    print(f"saved {out}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    pipeline = api.load_pipeline(args.checkpoint)
    X, y, source = _data(args.data, None, args.checkpoint)
    if y is None:
        raise DataError(f"{source} has no labels or targets to evaluate against")
    results = pipeline.evaluate(X, y, pipeline.reported_metrics)
    if args.format == "json":
        print(json.dumps(results))
    else:
        print(f"{args.checkpoint} on {source} ({len(X)} samples):")
        for name, value in results.items():
            print(f"{name}: {value:.10g}")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    pipeline = api.load_pipeline(args.checkpoint)
    X = _inputs(args.data, pipeline.input_features)
    predictions = pipeline.predict(X)
    if args.out:
        _write_predictions(args.out, predictions)
        print(f"wrote {len(predictions)} predictions to {args.out}")
    else:
        with np.printoptions(precision=8, suppress=True, linewidth=120, threshold=sys.maxsize):
            for row in predictions:
                print(row if np.ndim(row) == 0 else " ".join(str(v) for v in row))
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweeps import Folder, load_grid, sweep, train_variant

    if not args.train and (args.data or args.metric or args.epochs):
        print("netspec sweep: --data, --metric and --epochs go with --train", file=sys.stderr)
        return EXIT_USAGE
    if args.seed is not None and args.samples is None:
        print("netspec sweep: --seed goes with --samples", file=sys.stderr)
        return EXIT_USAGE
    report = _checked(args.base, args)
    if report is None:
        return EXIT_INVALID
    try:
        grid = load_grid(args.grid)
    except SpecError as exc:
        printer = Printer(sys.stderr)
        for d in exc.diagnostics:
            printer.diagnostic(d, None, args.grid)
        return EXIT_INVALID
    if os.path.isdir(args.out) and os.listdir(args.out) and not args.force:
        print(f"netspec: {args.out} is not empty; pass --force to write into it", file=sys.stderr)
        return EXIT_INVALID
    loaded = functools.cache(lambda section: _data(args.data, section, args.base)[:2])

    def data_of(spec: Any) -> tuple[np.ndarray, np.ndarray | None]:
        return loaded(None if args.data else spec.data)

    if args.train:
        data_of(report.spec)  # unusable data stops the sweep here, before anything is written
    folder = Folder(args.out, grid, data_dir=os.path.dirname(os.path.abspath(args.base)))
    folder.clear()
    invalid = 0
    for variant in sweep(report.spec, grid, samples=args.samples, seed=args.seed):
        folder.add(variant)
        invalid += not variant.ok
        if args.train and variant.ok:
            folder.add_result(train_variant(variant, data_of, epochs=args.epochs, limits=_limits(args)))
    metric = folder.finish(args.metric)
    count = len(folder.entries)
    print(f"{args.out}: {count} variant{'s' * (count != 1)}, {count - invalid} valid, {invalid} invalid"
          f" (index.csv{', results.csv' if metric else ''})")
    if metric:
        failed = sum(not r.ok for r in folder.results)
        print(folder.table(metric) + (f"\n{failed} variant{'s' * (failed != 1)} failed to train" if failed else ""))
    return EXIT_OK


def _compiled_with_data(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray | None, str] | None:
    """Validate and compile ``args.file`` and load its data (``--data`` or the
    spec's data section): ``(pipeline, X, y, source)``, or None when the spec
    is invalid (its diagnostics printed)."""
    report = _checked(args.file, args)
    if report is None:
        return None
    pipeline = api.compile(report.spec, limits=_limits(args))
    X, y, source = _data(args.data, report.spec.data, args.file)
    from .runtime.checks import check_forward_memory

    check_forward_memory(len(X), report.shapes.widths, report.spec.dtype, _limits(args).max_memory_bytes, source)
    return pipeline, X, y, source


def _data(name: str | None, section: Any, spec_file: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(X, y, description)`` from ``--data`` or else the spec's data section."""
    from . import data

    if name is not None:
        options = {"seed": 0} if name.lower() == "spiral" else {}
        X, y = data.resolve(name, **options)
        return X, y, name
    if section is None:
        raise DataError(f"{spec_file} has no data section: pass --data spiral|xor|sine|PATH")
    X, y = data.from_section(section, os.path.dirname(os.path.abspath(spec_file)))
    return X, y, getattr(section, "dataset", None) or section.path


def _inputs(path: str, features: int) -> np.ndarray:
    """Inputs for prediction: a file's columns, without a trailing label column if it has one."""
    from . import data

    X, _ = data.load(path, label=False) if path.lower().endswith(".csv") else data.load(path)
    if X.ndim == 2 and X.shape[1] == features + 1 and path.lower().endswith(".csv"):
        X = X[:, :-1]
    return X


def _write_predictions(path: str, predictions: np.ndarray) -> None:
    import numpy as np

    lower = path.lower()
    if lower.endswith(".npy"):
        write_atomically(path, lambda stream: np.save(stream, predictions))
    elif lower.endswith(".csv"):
        fmt = "%d" if predictions.dtype.kind in "iu" else "%.17g"
        rows = predictions.reshape(len(predictions), -1)
        write_atomically(path, lambda stream: np.savetxt(stream, rows, delimiter=",", fmt=fmt))
    else:
        raise DataError(f"--out {path}: expected a .npy or .csv file name")


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


def _warning_code(text: str) -> str:
    """A code ``--ignore`` can silence: a lint's, not an error's, nor a typo."""
    if text in LINTS:
        return text
    if text in CODES:
        raise argparse.ArgumentTypeError(f"{text!r} is an error, not a warning; only warnings can be ignored")
    close = did_you_mean(text, LINTS)
    raise argparse.ArgumentTypeError(f"unknown warning code {text!r}" + (f"; {close}" if close else "")
                                     + f" (warnings: {', '.join(LINTS)})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netspec", description="Describe a neural network as data: validate it, inspect it, run it.")
    parser.add_argument("--version", action="version", version=f"netspec {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    checking = argparse.ArgumentParser(add_help=False)
    checking.add_argument("--strict", action="store_true", help="treat warnings as errors")
    checking.add_argument("--ignore", action="append", default=[], metavar="CODE", type=_warning_code,
                          help="silence the warning with this code (repeatable; see docs/errors.md)")
    checking.add_argument("--max-parameters", type=_positive_int, metavar="N",
                          help=f"parameter budget (default {DEFAULT_LIMITS.max_parameters:,})")
    checking.add_argument("--max-file-bytes", type=_positive_int, metavar="N",
                          help=f"largest spec file read (default {DEFAULT_LIMITS.max_file_bytes:,})")

    p = commands.add_parser("validate", parents=[checking], help="check spec files; print every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("summary", parents=[checking], help="table of layers, widths and parameters")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=cmd_summary)

    p = commands.add_parser("schema", help="print the JSON Schema of the spec language")
    p.set_defaults(run=cmd_schema)

    p = commands.add_parser("list", help="the registered components (built-ins and plugins) and their options")
    p.add_argument("kind", nargs="?", choices=KINDS, help="only this kind")
    p.set_defaults(run=cmd_list)

    p = commands.add_parser("check-gradients", help="compare components' backward passes with finite differences")
    p.add_argument("names", nargs="*", metavar="NAME", help="components to check (default: every layer and loss)")
    p.set_defaults(run=cmd_check_gradients)

    data_help = ("a built-in dataset (spiral, xor, and, or, nand, sine) or a .csv/.npy/.npz file; "
                 "default: the spec's data section")

    p = commands.add_parser("run", parents=[checking], help="compile a spec and run a forward pass on data")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--data", metavar="spiral|xor|PATH", help=data_help)
    p.add_argument("--rows", type=_positive_int, default=5, help="how many outputs to print (default 5)")
    p.set_defaults(run=cmd_run)

    p = commands.add_parser("train", parents=[checking], help="train a spec on data and save a checkpoint")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--data", metavar="spiral|xor|PATH", help=data_help)
    p.add_argument("--epochs", type=_positive_int, metavar="N", help="override the spec's train.epochs")
    p.add_argument("--out", metavar="MODEL.npz", help="checkpoint to write (default: FILE's name with .npz, here)")
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("evaluate", help="loss and metrics of a saved checkpoint on data")
    p.add_argument("checkpoint", metavar="MODEL.npz")
    p.add_argument("--data", required=True, metavar="spiral|xor|PATH", help="a built-in dataset or a data file")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser("predict", help="predictions of a saved checkpoint")
    p.add_argument("checkpoint", metavar="MODEL.npz")
    p.add_argument("--data", required=True, metavar="X.(npy|csv|npz)", help="inputs to predict")
    p.add_argument("--out", metavar="PREDS.(npy|csv)", help="write predictions here instead of printing them")
    p.set_defaults(run=cmd_predict)

    p = commands.add_parser("sweep", help="write the variants of a spec over a grid of values; optionally train them")
    p.add_argument("base", metavar="BASE", help="the base spec (.json, .yaml)")
    p.add_argument("grid", metavar="GRID", help='paths → lists of values (.json, .yaml): {"layers[0].neurons": [16, 32]}')
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for variant-NNNN.json (one per valid variant), index.csv and index.json")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty DIR (files of an earlier sweep there are removed first)")
    p.add_argument("--samples", type=_positive_int, metavar="N", help="N distinct combinations drawn at random")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the draw (default: a different draw each run)")
    p.add_argument("--train", action="store_true", help="train each valid variant; write results.csv, best first")
    p.add_argument("--data", metavar="spiral|xor|PATH", help=data_help)
    p.add_argument("--metric", choices=("loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"),
                   help="sort the results by this (default: val_loss when measured, else loss)")
    p.add_argument("--epochs", type=_positive_int, metavar="N",
                   help="train for N epochs instead of each variant's train.epochs (the written specs keep theirs)")
    p.set_defaults(run=cmd_sweep)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netspec`` console script: loads plugins, then runs a command."""
    for plugin in load_plugins():
        if not plugin.ok:
            print(f"netspec: warning: plugin {plugin.name} ({plugin.value}) failed to load: {plugin.error}",
                  file=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
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
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
