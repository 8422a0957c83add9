"""Where solver queries run: in this process, on a pool of worker processes, or on Ray.

An :class:`Executor` maps a picklable function over a list of tasks and returns the results in
order. The engine hands it chunks of canonical queries, so the results never depend on the
executor or on how many workers it has. Every built-in executor pickles (its pool does not
travel: it is started again, lazily, in the process that uses it).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Executor", "SerialExecutor", "ProcessExecutor", "RayExecutor", "make_executor"]

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(task)`` for every task, possibly in parallel; results in task order."""

    @property
    def workers(self) -> int:
        """How many tasks may run at once (the engine splits its queries into this many chunks)."""
        ...

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in the calling process."""

    workers = 1

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        return [fn(t) for t in tasks]

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A pool of ``workers`` processes (``concurrent.futures``), started on first use.

    ``initializer(*initargs)`` runs once in each worker, e.g. to compile a formula. The default
    start method is ``fork`` where it exists (workers start in milliseconds, with the parent's
    modules already imported), else ``spawn``; with ``spawn`` or ``forkserver`` the main module
    must be importable (guard scripts with ``if __name__ == "__main__"``). Inside a daemonic
    process (a DataLoader worker), which may not have children, tasks run serially instead.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        start_method: str | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        count = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        if method not in methods:
            raise ValueError(f"start method {method!r} is not available here; choose one of: {', '.join(methods)}")
        self._workers = count
        self.start_method = method
        self.initializer = initializer
        self.initargs = initargs
        self._pool: ProcessPoolExecutor | None = None
        self._pid = -1

    @property
    def workers(self) -> int:
        return 1 if multiprocessing.current_process().daemon else self._workers

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None or self._pid != os.getpid():  # a pool never crosses a fork
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context(self.start_method),
                initializer=self.initializer, initargs=self.initargs,
            )
            self._pid = os.getpid()
        return self._pool

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        if self.workers == 1:
            return [fn(t) for t in tasks]
        return list(self._get_pool().map(fn, tasks))

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pool": None, "_pid": -1}


def _call(fn: Callable[[T], R], task: T) -> R:
    return fn(task)


class RayExecutor:
    """Tasks as Ray remote calls, for solving that outgrows one machine.

    Ray is imported on first use (``pip install ray``); ``ray.init(**init_kwargs)`` is called then
    unless Ray is already initialised (pass ``address="auto"`` to join a cluster). Each Ray
    worker process compiles a layer's formula once, on its first task for that layer.
    """

    def __init__(self, workers: int | None = None, **init_kwargs: Any) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self._workers = workers
        self.init_kwargs = init_kwargs
        self._remote: Any = None

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ImportError("the ray executor needs Ray: pip install ray") from None
        if not ray.is_initialized():
            ray.init(**self.init_kwargs)
        if self._remote is None:
            self._remote = ray.remote(_call)
        return ray

    @property
    def workers(self) -> int:
        if self._workers is None:
            self._workers = max(1, int(self._ray().cluster_resources().get("CPU", 1)))
        return self._workers

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        ray = self._ray()
        shared = ray.put(fn)
        return list(ray.get([self._remote.remote(shared, t) for t in tasks]))

    def close(self) -> None:
        """Leaves Ray running: other executors or the caller may share it (``ray.shutdown()``)."""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_remote": None}


def make_executor(
    name: str,
    workers: int | None = None,
    *,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Executor:
    """A built-in executor by name: ``serial``, ``process`` or ``ray``."""
    if name == "serial":
        return SerialExecutor()
    if name == "process":
        return ProcessExecutor(workers, initializer=initializer, initargs=initargs)
    if name == "ray":
        return RayExecutor(workers)
    raise ValueError(f"unknown executor {name!r}; choose one of: serial, process, ray (or pass an Executor)")
