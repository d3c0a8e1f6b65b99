"""The conveyor's work on whole frames in child processes: track, swap and paste, each child with
its own interpreter and GIL, the frame handed over through shared memory (--swap-in process).

Why: on 2 cores the threaded conveyor is bound by its swap thread, and its threads pay for each
other: at 720p and capacity they spent 15-20% more CPU a frame than the sequential loop and kept
the two cores ~77% busy (threaded ÷ sequential 1.24-1.5). Two whole sequential loops in two
processes ran at 1.95x one: the cores are not what is shared, the one process is. So each child
runs the sequential loop's stages (track -> swap -> paste, realtime.swap_stages) on the frames it
is given, and the parent keeps only the source, the hand-off and the sink. Two children at 720p
and capacity: 1.5-1.7x the sequential loop against the threads' 1.3-1.5x in the same runs, p95
latency 25-29 ms against 28-35 (RESULTS.md, issue 11, thirty-fourth session). Only the swap and
paste in the children, the tracker left in the parent, bought 2-11% over the threads.

    parent worker thread (one per child)             child (spawned once per worker)
      start:  (frame swapper, face selection, analysis options) pickled
                                                --->  its own tracker and the three stages
      frame:  the frame copied into the child's shared slot;
              (slot, shape, index, times, hotkeys) pickled
                                                --->  track, plan, swap, paste and mark in the slot
              <---  ("ok", (faces, stage times), seconds)
              the finished frame copied back out of the slot

A 720p frame is 2.7 MB: it crosses as two copies in the parent (~0.3 ms each), not as pickled
bytes through a pipe (four copies and the pipe's system calls). The slot is made at the first
frame's size (again if the size changes) and unlinked when the stage closes.

Each child tracks the frames it is given. The first free child takes the frame, so below capacity
(a 30 fps camera on 2 cores) the first child runs every frame with one tracker; at capacity the two
take turns, each on every other frame, and there the landmarks' frame-to-frame jitter (second
difference over time on a smooth made motion, 720p) rose from 0.165 to 0.192 px (p95 0.239 ->
0.293) against one tracker on every frame, the aligned face flicker from 0.05 to 0.12 grey levels.

What can move is declared: the swapper (Swapper.moves_to_process: the classical one's numpy and
dataclasses can; learned ones hold an onnxruntime / TensorRT / torch session), on host compose (the
device compositor's crops are tensors on the GPU), with mediapipe's own detector (a loaded SCRFD
session cannot be pickled) and a face selection that needs no embedder ("reference" runs one).

Start: a `spawn` context (the parent runs mediapipe's and OpenCV's threads; forking a process
with threads can copy a held lock and hang). The child imports numpy, OpenCV, mediapipe and the
swapper's module, loads the compiled kernels from numba's on-disk cache (cold: it compiles them
once, ~13 s on the first swap; warm: ready in ~1-2 s), and sets glibc's malloc to keep freed memory
(`keep_freed_memory`).
Failure and shutdown: the child ignores SIGINT (a Ctrl-C in the terminal reaches the whole
process group; the parent decides when the child ends), and ends when the parent sends the
empty message, closes its end, or dies (the child's read gives EOF). The parent waits for each
reply in short polls and checks the child is alive, so a killed or crashed child is one
RswapError, never a hang; close() asks, waits, then terminates and kills, and unlinks the slot.
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
from multiprocessing import shared_memory

import numpy as np

from rswap.errors import RswapError
from rswap.face.options import AnalysisOptions
from rswap.swap.frame import FrameSwapper
from rswap.swap.options import SWAP_IN

from realtime.controls import Controls
from realtime.packet import Packet
from realtime.pipeline import run_in_order

_PROTOCOL = 5
_POLL_S = 0.1  # how often a waiting parent checks that its child is alive
START_TIMEOUT_S = 300.0  # a cold start compiles the swapper's kernels in the child (measured: see RESULTS)
_CLOSE_WAIT_S = 5.0
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)


def choose_swap_in(choice: str, frame_swapper, face_select: str = "largest", detector=None) -> str:
    """'thread' or 'process' for the conveyor, checked before anything starts. 'auto' is 'process'
    where it can run and the box has two cores or more, else 'thread'; 'process' is an error where
    it cannot (`cannot_move`)."""
    if choice not in SWAP_IN:
        raise RswapError(f"unknown swap place {choice!r}; choose one of {', '.join(SWAP_IN)}")
    if choice == "thread":
        return "thread"
    why = cannot_move(frame_swapper, face_select, detector)
    if choice == "auto":
        return "process" if why is None and len(os.sched_getaffinity(0)) >= 2 else "thread"
    if why is not None:
        raise RswapError(f"--swap-in process: {why}; use --swap-in thread")
    return "process"


def cannot_move(frame_swapper, face_select: str, detector) -> str | None:
    """Why the conveyor cannot run in child processes, or None: the swapper holds an inference
    session or the crops live on a device, the detector is a loaded model (`detector`: None is
    mediapipe's own), the face selection needs the embedder ('reference'), or this is a daemonic
    process (a batch convert's pool worker may not have children; the batch's jobs use the cores)."""
    if multiprocessing.current_process().daemon:
        return "a batch job's worker cannot start child processes"
    if frame_swapper.compositor.where != "host":
        return f"the {frame_swapper.swapper.name} swapper on device compose cannot run in a child process"
    if not frame_swapper.swapper.moves_to_process:
        return f"the {frame_swapper.swapper.name} swapper cannot run in a child process (it holds an inference session)"
    if detector is not None:
        return "the --detector model cannot run in a child process"
    if face_select == "reference":
        return "reference selection's face embedder cannot run in a child process"
    return None


def _child_main(conn) -> None:
    """The child: take the frame swapper and the tracking options, then track, swap and paste frames
    until told to stop or orphaned."""
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
    from realtime.swap_stages import track_swap_paste

    slot = None  # the parent's shared frame, attached by name
    closers = []
    try:
        fs, face_select, analysis = pickle.loads(conn.recv_bytes())
        controls = Controls()
        stages, closers = track_swap_paste(fs, face_select, analysis, controls)
        fs.swapper.warm_up(fs.sources[0])  # not on the first frame: a 0.3 s stall there drops frames live
        conn.send_bytes(pickle.dumps(("ready", None, 0.0), protocol=_PROTOCOL))
        while True:
            message = conn.recv_bytes()
            if not message:
                return
            name, shape, index, capture_ts, pts, (controls.swap, controls.source_index, controls.label) = pickle.loads(message)
            if slot is None or slot.name != name:  # the first frame, or a frame of a new size
                if slot is not None:
                    slot.close()
                slot = shared_memory.SharedMemory(name=name)
            t0 = time.perf_counter()
            try:
                packet = _run(stages, Packet(index, np.ndarray(shape, np.uint8, buffer=slot.buf), capture_ts, pts))
                reply = ("ok", (packet.faces, packet.timings), time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001 - reported by the parent as one RswapError
                reply = ("error", f"{type(e).__name__}: {e}", 0.0)
            packet = None  # no view of the slot may outlive it (SharedMemory.close checks)
            conn.send_bytes(pickle.dumps(reply, protocol=_PROTOCOL))
    except (EOFError, OSError, BrokenPipeError):  # the parent is gone: nothing to answer
        return
    finally:
        for closer in closers:
            closer.close()
        if slot is not None:
            slot.close()


def _run(stages, packet: Packet) -> Packet:
    """The stages on one frame (`run_in_order`); the result left in the frame the packet came with
    (the paste and the mark work in place; the label is a new array)."""
    frame = packet.image
    packet = run_in_order(stages, packet)
    if packet.image is not frame:
        np.copyto(frame, packet.image)
    packet.image = None
    return packet


class SwapProcess:
    """One child tracking, swapping and pasting whole frames; `run` from one thread at a time."""

    def __init__(self, frame_swapper: FrameSwapper, face_select: str, analysis: AnalysisOptions):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_end = ctx.Pipe()
        self.process = ctx.Process(target=_child_main, args=(child_end,), name="rswap-swap", daemon=True)
        self.started_at = time.perf_counter()
        self.process.start()
        child_end.close()  # the child's end lives in the child only: its death is EOF here
        self._slot: shared_memory.SharedMemory | None = None
        self._frame: np.ndarray | None = None  # the slot as a frame
        try:
            self._conn.send_bytes(pickle.dumps((frame_swapper, face_select, analysis), protocol=_PROTOCOL))
        except (OSError, BrokenPipeError):  # it died starting (spawn re-imports the main script: see close)
            raise RswapError(self._ended()) from None
        self.start_seconds: float | None = None
        self.child_seconds = 0.0  # the last frame's stages inside the child (the rest is copies and IPC)
        self.frames = 0  # frames this child has run

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        self._reply(timeout)
        self.start_seconds = time.perf_counter() - self.started_at

    def run(self, packet: Packet, controls: Controls) -> Packet:
        """The packet with its faces tracked, and swapped, pasted and marked into its image (the same
        array where it is writable: a live source hands out a new array a frame; else a new one)."""
        image = packet.image
        frame = self._slot_for(image.shape)
        np.copyto(frame, image)
        hotkeys = (controls.swap, controls.source_index, controls.label)
        try:
            self._conn.send_bytes(pickle.dumps((self._slot.name, image.shape, packet.index, packet.capture_ts, packet.pts,
                                                hotkeys), protocol=_PROTOCOL))
        except (OSError, BrokenPipeError):
            raise RswapError(self._ended()) from None
        packet.faces, timings = self._reply()
        packet.timings.update(timings)
        self.frames += 1
        if image.flags.writeable:
            np.copyto(image, frame)
        else:
            packet.image = frame.copy()
        return packet

    def _slot_for(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._frame is None or self._frame.shape != shape:
            self._free_slot()
            self._slot = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)))
            self._frame = np.ndarray(shape, np.uint8, buffer=self._slot.buf)
        return self._frame

    def _free_slot(self) -> None:
        if self._slot is not None:
            self._frame = None  # no view may outlive the mapping (SharedMemory.close checks)
            self._slot.close()
            self._slot.unlink()
            self._slot = None

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
        """Ask the child to end; terminate, then kill it if it does not; unlink the slot. Safe to call twice."""
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
        self._free_slot()


class ProcessSwapStage:
    """The conveyor's one stage with track, swap and paste in child processes: one child per worker
    thread (each worker takes a free child for its frame), started together and waited for once."""

    def __init__(self, frame_swapper: FrameSwapper, face_select: str, analysis: AnalysisOptions,
                 controls: Controls | None = None, workers: int = 1):
        self.controls = controls or Controls()
        self.children: list[SwapProcess] = []
        try:
            for _ in range(workers):
                self.children.append(SwapProcess(frame_swapper, face_select, analysis))
            for child in self.children:
                child.wait_ready()
        except BaseException:
            self.close()
            raise
        self._free: queue.PriorityQueue[tuple[int, SwapProcess]] = queue.PriorityQueue()  # (its place, child)
        for place, child in enumerate(self.children):
            self._free.put((place, child))

    def __call__(self, packet: Packet) -> Packet:
        # The first free child in their order takes the frame: a stream the first child keeps up with (a
        # 30 fps camera on 2 cores) stays on it, one tracker on every frame; the next only takes the frames
        # that arrive while it is busy. (Taken in turns, two trackers on alternate frames flickered 0.12 grey
        # levels against one tracker's 0.05: RESULTS.md, issue 11, thirty-fourth session.)
        place, child = self._free.get()
        try:
            packet = child.run(packet, self.controls)
            packet.timings["in child"] = child.child_seconds  # the rest of the stage's time is copies, IPC, waits
        finally:
            self._free.put((place, child))
        return packet

    def close(self) -> None:
        for child in self.children:
            child.close()
