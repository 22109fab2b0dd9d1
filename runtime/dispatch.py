"""Calling a JIT-compiled CPU kernel in microseconds.

A kernel's `@<name>_tasks(args..., lo, hi)` entry (see gir-task-driver) runs tasks lo..hi-1. Each
call goes through MLIR's packed interface, `void f(void **slots)`, where slot i points at argument
i's value. `TaskRunner` builds those slot arrays once — one per chunk of tasks, all sharing one
array of buffer addresses — so a call only writes the addresses and makes one foreign call;
nothing is traced, parsed or allocated per call beyond that.

Serial kernels call their one chunk directly. Parallel kernels hand their chunks to the native
task pool (runtime/native/task_pool.c): the caller and persistent pthread helpers claim chunks,
helpers spin a few microseconds between calls and then sleep, and nothing touches Python or the
GIL while the kernel runs. A parked Python helper thread woke tens of microseconds late on a busy
2-core machine, which is the whole runtime of a kernel over a few MB. Once torch is loaded, the
pool hands parallel calls to torch's own OpenMP team instead (`use_openmp_team`): its workers
spin after every torch op, and the pool's helpers would compete with them for the cores.
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings
from typing import Any

from girflow.runtime.native import native_library

CORES = len(os.sched_getaffinity(0))
SPIN_US_ENV = "GIRFLOW_SPIN_US"
DEFAULT_SPIN_US = 50     # long enough to catch the next kernel of a model, short enough to give a
                         # torch op that follows its cores back (OpenMP's default spins for ms)


def _load_pool():
    """The native task pool's `gf_pool_run`, or None where the library was not built (then
    parallel kernels run all their chunks on the caller, with a warning)."""
    path = native_library(os.path.join(os.path.dirname(os.path.abspath(__file__)), "native"), "_task_pool")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    run = lib.gf_pool_run
    run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    run.restype = None
    global _POOL_ADDRESS
    _POOL_ADDRESS = ctypes.cast(run, ctypes.c_void_p).value or 0
    lib.gf_pool_set_spin_us.argtypes = [ctypes.c_int]
    global _SET_SPIN, _USE_OPENMP
    _SET_SPIN = lib.gf_pool_set_spin_us
    lib.gf_pool_use_openmp.argtypes = [ctypes.c_void_p]
    _USE_OPENMP = lib.gf_pool_use_openmp
    text = os.environ.get(SPIN_US_ENV, "").strip()
    _SET_SPIN(int(text) if text.isdigit() else DEFAULT_SPIN_US)
    return run


_SET_SPIN = None
_USE_OPENMP = None
_POOL_ADDRESS = 0          # gf_pool_run's address, for the native launcher
_POOL_RUN = _load_pool()


def _load_launcher():
    """The native `Launcher` type (runtime/native/launch.c), or None where it was not built (then
    calls go through ctypes, a few hundred nanoseconds slower)."""
    try:
        from girflow.runtime.native._launch import Launcher
    except ImportError:
        return None
    return Launcher


Launcher = _load_launcher()
OPENMP_TEAM_ENV = "GIRFLOW_OPENMP_TEAM"
_team: dict[str, Any] = {"bound": False, "runtime": None}


def _loaded_openmp_runtime() -> str | None:
    """The OpenMP runtime torch loaded into this process (libgomp, libomp or libiomp5), read from
    /proc/self/maps; None without torch or where the maps cannot be read."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        with open("/proc/self/maps") as f:
            paths = {parts[5] for parts in map(str.split, f) if len(parts) >= 6}
    except OSError:
        return None
    omp = sorted(p for p in paths if os.path.basename(p).startswith(("libgomp", "libomp", "libiomp5")))
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__ or ""))
    omp.sort(key=lambda p: not p.startswith(torch_dir))    # torch's own copy first
    return omp[0] if omp else None


def use_openmp_team(enable: bool = True) -> str | None:
    """Run parallel kernels on the OpenMP team of the runtime torch loaded (its workers, which
    spin after every torch op, would otherwise compete with the pool's helpers for the cores);
    `enable=False`, or GIRFLOW_OPENMP_TEAM=0, keeps the pool's own helpers. Returns the runtime's
    path, or None where the pool's helpers run."""
    _team["bound"] = True
    _team["runtime"] = None
    address = None
    if enable and _USE_OPENMP is not None:
        path = _loaded_openmp_runtime()
        try:
            entry = ctypes.CDLL(path).GOMP_parallel if path else None
        except (OSError, AttributeError):
            entry = None
        if entry is not None:
            address = ctypes.cast(entry, ctypes.c_void_p).value
            _team["runtime"] = path
    if _USE_OPENMP is not None:
        _USE_OPENMP(address)
    return _team["runtime"]


def _bind_team() -> None:
    """Once torch is loaded, join its OpenMP team (unless GIRFLOW_OPENMP_TEAM=0)."""
    if not _team["bound"] and "torch" in sys.modules:
        use_openmp_team(os.environ.get(OPENMP_TEAM_ENV, "1").strip() != "0")


def set_spin_us(us: int) -> None:
    """How long the pool's helpers wait, spinning, for the next parallel call before they sleep
    (also the GIRFLOW_SPIN_US environment variable; 0: sleep at once, least CPU on a shared machine)."""
    if _SET_SPIN is not None:
        _SET_SPIN(int(us))


def _serial_pool_run(fn_address: int, chunks_address: int, n: int, threads: int) -> None:
    if not getattr(_serial_pool_run, "warned", False):
        _serial_pool_run.warned = True   # type: ignore[attr-defined]
        warnings.warn("girflow's native task pool is not built (run `pip install -e .`); "
                      "parallel kernels run on one thread", RuntimeWarning, stacklevel=3)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(fn_address)
    for slot in (ctypes.c_void_p * n).from_address(chunks_address):
        fn(slot)


POOL_RUN = _POOL_RUN or _serial_pool_run


class _SlotSet:
    """The packed-argument arrays of one in-flight call: addresses, and one slot array per chunk."""

    __slots__ = ("values", "chunks", "first", "chunk_array", "_keep")

    def __init__(self, nargs: int, ranges: list[tuple[int, int]], workspace_bytes: int = 0):
        self.values = (ctypes.c_void_p * max(nargs, 1))()
        if workspace_bytes:   # the last argument: this call's own scratch (concurrent calls never share)
            space = ctypes.create_string_buffer(workspace_bytes + 64)
            self.values[nargs - 1] = (ctypes.addressof(space) + 63) // 64 * 64
        base = ctypes.addressof(self.values)
        size = ctypes.sizeof(ctypes.c_void_p)
        keep, chunks = [], []
        for lo, hi in ranges:
            bounds = (ctypes.c_int64 * 2)(lo, hi)
            packed = (ctypes.c_void_p * (nargs + 2))(*[base + size * i for i in range(nargs)],
                                                      ctypes.addressof(bounds), ctypes.addressof(bounds) + 8)
            keep += [bounds, packed]
            chunks.append(ctypes.addressof(packed))
        self.chunks = chunks
        self.first = chunks[0]
        array = (ctypes.c_void_p * len(chunks))(*chunks)
        self.chunk_array = ctypes.addressof(array)
        self._keep = keep + [array] + ([space] if workspace_bytes else [])


def split_tasks(tasks: int, chunks: int) -> list[tuple[int, int]]:
    """`chunks` contiguous, near-equal ranges covering 0..tasks-1."""
    chunks = max(1, min(chunks, tasks))
    return [(tasks * c // chunks, tasks * (c + 1) // chunks) for c in range(chunks)]


class TaskRunner:
    """`run(addresses)`: the kernel's tasks over the buffers at `addresses` (inputs, then outputs).

    A kernel whose reduced axis is split (gir.schedule `split`) also has a combine entry, called
    after the tasks with the same arguments, and a workspace for the parts' partial results: its
    last argument, `workspace_bytes` long, owned by each slot set (so by each call in flight)."""

    def __init__(self, entry_address: int, nargs: int, tasks: int, threads: int | None = None,
                 combine_address: int | None = None, workspace_bytes: int = 0):
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(entry_address)
        self._address = entry_address
        self.nargs, self.tasks = nargs, tasks
        self.threads = max(1, min(tasks, threads or CORES))
        # one chunk per task when parallel (the caller and helpers claim them), one in all when serial
        self._ranges = split_tasks(tasks, tasks if self.threads > 1 else 1)
        self._free: list[_SlotSet] = []
        self._workspace = workspace_bytes
        self._combine = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(combine_address) if combine_address else None
        # the native launcher: the same call in C (slot arrays on the C stack, one workspace per
        # call in flight), where it was built
        self._launcher_args = (entry_address, nargs, self._ranges, self.threads, _POOL_ADDRESS,
                               combine_address or 0, workspace_bytes)
        self.native = None if Launcher is None else Launcher(*self._launcher_args)
        if self.native is not None:
            self.run = self.native.run         # type: ignore[method-assign]
        if self.threads > 1:
            _bind_team()

    def bound_call(self, makers: tuple, data_ptr, fallback):
        """A native `call(args, out)` of this kernel for one argument signature: each argument's
        address through `data_ptr`, outputs from `makers`, then the kernel; `fallback(args, out)`
        takes every other call (an out=). None where the native launcher was not built."""
        if Launcher is None:
            return None
        launcher = Launcher(*self._launcher_args)
        launcher.bind(makers, data_ptr, fallback)
        return launcher.call

    def run(self, addresses) -> None:
        """The Python/ctypes path (builds without the native launcher): the tasks, then, for a
        split kernel, the combine step on this thread with the slot set's own workspace."""
        free = self._free
        combine = self._combine
        try:
            slots = free.pop()
        except IndexError:             # first call, or a concurrent call holds the other sets
            slots = _SlotSet(self.nargs, self._ranges, self._workspace)
        try:
            slots.values[:self.nargs - 1 if combine is not None else self.nargs] = addresses
            if self.threads == 1:
                self._fn(slots.first)
            else:
                POOL_RUN(self._address, slots.chunk_array, len(slots.chunks), self.threads)
            if combine is not None:
                combine(slots.first)     # its packed arguments are the first nargs slots of a chunk
        finally:
            free.append(slots)
