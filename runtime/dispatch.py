"""Calling a JIT-compiled CPU kernel in microseconds.

A kernel's `@<name>_tasks(args..., lo, hi)` entry (see gir-task-driver) runs tasks lo..hi-1. Each
call goes through MLIR's packed interface, `void f(void **slots)`, where slot i points at argument
i's value. `TaskRunner` builds those slot arrays once — one per chunk of tasks, all sharing one
array of buffer addresses — so a call only writes the addresses and makes one foreign call per
chunk; nothing is traced, parsed or allocated per call beyond that.

Chunks run on the caller's thread and on a persistent pool of helper threads. Helpers *steal*:
the chunks of a call sit in a list that the caller and every woken helper pop from, so a helper
that the OS wakes late (2 busy cores) costs nothing — the caller has done the work meanwhile.
ctypes releases the GIL around each foreign call, so chunks truly run in parallel.
"""
from __future__ import annotations

import ctypes
import os
import threading
from queue import SimpleQueue

CORES = len(os.sched_getaffinity(0))


class WorkerPool:
    """Daemon helper threads, started once and parked on a queue between calls."""

    def __init__(self):
        self._wake: SimpleQueue = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def ensure(self, helpers: int) -> None:
        if len(self._threads) >= helpers:
            return
        with self._lock:
            while len(self._threads) < helpers:
                t = threading.Thread(target=self._loop, name=f"girflow-cpu-{len(self._threads)}", daemon=True)
                t.start()
                self._threads.append(t)

    def _loop(self) -> None:
        while True:
            fn, todo, done = self._wake.get()
            _drain(fn, todo, done)

    def run(self, fn, chunks: list[int], helpers: int) -> None:
        """Run fn(chunk) for every chunk (slot-array addresses) on the caller plus `helpers` threads."""
        self.ensure(helpers)
        todo = list(chunks)
        done: SimpleQueue = SimpleQueue()
        job = (fn, todo, done)
        for _ in range(min(helpers, len(chunks) - 1)):
            self._wake.put(job)
        mine = 0
        pop = todo.pop
        while True:
            try:
                slot = pop()
            except IndexError:
                break
            fn(slot)
            mine += 1
        for _ in range(len(chunks) - mine):   # chunks a helper took: wait until each is done
            done.get()


def _drain(fn, todo: list, done: SimpleQueue) -> None:
    pop = todo.pop
    while True:
        try:
            slot = pop()
        except IndexError:
            return
        fn(slot)
        done.put(None)


POOL = WorkerPool()


class _SlotSet:
    """The packed-argument arrays of one in-flight call: addresses, and one slot array per chunk."""

    __slots__ = ("values", "chunks", "first", "_keep")

    def __init__(self, nargs: int, ranges: list[tuple[int, int]]):
        self.values = (ctypes.c_void_p * max(nargs, 1))()
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
        self._keep = keep


def split_tasks(tasks: int, chunks: int) -> list[tuple[int, int]]:
    """`chunks` contiguous, near-equal ranges covering 0..tasks-1."""
    chunks = max(1, min(chunks, tasks))
    return [(tasks * c // chunks, tasks * (c + 1) // chunks) for c in range(chunks)]


class TaskRunner:
    """`run(addresses)`: the kernel's tasks over the buffers at `addresses` (inputs, then outputs)."""

    def __init__(self, entry_address: int, nargs: int, tasks: int, threads: int | None = None):
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(entry_address)
        self.nargs, self.tasks = nargs, tasks
        self.threads = max(1, min(tasks, threads or CORES))
        # one chunk per task when parallel (helpers steal them), one chunk in all when serial
        self._ranges = split_tasks(tasks, tasks if self.threads > 1 else 1)
        self._free: list[_SlotSet] = []

    def run(self, addresses) -> None:
        free = self._free
        try:
            slots = free.pop()
        except IndexError:             # first call, or a concurrent call holds the other sets
            slots = _SlotSet(self.nargs, self._ranges)
        try:
            slots.values[:] = addresses
            if self.threads == 1:
                self._fn(slots.first)
            else:
                POOL.run(self._fn, slots.chunks, self.threads - 1)
        finally:
            free.append(slots)
