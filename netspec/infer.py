"""Stage 3, infer: one walk over the layers gives every step its input and
output shape and its parameter count, and collects the shape errors. It
allocates nothing.

A shape is a tuple without the batch axis, channels-last: ``(features,)`` for
vectors, ``(length, channels)`` for sequences, ``(height, width, channels)``
for images. The walk starts from ``input.shape`` and calls each layer's
registered shape rule. A layer's ``activation`` shorthand becomes a step of
its own right after it (path ``layers[i].activation``), exactly as the
compiled pipeline will run it.

Codes emitted here: ``shape-mismatch`` (a declared ``in_features`` differs
from what arrives), whatever code a shape rule raises (``needs-flatten``,
``empty-output``, ``wrong-rank``, ``reshape-size``, ``bad-width``, or
``bad-shape``), ``too-many-parameters`` and ``too-much-memory``. Lints, the
warnings, are :mod:`netspec.lints`'s, run after this stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from math import prod
from typing import Any, Iterable, Iterator

from .check import did_you_mean
from .errors import Diagnostic, Path, format_path
from .limits import DEFAULT_LIMITS, Limits
from .registry import REGISTRY, Shape, ShapeProblem, format_shape, same_shape
from .spec import INPUT_NAME, Component, Spec

# Codes of references inference cannot follow; after one, shapes are unknown
# downstream, so the budgets and the lints are not worked out.
UNRESOLVED = frozenset({"unknown-input", "forward-reference", "input-cycle", "ambiguous-input", "unknown-output"})

# Copies held per parameter while training: the value, its gradient and up to
# two optimiser slots (Adam's moments); and per activation value of a batch:
# the output and its gradient.
COPIES_PER_PARAMETER = 4
COPIES_PER_ACTIVATION = 2
ITEMSIZE = {"float64": 8, "float32": 4}


@dataclass(slots=True)
class LayerShape:
    """One step of the network as inference sees it: shapes of one sample,
    without the batch axis. ``workspace`` counts the scratch values per
    sample the step holds beyond its output (a convolution's window matrix)."""

    name: str
    type: str
    path: Path
    in_shape: Shape
    out_shape: Shape
    parameters: int
    params: Component = field(repr=False, compare=False)
    workspace: int = 0
    inputs: tuple[str, ...] = ()  # the steps (or named inputs) it reads
    in_shapes: tuple[Shape, ...] = ()  # their shapes, for a merge; (in_shape,) is implied otherwise

    @property
    def where(self) -> str:
        return format_path(self.path)

    @property
    def in_features(self) -> int:
        """Values per sample that arrive (the width, for a vector)."""
        return prod(self.in_shape)

    @property
    def out_features(self) -> int:
        """Values per sample that leave (the width, for a vector)."""
        return prod(self.out_shape)


@dataclass(frozen=True)
class Shapes:
    """The result of inference: every step's shapes and parameter counts, and
    the diagnostics (errors and warnings) found on the way.

    ``input_shapes`` maps each input's name to its shape (``{"input": ...}``
    for one unnamed input); ``output`` names the step whose output is the
    network's; ``graph`` is false for a chain, where every step reads the one
    before it."""

    input_shapes: dict[str, Shape]
    layers: tuple[LayerShape, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    output: str | None = None
    graph: bool = False

    @property
    def input_shape(self) -> Shape | None:
        """The shape of the network's one input (None when it has several)."""
        return next(iter(self.input_shapes.values())) if len(self.input_shapes) == 1 else None

    @property
    def output_step(self) -> LayerShape | None:
        if self.output is None:
            return self.layers[-1] if self.layers else None
        return next((step for step in self.layers if step.name == self.output), None)

    @property
    def total_parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def input_features(self) -> int:
        """Values per sample of the inputs (the width, for a vector input)."""
        return sum(prod(shape) for shape in self.input_shapes.values())

    @property
    def output_shape(self) -> Shape:
        step = self.output_step
        return step.out_shape if step is not None else self.input_shape

    @property
    def output_features(self) -> int:
        return prod(self.output_shape)

    @property
    def widths(self) -> list[int]:
        """What a forward pass holds per sample: the input's size, then every
        step's output size plus its workspace (what the memory guards count)."""
        return [self.input_features, *(layer.out_features + layer.workspace for layer in self.layers)]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def table(self) -> str:
        """The summary table: the inputs, then each layer's name, type, output
        shape (``26×26×32``) and parameters, and the total; for a graph, also
        what each layer is connected to (the steps it reads)."""
        rows = [(name, "input", format_shape(shape), "0", "") for name, shape in self.input_shapes.items()]
        rows += [(layer.name, layer.type, format_shape(layer.out_shape), f"{layer.parameters:,}",
                  ", ".join(layer.inputs)) for layer in self.layers]
        header = ("layer", "type", "output shape", "parameters", "connected to")
        columns = 5 if self.graph else 4
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(columns)]
        line = "  ".join("-" * w for w in widths)

        def fmt(row: tuple[str, ...]) -> str:
            cells = zip(row[:columns], widths)
            return "  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(cells)).rstrip()

        total = f"total parameters: {self.total_parameters:,}"
        return "\n".join([fmt(header), line, *map(fmt, rows), line, total])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description: the input shape, each layer's shapes (lists) and parameters, and
        the total; ``*_features`` are the values per sample (the widths, for vectors)."""
        one = self.input_shape
        return {
            **({"input_shape": list(one)} if one is not None else {}),
            "input_shapes": {name: list(shape) for name, shape in self.input_shapes.items()},
            "input_features": self.input_features,
            "layers": [{"name": s.name, "type": s.type, "path": s.where, "inputs": list(s.inputs),
                        "in_shape": list(s.in_shape), "out_shape": list(s.out_shape), "in_features": s.in_features,
                        "out_features": s.out_features, "parameters": s.parameters} for s in self.layers],
            "output": self.output_step.name if self.output_step is not None else None,
            "total_parameters": self.total_parameters,
        }


def steps(spec: Spec) -> list[tuple[Path, Component]]:
    """The layers in run order, with each ``activation`` shorthand expanded."""
    return list(_run(spec))


def _run(spec: Spec) -> Iterator[tuple[Path, Component]]:
    """:func:`steps`, one at a time."""
    for index, layer in enumerate(spec.layers):
        path = ("layers", index)
        yield path, layer
        inline = layer.__dict__.get("activation")  # not getattr: a missing attribute is slow on pydantic models
        if inline is not None and isinstance(inline, Component):
            yield path + ("activation",), inline


def layer_names(run: Iterable[tuple[Path, Component]], reserved: Iterable[str] = ()) -> list[str]:
    """Explicit names kept; unnamed steps get ``{type}_{k}`` counting per type from 1,
    skipping names already taken, and the ``reserved`` ones (a graph's input names,
    which ``inputs`` could not tell from a layer's)."""
    run = list(run)
    explicit = [params.__dict__.get("name") for _, params in run]
    taken = (set(explicit) | set(reserved)) - {None}
    counts: dict[str, int] = {}
    names = []
    for (_, params), name in zip(run, explicit):
        names.append(name or _generated_name(params.type, counts, taken))
    return names


def _generated_name(kind: str, counts: dict[str, int], taken: set[str]) -> str:
    """The next ``{kind}_{k}`` not in ``taken``, counting in ``counts``. Only
    explicit names need to be in ``taken``: generated ones differ from each
    other in type or in count."""
    count = counts.get(kind, 0) + 1
    name = f"{kind}_{count}"
    while name in taken:
        count += 1
        name = f"{kind}_{count}"
    counts[kind] = count
    return name


def infer(spec: Spec, *, limits: Limits = DEFAULT_LIMITS) -> Shapes:
    """Walk ``spec`` from ``input.shape`` and return its :class:`Shapes`.

    Never raises for a bad spec: problems are in ``Shapes.diagnostics``.
    """
    walked = _walk(spec, set()) if _may_be_chain(spec) else None
    if walked is not None:
        shaped, total, found, explicit = walked
        if explicit and len({step.name for step in shaped}) < len(shaped):
            shaped, total, found, _ = _walk(spec, explicit)  # a name was given twice, or given and generated
        shapes = Shapes({INPUT_NAME: spec.input.shape}, tuple(shaped))
    else:
        shaped, found, output = _walk_graph(spec)
        total = sum(step.parameters for step in shaped)
        shapes = Shapes({name: one.shape for name, one in spec.inputs.items()}, tuple(shaped), output=output,
                        graph=True)
    if not any(d.code in UNRESOLVED for d in found):
        found += _loss_output(spec, shapes)
        found += _budget(total, spec, shapes, limits)
    return replace(shapes, diagnostics=tuple(found)) if found else shapes


def _may_be_chain(spec: Spec) -> bool:
    """One unnamed input and no ``output``: a chain, unless a layer names its inputs or merges
    (which :func:`_walk` finds on its way)."""
    return not isinstance(spec.input, dict) and spec.output is None


def _walk(spec: Spec, taken: set[str]) -> tuple[list[LayerShape], int, list[Diagnostic], set[str]] | None:
    """One pass over the steps of a chain: their shapes, the total parameter
    count, the shape errors, and the names given explicitly; None as soon as
    a layer names its inputs or merges, which makes the network a graph.

    Unnamed steps are named as :func:`layer_names` names them, skipping the
    names in ``taken``. Names are seldom given, so :func:`infer` walks first
    with none taken, and again, skipping the given names, only when one of
    them turns out to be a generated name too.

    A step whose rule refuses its input is reported and passes on the shape
    the rule says it would otherwise give (``ShapeProblem.assume``), else its
    input shape, so later steps are still checked."""
    shape_rules, workspaces, merges = REGISTRY.shape_rules(), REGISTRY.workspaces(), REGISTRY.merges()
    shape, previous, source = spec.input.shape, None, (INPUT_NAME,)
    shaped, found, explicit, counts, total = [], [], set(), {}, 0
    for path, params in _run(spec):
        fields = params.__dict__  # not getattr: a missing attribute is slow on pydantic models
        kind = params.type
        if fields.get("inputs") is not None or kind in merges:
            return None  # not a chain: the graph walk takes it
        name = fields.get("name")
        if name:
            explicit.add(name)
        elif taken:
            name = _generated_name(kind, counts, taken)
        else:  # as _generated_name does, inline for the common case
            counts[kind] = number = counts.get(kind, 0) + 1
            name = f"{kind}_{number}"
        used = shape  # the shape given to the rule: (in_features,) when it is declared on a vector
        declared = fields.get("in_features")
        if declared is not None and len(shape) == 1 and declared != shape[0]:
            found.append(_mismatch(path, name, declared, shape[0], previous))
            used = (declared,)
        rule = shape_rules.get(kind)
        workspace = 0
        if rule is None or rule is same_shape:  # no need to call same_shape
            out, count = used, 0
        else:
            try:
                out, count = rule(params, used)
            except ShapeProblem as exc:
                out, count = exc.assume or used, 0
                if used == shape:  # a shape-mismatch is the one problem reported for a step
                    found.append(_refused(path, name, exc, shape, previous))
            else:
                measure = workspaces.get(kind)
                workspace = measure(params, used, out) if measure is not None else 0
        shaped.append(LayerShape(name, kind, path, shape, out, count, params, workspace, source))
        total += count
        shape, previous, source = out, name, (name,)
    return shaped, total, found, explicit


def _walk_graph(spec: Spec) -> tuple[list[LayerShape], list[Diagnostic], str | None]:
    """Inference over a graph: the steps in spec order (which is a topological
    order once every reference is to an earlier entry), each reading the
    steps or inputs its ``inputs`` name (or the entry before it). Returns the
    steps, the diagnostics and the output step's name.

    A reference that cannot be followed (unknown, to a later layer, in a
    cycle) is reported, and the shapes that depend on it are left unknown
    (empty), without further errors."""
    run = list(_run(spec))
    names = layer_names(run, reserved=spec.inputs)
    inputs = {name: one.shape for name, one in spec.inputs.items()}
    final = {path[1]: name for (path, _), name in zip(run, names)}  # entry index -> its last step
    final_of = {name: final[path[1]] for (path, _), name in zip(run, names)}  # a step's name -> its entry's last
    index_of = {name: path[1] for (path, _), name in zip(run, names)}
    shapes: dict[str, Shape | None] = dict(inputs)
    shaped = []
    found = [Diagnostic(path + ("name",), "duplicate-name",
                        f'layer name "{INPUT_NAME}" is already the name of the network\'s input', "give the layer another name")
             for (path, params) in run if len(path) == 2 and params.__dict__.get("name") == INPUT_NAME
             and not isinstance(spec.input, dict)]
    for position, ((path, params), name) in enumerate(zip(run, names)):
        if len(path) == 3:  # an activation shorthand reads its own entry
            sources = (names[position - 1],)
        else:
            sources, problems = _sources(spec, path, params, name, inputs, final_of, index_of,
                                         final.get(path[1] - 1))
            found += problems
        known = [shapes.get(source) for source in sources]
        if not sources or any(shape is None for shape in known):
            shapes[name] = None
            shaped.append(LayerShape(name, params.type, path, (), (), 0, params, 0, sources, ()))
            continue
        out, count, workspace, problem = _graph_step(path, params, name, sources, known, inputs)
        if problem is not None:
            found.append(problem)
        shapes[name] = out
        in_shapes = tuple(known) if params.merge else ()
        shaped.append(LayerShape(name, params.type, path, known[0], out, count, params, workspace, sources, in_shapes))
    cycles, in_cycles = _cycles(run, names, index_of)  # a forward reference closing a cycle is reported as the cycle
    found = [d for d in found if not (d.code == "forward-reference" and d.path[1] in in_cycles)] + cycles
    output, problem = _output(spec, names, inputs, final_of)
    return shaped, found + problem, output


def _sources(spec: Spec, path: Path, params: Component, name: str, inputs: dict[str, Shape],
             final_of: dict[str, str], index_of: dict[str, int], previous: str | None
             ) -> tuple[tuple[str, ...], list[Diagnostic]]:
    """The steps an entry reads (each named entry standing for its last step),
    and the problems with its ``inputs``: unknown names, later layers, and the
    wrong number of them for its kind."""
    declared = params.sources()
    where = f"{format_path(path)} ({name})"
    if declared is None:
        if previous is not None:
            return (previous,), _arity(path, params, where, 1)
        if len(inputs) == 1:
            return (next(iter(inputs)),), _arity(path, params, where, 1)
        return (), [Diagnostic(path, "ambiguous-input",
                               f"{where} is the first layer, so it reads the network's input, but the network has "
                               f"{len(inputs)} inputs ({', '.join(inputs)})",
                               f'say which with "inputs": "{next(iter(inputs))}"')]
    if not declared and not params.merge:
        return (), [Diagnostic(path + ("inputs",), "unknown-input", f'{where} reads nothing: its "inputs" list is empty',
                               'name the layer or input it reads, or leave "inputs" out to read the entry before it')]
    found, sources = [], []
    at = path + ("inputs",)
    for k, source in enumerate(declared):
        place = at + (k,) if isinstance(params.__dict__["inputs"], tuple) else at
        if source in inputs or index_of.get(source, path[1]) < path[1]:
            sources.append(final_of.get(source, source))
        elif source in index_of:
            if index_of[source] == path[1]:
                return (), found  # it reads itself: reported as a cycle
            found.append(Diagnostic(place, "forward-reference",
                                    f'{where} reads "{source}", which comes later (layers[{index_of[source]}]): '
                                    "a layer can only read the layers before it and the inputs",
                                    f'move layers[{index_of[source]}] before {format_path(path)}'))
            return (), found
        else:
            close = did_you_mean(source, [*inputs, *index_of])
            found.append(Diagnostic(place, "unknown-input",
                                    f'{where} reads "{source}", which is neither a layer nor an input',
                                    close or f"layers and inputs: {', '.join([*inputs, *index_of])}"))
            return (), found
    return tuple(sources), found + _arity(path, params, where, len(sources))


def _arity(path: Path, params: Component, where: str, count: int) -> list[Diagnostic]:
    """A merge layer reads two or more steps; any other layer, one."""
    if params.merge and count < 2:
        return [Diagnostic(path + ("inputs",), "merge-inputs",
                           f"{where} merges what it reads, so it needs two or more inputs, and has {count}",
                           'name them: "inputs": ["a", "b"]')]
    if not params.merge and count > 1:
        return [Diagnostic(path + ("inputs",), "too-many-inputs",
                           f"{where} reads one input, but {count} are named",
                           'join them first with a merge layer ("add", "concatenate", ...)')]
    return []


def _graph_step(path: Path, params: Component, name: str, sources: tuple[str, ...], known: list[Shape],
                inputs: dict[str, Shape]) -> tuple[Shape, int, int, Diagnostic | None]:
    """A step's ``(out_shape, parameters, workspace, problem)`` from the shapes it reads."""
    described = [source_of(shape, None if source == INPUT_NAME and len(inputs) == 1 else source,
                           named_input=source in inputs and not (source == INPUT_NAME and len(inputs) == 1))
                 for source, shape in zip(sources, known)]
    if params.merge:
        used: Any = tuple(known)
    else:
        used = known[0]
        declared = params.__dict__.get("in_features")
        if declared is not None and len(used) == 1 and declared != used[0]:
            if sources[0] == INPUT_NAME and len(inputs) == 1:  # as in a chain
                side = "the input has"
            elif sources[0] in inputs:
                side = f"input {sources[0]} has"
            else:
                side = f"{sources[0]} outputs" if params.sources() else f"the previous layer ({sources[0]}) outputs"
            problem = _mismatch(path, name, declared, used[0], sources[0], side)
            out, count, workspace = _assumed(params, (declared,))
            return out, count, workspace, problem
    try:
        out, count, workspace = apply_rule(params, used)
    except ShapeProblem as exc:
        fallback = exc.assume or (known[0] if not params.merge else known[0])
        problem = _refused(path, name, exc, known[0], sources[0], described[0])
        for k, source in enumerate(sources):
            problem = replace(problem, message=problem.message.replace(f"{{input:{k}}}", source))
        return fallback, 0, 0, problem
    return out, count, workspace, None


def _assumed(params: Component, shape: Shape) -> tuple[Shape, int, int]:
    """The step as if it received ``shape``, or that shape when it cannot take it either."""
    try:
        return apply_rule(params, shape)
    except ShapeProblem as exc:
        return exc.assume or shape, 0, 0


def _cycles(run: list[tuple[Path, Component]], names: list[str],
            index_of: dict[str, int]) -> tuple[list[Diagnostic], set[int]]:
    """Every cycle of references between entries, each reported once, naming
    every layer in it; and the indices of the entries on a cycle.

    An entry without ``inputs`` reads the entry before it, so a cycle may
    pass through it. Every other reference points back, so each cycle holds
    an entry that reads itself or a later one: only those are walked from,
    and a valid graph costs one pass over its entries."""
    reads = {}
    for path, params in run:
        if len(path) == 2:
            declared = params.sources()
            reads[path[1]] = ([path[1] - 1] if path[1] > 0 else []) if declared is None \
                else [index_of[s] for s in declared if s in index_of]
    entry_name = {path[1]: name for (path, _), name in zip(run, names) if len(path) == 2}
    found, seen, members = [], set(), set()
    for start in [index for index, read in reads.items() if any(other >= index for other in read)]:
        cycle = _cycle_from(start, reads)
        if cycle is None or frozenset(cycle) in seen:
            continue
        seen.add(frozenset(cycle))
        members.update(cycle)
        first = min(cycle)
        order = cycle[cycle.index(first):] + cycle[:cycle.index(first)]
        if len(order) == 1:
            message = f"layers[{first}] ({entry_name[first]}) reads its own output"
        else:
            layers = ", ".join(f"layers[{i}] ({entry_name[i]})" for i in order)
            steps = ", ".join(f"{entry_name[a]} reads {entry_name[b]}" for a, b in zip(order, order[1:] + order[:1]))
            message = f"{layers} form a cycle: {steps}"
        found.append(Diagnostic(("layers", first, "inputs"), "input-cycle", message,
                                "a network's data flows one way: make one of them read an earlier layer or an input"))
    return found, members


def _cycle_from(start: int, reads: dict[int, list[int]]) -> list[int] | None:
    """A cycle through ``start`` as the entries on it, in reading order, or None.

    A depth-first walk that enters each entry once: one it has left did not
    lead back to ``start``, and will not by another path (branches that merge
    again would otherwise be walked once per path, exponentially many)."""
    stack, path, entered = [(start, iter(reads.get(start, ())))], [start], {start}
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.pop()
        elif child == start:
            return list(path)
        elif child not in entered:
            stack.append((child, iter(reads.get(child, ()))))
            path.append(child)
            entered.add(child)
    return None


def _output(spec: Spec, names: list[str], inputs: dict[str, Shape],
            final_of: dict[str, str]) -> tuple[str | None, list[Diagnostic]]:
    """The output step: the one ``output`` names (an entry stands for its last step), or the last."""
    if spec.output is None:
        return names[-1], []
    if spec.output in final_of:
        return final_of[spec.output], []
    if spec.output in names:
        return spec.output, []
    words = "is an input, not a layer" if spec.output in inputs else "is not the name of a layer"
    return None, [Diagnostic(("output",), "unknown-output", f'output "{spec.output}" {words}',
                             did_you_mean(spec.output, final_of) or "name the layer whose output the network gives")]


def apply_rule(params: Component, used: Shape | tuple[Shape, ...]) -> tuple[Shape, int, int]:
    """``(out_shape, parameters, workspace)`` of a step given the shape (or, for
    a merge, the shapes) it receives; raises the rule's :class:`ShapeProblem`."""
    rule = REGISTRY.shape_rules().get(params.type)
    if rule is None or rule is same_shape:
        return used, 0, 0
    out, count = rule(params, used)
    return out, count, _workspace(params.type, params, used, out)


def _workspace(kind: str, params: Component, in_shape: Shape, out_shape: Shape) -> int:
    workspace = REGISTRY.workspaces().get(kind)
    return workspace(params, in_shape, out_shape) if workspace is not None else 0


def source_of(shape: Shape, previous: str | None, named_input: bool = False) -> str:
    """Where a step's input comes from, in words: ``the 3×3×16 output of max_pool2d_2``,
    ``the 10 features of dense_2``, ``the 28×28×1 input``, ``the input's 2 features``,
    and for a named input ``the 28×28×1 input image``, ``the 3 features of input meta``."""
    if named_input:
        return f"the {shape[0]:,} features of input {previous}" if len(shape) == 1 \
            else f"the {format_shape(shape)} input {previous}"
    if len(shape) == 1:
        return f"the {shape[0]:,} features of {previous}" if previous else f"the input's {shape[0]:,} features"
    return f"the {format_shape(shape)} output of {previous}" if previous else f"the {format_shape(shape)} input"


def _mismatch(path: Path, name: str, declared: int, width: int, previous: str | None,
              source: str | None = None) -> Diagnostic:
    source = source or (f"the previous layer ({previous}) outputs" if previous else "the input has")
    return Diagnostic(path + ("in_features",), "shape-mismatch",
                      f"{format_path(path)} ({name}): in_features is {declared} but {source} {width} features",
                      f"set in_features to {width} or remove it to have it inferred")


def _refused(path: Path, name: str, problem: ShapeProblem, shape: Shape, previous: str | None,
             described: str | None = None) -> Diagnostic:
    where = path + ((problem.field,) if problem.field else ())
    message = problem.message.replace("{input}", described or source_of(shape, previous))
    return Diagnostic(where, problem.code, f"{format_path(path)} ({name}): {message}", problem.hint)


def _loss_output(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """A loss compares a vector per sample with the targets: refuse an image or a sequence as the output."""
    if spec.loss is None or len(shapes.output_shape) == 1:
        return []
    last = shapes.output_step
    return [Diagnostic(("loss",), "loss-needs-vector",
                       f"{spec.loss.type} compares a vector of outputs per sample with the targets, but the network "
                       f"ends with {source_of(last.out_shape, last.name)}",
                       'end the network with {"type": "flatten"} (or a global pooling layer) and a dense layer')]


def _budget(total: int, spec: Spec, shapes: Shapes, limits: Limits) -> list[Diagnostic]:
    """Refuse, before anything is allocated, a network too large for the
    limits: its parameters (with their gradients and optimiser state) and,
    when ``train.batch_size`` is set, one batch's outputs and their gradients."""
    if total > limits.max_parameters:
        return [Diagnostic(("layers",), "too-many-parameters",
                           f"the network has {total:,} parameters, over the limit of {limits.max_parameters:,}",
                           "use fewer or narrower layers, or raise Limits.max_parameters")]
    itemsize = ITEMSIZE[spec.dtype]
    needed = total * itemsize * COPIES_PER_PARAMETER
    batch = spec.train.batch_size if spec.train is not None else None
    activations = batch * sum(shapes.widths) * itemsize * COPIES_PER_ACTIVATION if batch else 0
    if needed + activations > limits.max_memory_bytes:
        held = f"the network's {total:,} parameters" + (f" and batches of {batch:,} samples" if activations else "")
        return [Diagnostic(("layers",), "too-much-memory",
                           f"training {held} needs about {_bytes(needed + activations)} "
                           f"({needed + activations:,} bytes), over the limit of {_bytes(limits.max_memory_bytes)}",
                           'use "dtype": "float32", fewer parameters or smaller batches, or raise Limits.max_memory_bytes')]
    return []


def _bytes(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        count /= 1024
    raise AssertionError("unreachable")
