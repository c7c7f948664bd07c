"""The package reads as its pipeline: the stages import only downward
(read ← check ← infer ← lints ← compile ← api), nothing imports in a circle,
not even inside a function, and the runtime imports none of the stages."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "netspec"
STAGES = ["read", "check", "infer", "lints", "compile", "api"]
# What the runtime may use besides itself: the error types, atomic files and the window arithmetic.
RUNTIME_MAY_IMPORT = {"netspec.errors", "netspec.files", "netspec.geometry"}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """Every netspec module ``path`` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("netspec")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if not target.startswith("netspec"):
                continue
            for alias in node.names:  # `from . import data` imports the module netspec.data
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return found - {name}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_nothing_imports_in_a_circle():
    done, on_path = set(), []

    def visit(name):
        if name in on_path:
            cycle = on_path[on_path.index(name):] + [name]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if name in done or name not in GRAPH:
            return
        on_path.append(name)
        for imported in sorted(GRAPH[name]):
            visit(imported)
        on_path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_imports_no_later_stage(stage):
    later = {f"netspec.{s}" for s in STAGES[STAGES.index(stage) + 1:]}
    assert GRAPH[f"netspec.{stage}"] & later == set()


def test_the_runtime_imports_none_of_the_stages():
    for name, imported in GRAPH.items():
        if name.startswith("netspec.runtime"):
            outside = {m for m in imported if not m.startswith("netspec.runtime")}
            assert outside <= RUNTIME_MAY_IMPORT, (name, outside - RUNTIME_MAY_IMPORT)


LOOKING_ONLY = """
import sys
from netspec.cli import main
for argv in (["validate", "{spec}"], ["summary", "{spec}"], ["summary", "--format", "json", "{spec}"], ["schema"],
             ["list"], ["validate", "{bad}"]):
    main(argv)
heavy = sorted(m for m in sys.modules if m == "numpy" or m.startswith("numpy.") or m.startswith("netspec.runtime"))
print("HEAVY", heavy)
"""


def test_commands_that_only_look_at_specs_import_neither_numpy_nor_the_runtime():
    import subprocess
    import sys

    examples = PACKAGE.parent / "examples"
    code = LOOKING_ONLY.format(spec=examples / "cnn.json", bad=examples / "invalid" / "needs-flatten.json")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "HEAVY []"


def test_every_built_in_runtime_reference_resolves_and_follows_its_protocol():
    from netspec.extend import PROTOCOLS, resolve
    from netspec.registry import REGISTRY

    for kind in ("activation", "loss", "optimizer"):
        for entry in REGISTRY.entries(kind):
            runtime = resolve(entry.runtime)
            missing = [m for m in PROTOCOLS[kind] if not callable(getattr(runtime, m, None))]
            assert missing == [], (entry.name, missing)
    assert all(callable(resolve(entry.runtime)) for entry in REGISTRY.entries("initializer"))
