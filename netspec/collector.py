"""Python's cyclic garbage collector, paused while a spec is validated.

Validation allocates a container or more per key of the spec (the copied
tree, Pydantic's models, the shapes, the diagnostics) and frees almost none
of them before it returns, so the collector, which runs each time
allocations outnumber frees by 700, finds nothing to collect, yet traverses
its generations again and again, the oldest holding everything the process
keeps: the cost per layer grew with the size of the spec, and varied with
what else the process held (1.9–2.0 µs per layer at 100 layers, up to 6.6
at 10,000, in one set of runs). With the collector paused it stays flat. The pause ends with the
call, so what it built is counted, and whatever cyclic garbage it left
collected, by the next collection after it.

:func:`paused_collector` keeps one process-wide count of the pauses in
progress, under a lock, because the collector's state is process-wide too:
nested pauses, and pauses in several threads at once, disable the collector
once (only if it was enabled) and enable it again when the last of them
ends, whatever happened inside (an exception included). A collector
disabled before the first pause began is never enabled. What it cannot tell
apart: ``gc.disable()`` called (in any thread) while a pause is in progress
is undone when the last pause ends, and ``gc.enable()`` called then lets
the collector run for the rest of the pause; call them while no
validation runs. ``gc.collect()`` works during a pause, as always.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

_lock = threading.Lock()
_pauses = 0  # pauses in progress, in every thread
_resume = False  # whether the first of them disabled the collector (so the last one enables it)


class paused_collector:
    """Context manager: the cyclic garbage collector is disabled inside, then
    restored to its state before the outermost pause (see the module docstring).

    >>> import gc
    >>> with paused_collector():
    ...     gc.isenabled()
    False
    """

    __slots__ = ()

    def __enter__(self) -> None:
        global _pauses, _resume
        with _lock:
            if _pauses == 0:
                _resume = gc.isenabled()
                if _resume:
                    gc.disable()
            _pauses += 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        global _pauses
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
