"""Calls run on a Dask cluster (``pip install 'netspec[dask]'``), results as they finish.

netspec has no scheduler of its own: a sweep trains its variants on
``dask.distributed``, on a :class:`~distributed.LocalCluster` of worker
processes on this machine (loopback only, no dashboard) or on an existing
cluster reached by its scheduler's address. :func:`run` submits one call per
item and yields each outcome in the order they complete.

BLAS threads: each call runs with at most ``cores // slots`` BLAS threads,
where ``cores`` are those of the worker's machine and ``slots`` the task
threads of every worker on that machine, so N single-threaded workers on N
cores run one BLAS thread each instead of N each; inside that share, the
rule of :mod:`netspec.runtime.threads` picks as for one process.

Ctrl-C: the worker processes of a local cluster are started with SIGINT
ignored (a terminal sends it to the whole process group), so only this
process sees it; it cancels what is still queued or running and closes the
client and the cluster. (A Ctrl-C during the two or three seconds the
cluster takes to start is ignored with them.) Dask and distributed are
imported only here, and only when a function of this module is called.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import uuid
from typing import Any, Callable, Iterable, Iterator

from .errors import NetspecError

INSTALL = "pip install 'netspec[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise NetspecError(f"training on several workers needs Dask's distributed package, which is not "
                           f"installed: {INSTALL}") from None
    return distributed


@contextlib.contextmanager
def client_for(*, client: Any = None, workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ready :class:`distributed.Client`: ``client`` itself (left open), or
    one on the cluster whose scheduler is at ``scheduler`` (closed after, the
    cluster left running), or on a local cluster of ``workers`` processes
    (both closed after). Raises :class:`NetspecError` when the cluster cannot
    be reached or started, has no workers, or its workers cannot run this netspec."""
    if client is not None:
        _check_workers(client, _connect_timeout(), "the client's cluster")
        yield client
        return
    if scheduler is not None:
        with _connected(scheduler) as connected:
            yield connected
        return
    with _local(workers or 1) as local:
        yield local


def _connect_timeout() -> float:
    """Dask's ``distributed.comm.timeouts.connect`` in seconds (30 s unless configured)."""
    import dask
    from dask.utils import parse_timedelta

    return parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds")


@contextlib.contextmanager
def _connected(address: str) -> Iterator[Any]:
    distributed = _distributed()
    timeout = _connect_timeout()
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        why = f"no answer within {timeout:g} s" if "timed out" in str(exc).lower() else _reason(exc)
        raise NetspecError(f"cannot reach the Dask scheduler at {address} ({why}); is it running? "
                           "(`dask scheduler` starts one; dask's distributed.comm.timeouts.connect "
                           "sets how long to wait)") from None
    try:
        _check_workers(client, timeout, f"the scheduler at {address}")
        yield client
    finally:
        client.close()


# distributed sets MALLOC_TRIM_THRESHOLD_ in its workers' environment, which
# turns off glibc's adaptive mmap threshold: every array over 128 KiB is then
# mapped and unmapped afresh, and training the quick-start spiral took 2.2×
# as long. The threads variables it sets are harmless: each call sets its own.
UNSET_FOR_WORKERS = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
# Without a dashboard the scheduler still serves its health and metrics routes
# over HTTP, by default on port 8787, warning when another cluster has it:
# a free loopback port instead.
NO_DASHBOARD = {"dashboard_address": "127.0.0.1:0"}
# What a local cluster's own processes log: errors only. Its warnings are about
# its own health on a busy machine ("event loop was unresponsive for 3 s"),
# nothing a sweep's user can act on; a variant's failure is reported in its row.
QUIET = logging.ERROR


@contextlib.contextmanager
def _local(workers: int) -> Iterator[Any]:
    distributed = _distributed()
    import dask

    try:
        with _interrupts_ignored(), _environment_kept(), dask.config.set(UNSET_FOR_WORKERS):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None,
                                               scheduler_kwargs=NO_DASHBOARD, silence_logs=QUIET)
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise NetspecError(f"could not start a local Dask cluster of {workers} workers: {_reason(exc)} (its worker "
                           "processes start by importing your main script: keep a script's work under "
                           "`if __name__ == '__main__':`)") from None
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            client.run(_quiet_cancellations)
            _check_workers(client, _connect_timeout(), "the local cluster")
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.run(_quiet_shutdown)
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """Undo what starting worker processes writes into this process's
    ``os.environ`` (distributed's nannies set the workers' variables there)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def _quiet_cancellations() -> None:
    """On a worker we started: a task cancelled by Ctrl-C is expected, not a warning."""
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _quiet_shutdown() -> None:
    """On a worker we are closing, maybe in the middle of a task (Ctrl-C): its
    complaints that the scheduler went away first are expected."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_workers(client: Any, timeout: float, where: str) -> None:
    """At least one worker, and every worker can import this version of netspec."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise NetspecError(f"{where} has no workers (waited {timeout:g} s); start some with `dask worker "
                           "ADDRESS`") from None
    from . import __version__

    try:
        facts = client.run(worker_facts)
    except Exception as exc:  # noqa: BLE001 — whatever the worker's environment raised, said in one line
        raise NetspecError(f"the workers of {where} cannot run netspec ({type(exc).__name__}: {_reason(exc)}); "
                           f"install netspec {__version__} where they run") from None
    other = sorted({version for version, _ in facts.values() if version != __version__})
    if other:
        raise NetspecError(f"the workers of {where} run netspec {', '.join(other)}, this is {__version__}; "
                           "install the same version on both sides")


def worker_facts() -> tuple[str, int]:
    """``(netspec version, cores this process may use)``, run on each worker."""
    from . import __version__

    return __version__, cores()


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def shares(client: Any) -> dict[str, int]:
    """BLAS threads per worker address: its machine's cores over the task
    threads of every worker on that machine, at least 1."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]  # every worker, not the first few
    except TypeError:  # a distributed that lists them all anyway
        workers = client.scheduler_info()["workers"]
    found = client.run(cores)
    slots: dict[str, int] = {}
    for info in workers.values():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
    return {address: max(1, found.get(address, 1) // slots.get(info["host"], 1))
            for address, info in workers.items()}


def run(function: Callable[..., Any], calls: Iterable[tuple[Any, tuple]], client: Any, *,
        shared: tuple = (), name: str = "netspec") -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Submit ``function(*args, *shared)`` for each ``(key, args)`` of
    ``calls`` to ``client``'s cluster and yield ``(key, value, None)`` or
    ``(key, None, exception)`` as each finishes, in completion order.

    ``shared`` values (arrays) are sent to every worker once, not with each
    call; ``args`` should be small (specs, names, paths). Each call runs with
    its worker's share of BLAS threads (:func:`shares`). When the caller stops
    early (an exception, Ctrl-C, ``close()``), what is still queued or
    running is cancelled."""
    distributed = _distributed()
    limits = shares(client)
    sent = tuple(client.scatter(list(shared), broadcast=True)) if shared else ()
    tag = uuid.uuid4().hex[:8]
    futures: dict[Any, Any] = {}
    try:
        for key, args in calls:
            future = client.submit(with_share, limits, function, *args, *sent, key=f"{name}-{key}-{tag}", pure=False)
            futures[future] = key
        for future in distributed.as_completed(futures, loop=client.loop):
            key = futures[future]
            if future.status == "finished":
                yield key, future.result(), None
            else:
                yield key, None, _exception(future)
            future.release()
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise


def _exception(future: Any) -> BaseException:
    try:
        return future.exception()
    except BaseException as exc:  # noqa: BLE001 — a cancelled future raises instead of returning its exception
        return exc


def with_share(limits: dict[str, int], function: Callable[..., Any], *args: Any) -> Any:
    """Run on a worker: ``function(*args)`` with the worker's share of BLAS threads."""
    from distributed import get_worker

    from .runtime.threads import blas_threads

    with blas_threads(limits.get(get_worker().address, 1)):
        return function(*args)
