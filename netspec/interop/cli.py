"""The ``netspec export`` and ``netspec import`` commands.

- ``netspec export MODEL.npz --to onnx --out model.onnx [--opset N]``: a
  checkpoint's network as an ONNX model; ``--to torch --out model.pt2``: as a
  ``torch.export`` program. A spec file instead of a checkpoint exports
  freshly initialised weights (``--seed`` seeds them).
- ``netspec import keras FILE [--weights W] --out spec.json [--checkpoint
  model.npz]``: a Keras model's config as a spec and, with ``--checkpoint``,
  its weights as a checkpoint; ``netspec import onnx FILE --out spec.json
  [--checkpoint model.npz]`` likewise for an ONNX model.

Everything is read and checked before anything is written: exit 1 with every
diagnostic printed when the model cannot be converted, never a traceback.
:func:`add_interop_commands` registers the commands on the ``netspec``
parser; this module imports nothing heavy until a command runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import InteropError
from ..files import check_output, read_head, write_text

EXIT_OK, EXIT_INVALID = 0, 1
EXTRAS = {"onnx": "onnx", "onnxruntime": "onnx", "torch": "torch", "h5py": "keras"}  # module -> netspec's extra


def add_interop_commands(commands: Any, printer: type, usage_error: type) -> None:
    """Add ``export`` and ``import`` to the ``netspec`` parser's ``commands``;
    ``printer`` prints diagnostics (:class:`netspec.cli.Printer`) and
    ``usage_error`` is raised for a command line that cannot be (exit 2)."""
    tools = {"printer": printer, "usage_error": usage_error}
    p = commands.add_parser("export", help="write a checkpoint (or a spec) as an ONNX model or a PyTorch program")
    p.add_argument("source", metavar="MODEL.npz|SPEC",
                   help="a checkpoint, with its weights, or a spec file, with freshly drawn weights")
    p.add_argument("--to", required=True, choices=("onnx", "torch"), help="onnx (a .onnx model) or torch "
                   "(a torch.export .pt2 program)")
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write (model.onnx, model.pt2)")
    p.add_argument("--opset", type=int, metavar="N", help="the ONNX opset (default 18)")
    p.add_argument("--seed", type=int, metavar="S", help="a spec's weights: draw them with this seed")
    p.add_argument("--force", action="store_true", help="write over the input or a file of another kind")
    p.set_defaults(run=functools.partial(run_export, **tools))

    p = commands.add_parser("import", help="a Keras or ONNX model as a spec, and its weights as a checkpoint")
    p.add_argument("format", choices=("keras", "onnx"), help="the model's format")
    p.add_argument("file", metavar="FILE", help="keras: model.to_json()'s file, a .keras archive or a full-model "
                   ".h5 file; onnx: a .onnx file")
    p.add_argument("--weights", metavar="WEIGHTS.h5",
                   help="keras: the weights, a .weights.h5 (Keras 3) or tf.keras .h5 file (default: FILE's own)")
    p.add_argument("--out", required=True, metavar="SPEC.json", help="the spec to write")
    p.add_argument("--checkpoint", metavar="MODEL.npz", help="also write the weights, as a netspec checkpoint")
    p.add_argument("--force", action="store_true", help="write over an input or a file of another kind")
    p.set_defaults(run=functools.partial(run_import, **tools))


# ---------------------------------------------------------------- export

def run_export(args: argparse.Namespace, printer: type, usage_error: type) -> int:
    """``netspec export``: see the module docstring."""
    from ..runtime.checkpoint import is_checkpoint

    if args.opset is not None and args.to != "onnx":
        raise usage_error("--opset is an ONNX option; it has no meaning with --to torch")
    checkpoint = is_checkpoint(args.source)
    if checkpoint and args.seed is not None:
        raise usage_error(f"{args.source} is a checkpoint, whose weights are exported as they are; "
                          "--seed draws a spec's weights")
    check_output(args.out, "ONNX model" if args.to == "onnx" else "PyTorch program", is_kind=_EXPORTS[args.to],
                 inputs=[args.source], force=args.force)
    pipeline = _pipeline(args, printer) if not checkpoint else _checkpoint(args.source)
    if pipeline is None:
        return EXIT_INVALID
    try:
        if args.to == "onnx":
            model = pipeline.to_onnx(args.out, opset=args.opset)
            made = f"ONNX opset {model.opset_import[0].version}"
        else:
            from .torch import save_exported

            save_exported(pipeline, args.out)
            made = "a torch.export program"
    except InteropError as error:
        return _refused(error, printer, args.source, "export")
    except ImportError as exc:
        return _missing(exc, f"netspec export --to {args.to}")
    print(f"wrote {args.out}: {made}, {_signature(pipeline)}, {pipeline_parameters(pipeline):,} parameters")
    if args.to == "torch":
        print(f"    load it with torch.export.load({args.out!r}).module()")
    return EXIT_OK


def _pipeline(args: argparse.Namespace, printer: type) -> Any:
    """A spec file compiled with fresh weights (seeded by ``--seed``), or None with its diagnostics printed."""
    from ..api import compile, validate

    report = validate(Path(args.source))
    for diagnostic in report.diagnostics:
        printer(sys.stderr).diagnostic(diagnostic, report, args.source)
    if not report.ok:
        return None
    return compile(report.spec if args.seed is None else report.spec.with_(seed=args.seed))


def _checkpoint(path: str) -> Any:
    from ..api import load_pipeline

    return load_pipeline(path)


def pipeline_parameters(pipeline: Any) -> int:
    return sum(int(array.size) for array in pipeline.parameters())


def _signature(pipeline: Any) -> str:
    """``input (batch, 16, 16, 1) float32 → output (batch, 5)``."""
    def shape(dims: tuple[int, ...]) -> str:
        return "(" + ", ".join(["batch", *map(str, dims)]) + ")"

    if len(pipeline.input_shapes) == 1:
        inputs = f"input {shape(next(iter(pipeline.input_shapes.values())))}"
    else:
        inputs = "inputs " + ", ".join(f"{name} {shape(dims)}" for name, dims in pipeline.input_shapes.items())
    return f"{inputs} {pipeline.dtype} → output {shape(pipeline.output_shape)}"


def _is_onnx(path: str) -> bool:
    """An earlier ONNX model: a protobuf whose first field is ir_version (tag 0x08)."""
    return path.endswith(".onnx") and read_head(path, 1) == b"\x08"


def _is_program(path: str) -> bool:
    """An earlier ``torch.export`` program: a zip archive named ``.pt2``."""
    return path.endswith(".pt2") and read_head(path, 4) == b"PK\x03\x04"


_EXPORTS = {"onnx": _is_onnx, "torch": _is_program}


# ---------------------------------------------------------------- import

def run_import(args: argparse.Namespace, printer: type, usage_error: type) -> int:
    """``netspec import``: see the module docstring."""
    if args.weights is not None and args.format != "keras":
        raise usage_error("--weights is for Keras models; an ONNX model holds its weights")
    if args.weights is not None and args.checkpoint is None:
        raise usage_error("--weights are read to write a checkpoint: add --checkpoint MODEL.npz")
    if args.checkpoint is not None and os.path.abspath(args.checkpoint) == os.path.abspath(args.out):
        raise usage_error(f"--out and --checkpoint both name {args.out}; give each its own file")
    inputs = [args.file] + ([args.weights] if args.weights else [])
    check_output(args.out, "spec", is_kind=_is_spec, inputs=inputs, force=args.force)
    if args.checkpoint is not None:
        from ..runtime.checkpoint import is_checkpoint

        check_output(args.checkpoint, "checkpoint", is_kind=is_checkpoint, inputs=inputs, force=args.force)
    try:
        spec, pipeline = _imported(args)
    except InteropError as error:
        return _refused(error, printer, args.file, "import")
    except ImportError as exc:
        return _missing(exc, f"netspec import {args.format}")
    write_text(args.out, spec)
    layers = len(json.loads(spec)["layers"])
    what = "Keras" if args.format == "keras" else "ONNX"
    print(f"wrote {args.out}: {layers} layer{'s' * (layers != 1)}, from the {what} model {args.file}")
    if pipeline is not None:
        pipeline.save(args.checkpoint)
        print(f"wrote {args.checkpoint}: {pipeline_parameters(pipeline):,} parameters, {_signature(pipeline)}")
    return EXIT_OK


def _imported(args: argparse.Namespace) -> tuple[str, Any]:
    """The spec's text and, when a checkpoint is asked for, the pipeline; nothing is written yet."""
    if args.format == "onnx":
        from .onnx import from_onnx

        pipeline = from_onnx(args.file)
        return json.dumps(pipeline.spec, indent=2, ensure_ascii=False) + "\n", \
            pipeline if args.checkpoint is not None else None
    from .keras import from_keras, from_keras_model

    if args.checkpoint is None:
        return from_keras(args.file).to_json(), None
    pipeline = from_keras_model(args.file, weights=args.weights)
    return json.dumps(pipeline.spec, indent=2, ensure_ascii=False) + "\n", pipeline


def _is_spec(path: str) -> bool:
    """An earlier spec: a JSON object with layers."""
    head = read_head(path, 4096).lstrip()
    return head.startswith(b"{") and b'"layers"' in head


# ---------------------------------------------------------------- shared

def _refused(error: InteropError, printer: type, file: str, command: str) -> int:
    out = printer(sys.stderr)
    source = SimpleNamespace(document=error.document) if error.document is not None else None  # its lines, if text
    for diagnostic in error.errors:
        out.diagnostic(diagnostic, source, file)
    count = len(error.errors)
    print(f"netspec {command}: {count} problem{'s' * (count != 1)}; nothing written", file=sys.stderr)
    return EXIT_INVALID


def _missing(exc: ImportError, command: str) -> int:
    name = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(name)
    if extra is None:
        raise exc
    print(f"{command}: needs the {name} package, which is not installed: pip install 'netspec[{extra}]'",
          file=sys.stderr)
    return EXIT_INVALID
