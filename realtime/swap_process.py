"""The conveyor's swap stage in child processes: the swap with its own interpreter and GIL.

Why: on 2 cores the live conveyor is bound by its swap thread (the classical swapper, ~12 ms a
frame at 720p), and the time it holds the GIL the track and paste threads cannot overlap (the ninth
session estimated half of it; a probe measured ~1 ms of a 9 ms swap in the eleventh: RESULTS.md).
A child process has its own GIL: only the pickling of the swapper's inputs and outputs stays in
the parent. Measured at 720p and capacity on 2 cores: one child is no faster than the thread (the
GIL cost the thread ~1-1.5 ms a frame, the IPC costs ~0.9); two (`--swap-workers 2`) looked ahead in
10 s runs (threaded ÷ sequential 1.50 against 1.40, means of 8 rounds) but not over 45-60 s: 75.5 and
80.2 fps against the thread's 77.4-78.6, with the two cores full (each child's swap 17.8 ms) and
10-20 ms more p95 latency. So it is an option for boxes with more cores than this one, not the default.

    parent swap-stage thread                    child (spawned once)
      start:  (swapper, sources) pickled  --->   kept for the run
      frame:  [(crop, landmarks, source index)] --->  swapper.swap_batch
              <---  [(crop, mask)] (+ the child's seconds)

What crosses per frame is only the swapper's inputs and outputs (~0.5 MB at a 256² crop:
crop 192 KB in, crop 192 KB + float mask 256 KB out), sent as pickle protocol 5 bytes over a
Pipe. The faces, the crops' transforms and the hands' masks (job.keep) stay in the parent: the
paste needs them, and the keep is taken out of the mask there (compositor.with_results), as the
thread path does. Numbers: benchmarks/RESULTS.md, issue 11, tenth session (swap in a process).

Which swappers can move is declared (Swapper.moves_to_process): the classical one (numpy and
dataclasses) can; the learned ones hold an onnxruntime / TensorRT / torch session and keep the
thread stage, as does the device compositor (its crops are tensors on the GPU).

Start: a `spawn` context (the parent runs mediapipe's and OpenCV's threads; forking a process
with threads can copy a held lock and hang). The child imports numpy, OpenCV and the swapper's
module and loads the compiled kernels from numba's on-disk cache (cold: it compiles them once,
~13 s on the first swap; warm: ready in ~0.8 s), and sets glibc's malloc to keep freed memory
(`keep_freed_memory`).
Failure and shutdown: the child ignores SIGINT (a Ctrl-C in the terminal reaches the whole
process group; the parent decides when the child ends), and ends when the parent sends the
empty message, closes its end, or dies (the child's read gives EOF). The parent waits for each
reply in short polls and checks the child is alive, so a killed or crashed child is one
RswapError, never a hang; close() asks, waits, then terminates and kills.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import platform
import pickle
import queue
import signal
import time
from typing import Any

from rswap.errors import RswapError
from rswap.swap.base import SwapResult
from rswap.swap.compositor import with_results
from rswap.swap.options import SWAP_IN

from realtime.packet import Packet

_PROTOCOL = 5
_POLL_S = 0.1  # how often a waiting parent checks that its child is alive
START_TIMEOUT_S = 300.0  # a cold start compiles the swapper's kernels in the child (measured: see RESULTS)
_CLOSE_WAIT_S = 5.0
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)


def choose_swap_in(choice: str, frame_swapper) -> str:
    """'thread' or 'process' for the conveyor's swap stage, checked before anything starts. 'process'
    is an error where the swapper cannot move, the crops live on a device, or this is a daemonic
    process (a batch convert's pool worker may not have children; the batch's parallel jobs already
    use the cores). The thread is the default: it has the lower latency, and on this project's 2-core
    box a single child was no faster (benchmarks/RESULTS.md, issue 11, tenth session)."""
    if choice not in SWAP_IN:
        raise RswapError(f"unknown swap place {choice!r}; choose one of {', '.join(SWAP_IN)}")
    if choice == "thread":
        return "thread"
    if multiprocessing.current_process().daemon:
        raise RswapError("--swap-in process: a batch job's worker cannot start a swap process; use --swap-in thread")
    movable = frame_swapper.swapper.moves_to_process and frame_swapper.compositor.where == "host"
    if not movable:
        raise RswapError(f"--swap-in process: the {frame_swapper.swapper.name} swapper "
                         f"{'on device compose ' if frame_swapper.compositor.where != 'host' else ''}"
                         "cannot run in a child process (it holds an inference session); use --swap-in thread")
    return "process"


def _child_main(conn) -> None:
    """The child: take the swapper and sources, then swap frames until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends the child (see the module's docstring)
    from realtime.threads import opencv_threads

    keep_freed_memory()
    # OpenCV as in the conveyor's threads (one thread on few cores, realtime.threads), for the child's life
    with opencv_threads(len(os.sched_getaffinity(0))):
        _serve(conn)


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks of up to 32 MB in the child's heap instead of handing them
    back to the kernel. Without it each of a swap's ~1 MB arrays was a fresh mmap whose pages fault in
    on first touch: ~1030 minor faults a swap, and the swap took 11.3-11.8 ms in the child against
    9.5-9.9 with this (`getrusage`, benchmarks/RESULTS.md, issue 11, tenth session). The parent escapes
    it by chance: mediapipe's large frees raise glibc's dynamic threshold there. Other C libraries
    (macOS, musl) are left as they are."""
    if platform.libc_ver()[0] != "glibc":
        return
    libc = ctypes.CDLL(None)
    libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest allowed value on 64-bit
    libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)


def _serve(conn) -> None:
    try:
        swapper, sources = pickle.loads(conn.recv_bytes())
        conn.send_bytes(pickle.dumps(("ready", None, 0.0), protocol=_PROTOCOL))
        while True:
            message = conn.recv_bytes()
            if not message:
                return
            crops, landmarks, indices = pickle.loads(message)
            t0 = time.perf_counter()
            try:
                results = swapper.swap_batch(crops, landmarks, [sources[i] for i in indices])
                reply = ("ok", [(r.crop, r.mask) for r in results], time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001 - reported by the parent as one RswapError
                reply = ("error", f"{type(e).__name__}: {e}", 0.0)
            conn.send_bytes(pickle.dumps(reply, protocol=_PROTOCOL))
    except (EOFError, OSError, BrokenPipeError):  # the parent is gone: nothing to answer
        return


class SwapProcess:
    """One child running a swapper; `swap` from one thread at a time."""

    def __init__(self, swapper, sources: list[Any]):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_end = ctx.Pipe()
        self.process = ctx.Process(target=_child_main, args=(child_end,), name="rswap-swap", daemon=True)
        self.started_at = time.perf_counter()
        self.process.start()
        child_end.close()  # the child's end lives in the child only: its death is EOF here
        try:
            self._conn.send_bytes(pickle.dumps((swapper, sources), protocol=_PROTOCOL))
        except (OSError, BrokenPipeError):  # it died starting (spawn re-imports the main script: see close)
            raise RswapError(self._ended()) from None
        self.start_seconds: float | None = None
        self.child_seconds = 0.0  # the last frame's swap time inside the child (the rest is IPC)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        self._reply(timeout)
        self.start_seconds = time.perf_counter() - self.started_at

    def swap(self, crops: list, landmarks: list, indices: list[int]) -> list[SwapResult]:
        try:
            self._conn.send_bytes(pickle.dumps((crops, landmarks, indices), protocol=_PROTOCOL))
        except (OSError, BrokenPipeError):
            raise RswapError(self._ended()) from None
        return [SwapResult(crop, mask) for crop, mask in self._reply()]

    def _reply(self, timeout: float | None = None):
        deadline = None if timeout is None else time.perf_counter() + timeout
        while not self._conn.poll(_POLL_S):
            if not self.process.is_alive():
                raise RswapError(self._ended())
            if deadline is not None and time.perf_counter() > deadline:
                raise RswapError(f"the swap process did not start within {timeout:g} s")
        try:
            status, payload, seconds = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            raise RswapError(self._ended()) from None
        if status == "error":
            raise RswapError(f"the swap failed in its process: {payload}")
        self.child_seconds = seconds
        return payload

    def _ended(self) -> str:
        self.process.join(1.0)
        code = self.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return f"the swap process ended unexpectedly ({how}); the stream stops here"

    def close(self) -> None:
        """Ask the child to end; terminate, then kill it if it does not. Safe to call twice."""
        if self.process.is_alive():
            try:
                self._conn.send_bytes(b"")
            except (OSError, BrokenPipeError):
                pass
            self.process.join(_CLOSE_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(_CLOSE_WAIT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(_CLOSE_WAIT_S)
        self._conn.close()


class ProcessSwapStage:
    """The swap stage's function with the swap in child processes: one per worker thread (each
    worker takes a free child for its frame), started together and waited for once."""

    def __init__(self, frame_swapper, workers: int = 1):
        self.fs = frame_swapper
        self.children: list[SwapProcess] = []
        try:
            for _ in range(workers):
                self.children.append(SwapProcess(frame_swapper.swapper, frame_swapper.sources))
            for child in self.children:
                child.wait_ready()
        except BaseException:
            self.close()
            raise
        self._free: queue.SimpleQueue[SwapProcess] = queue.SimpleQueue()
        for child in self.children:
            self._free.put(child)

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:
            child = self._free.get()
            try:
                jobs = packet.jobs
                results = child.swap([j.crop for j in jobs], [j.landmarks for j in jobs], [j.source_index for j in jobs])
                packet.jobs = with_results(jobs, results)
                packet.timings["swap child"] = child.child_seconds  # the rest of the stage's time is IPC and waits
            finally:
                self._free.put(child)
        return packet

    def close(self) -> None:
        for child in self.children:
            child.close()
