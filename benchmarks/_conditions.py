"""What a benchmark ran on, printed at its top and (the load) again at its end.

Every script in ``benchmarks/`` calls :func:`print_conditions` first and
:func:`print_load_at_end` last, so that a reader of its output knows what was
measured: the BLAS library NumPy uses, the kernel it picked for this CPU and
its thread count (from threadpoolctl), the NumPy and Python versions, the
CPU, the variables that change OpenBLAS's choice of kernel or threads, and
the load average at the start and at the end of the run.

``OPENBLAS_CORETYPE`` forces OpenBLAS's kernel (``Haswell``, ``SkylakeX``, …)
instead of the one it detects, and ``OPENBLAS_L2_SIZE`` the cache size it
tunes its blocks for; on the same machine the kernel can change the speed of
the matrix products by 2×, so both are always printed, ``unset`` when they
are. Nothing here sets or unsets them.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

# Printed as found ("unset" when absent): the first two choose OpenBLAS's
# kernel and blocking, the others the threads of BLAS, OpenMP and netspec.
VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "NETSPEC_THREADS")


def conditions() -> dict[str, Any]:
    """What :func:`print_conditions` prints, as data (for a benchmark's ``--json`` output)."""
    import numpy

    return {
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": numpy.__version__,
        "thread_pools": _thread_pools(),
        "environment": {name: os.environ.get(name) for name in VARIABLES},
        "load_average": _load(),
    }


def print_conditions(file: TextIO | None = None) -> dict[str, Any]:
    """Print the conditions of this run (see the module docstring) and return
    them. Call it at the top of a benchmark, after its heavy imports (a BLAS or
    OpenMP library loaded later, by PyTorch say, is not seen)."""
    found = conditions()
    out = file or sys.stdout
    pools = found["thread_pools"]
    print(f"conditions: {found['date']}; CPU {found['cpu']}, {found['cpu_count']} CPUs "
          f"({found['usable_cpus']} usable); {found['python']}; NumPy {found['numpy']}", file=out)
    if pools is None:
        print("BLAS: unknown (threadpoolctl is not installed: pip install threadpoolctl)", file=out)
    for pool in pools or ():
        kernel = f"kernel {pool['architecture']}, " if pool["architecture"] else (
            "kernel not reported, " if pool["user_api"] == "blas" else "")
        layer = f"{pool['threading_layer']}; " if pool["threading_layer"] else ""
        print(f"{pool['user_api'].upper()}: {pool['internal_api']} {pool['version']}, {kernel}"
              f"{pool['num_threads']} threads ({layer}{pool['file']})", file=out)
    if pools is not None and not any(pool["user_api"] == "blas" for pool in pools):
        print("BLAS: none loaded yet", file=out)
    print("environment: " + ", ".join(f"{name}={_shown(value)}" for name, value in found["environment"].items()),
          file=out)
    if found["environment"]["OPENBLAS_CORETYPE"]:  # set and not empty (empty: OpenBLAS detects the CPU)
        print("  (OPENBLAS_CORETYPE is set: OpenBLAS runs that kernel, not the one it would pick for this CPU)",
              file=out)
    print(f"load average at start: {_shown_load(found['load_average'])}", file=out, flush=True)
    return found


def print_load_at_end(file: TextIO | None = None) -> tuple[float, float, float] | None:
    """Print the load average again, at the end of the run, and return it: with
    the one printed at the start, it says how busy the machine was during it."""
    load = _load()
    print(f"load average at end: {_shown_load(load)}", file=file or sys.stdout, flush=True)
    return load


def _thread_pools() -> list[dict[str, Any]] | None:
    """Every BLAS and OpenMP library loaded in this process, as threadpoolctl
    reports it; None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{"user_api": pool.get("user_api", "?"), "internal_api": pool.get("internal_api", "?"),
             "version": pool.get("version") or "(no version)", "architecture": pool.get("architecture"),
             "num_threads": pool.get("num_threads"), "threading_layer": pool.get("threading_layer"),
             "file": os.path.basename(pool.get("filepath", "?"))}
            for pool in threadpool_info()]


def _cpu() -> str:
    """The CPU's model name, family and model (``lscpu``), or what the platform module knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}
    name = fields.get("Model name") or platform.processor() or platform.machine() or "unknown"
    details = [f"{label} {fields[key]}" for key, label in (("CPU family", "family"), ("Model", "model"))
               if key in fields]
    if fields.get("Hypervisor vendor"):
        details.append(f"{fields['Hypervisor vendor']} guest")
    return f"{name} ({', '.join(details)})" if details else name


def _load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # not available on this platform
        return None


def _shown(value: str | None) -> str:
    return "unset" if value is None else repr(value)


def _shown_load(load: tuple[float, float, float] | None) -> str:
    if load is None:
        return "not available on this platform"
    return f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (1, 5, 15 min)"
