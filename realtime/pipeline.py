"""The conveyor: source thread -> stage threads -> sink, joined by one link per hop.

    source --link--> stage 1 --link--> ... --link--> stage n --link--> sink

Every stage is one thread running one function on one frame at a time, so frames
stay in order and work on different frames overlaps (numpy, OpenCV and mediapipe
release the GIL while they compute; benchmarks/latency.py measures what that buys).
The sink runs on the calling thread: GUI toolkits want their window on the main
thread, and Ctrl-C is delivered there.

live=True links keep only the newest frame (stale ones are dropped and counted), and a
stage takes a new frame only once the frame it last handed on has been taken: the frames
that go stale are then dropped at the source's link, before any work is spent on them. (When
the track stage ran freely ahead of the slower swap, a third of the frames it tracked were
dropped at the swap's input: on 2 cores that tracking took CPU from the swap. A stage
that is one worker ahead of a slower one also waits until that one is due to finish, less
its own time, so the frame it takes is the newest; benchmarks/RESULTS.md, issue 11, fifth
session.)
live=False links are bounded FIFOs: lossless and ordered, for file conversion.

Shutdown, whatever its cause (end of file, duration reached, the sink asking to
quit, Ctrl-C/SIGTERM, a stage failing): the stop event is set, the source closes its link,
END flows down through every stage, each thread exits and is joined, and the source
is closed before run() returns. The sink is closed (file finalized) only when the stream
ended as asked; after an interrupt or a failure it is aborted (`sink.abort(error)`): an
interrupt is not the end of the stream, and a converter must not rename a file that
holds part of its input into place. (A live recording may keep what it has: the sink
decides, see FileSink.abort.) The interrupt itself propagates to the caller.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from realtime.packet import END, Packet
from realtime.queues import make_link
from realtime.stats import StatsRecorder

StageFn = Callable[[Packet], "Packet | None"]  # None: the frame goes no further
_TYPICAL_WEIGHT = 0.1  # of the newest call in a stage's running mean time
_SPARE = 1.125  # live: a stage starts this much of its own time early (see Pipeline._await_room)


@dataclass
class Stage:
    name: str
    fn: StageFn
    # Threads running `fn` side by side on successive frames, for a stage slower than the
    # others (fn must then be thread-safe). Live: a frame finished after a newer one is
    # dropped as late. Ordered (convert): each frame waits for its turn, none is dropped.
    # Either way frames leave in order.
    workers: int = 1

    def __post_init__(self):
        if self.workers < 1:
            raise ValueError(f"stage {self.name!r} needs at least one worker, got {self.workers}")


def run_in_order(stages: list[Stage], packet: Packet) -> Packet:
    """One frame through `stages` one after the other in this thread, each stage's time in
    packet.timings: the sequential loop (benchmarks/latency.py) and a child process's frame
    (realtime.swap_process)."""
    for stage in stages:
        t0 = time.perf_counter()
        packet = stage.fn(packet)
        packet.timings[stage.name] = time.perf_counter() - t0
    return packet


class _Turns:
    """Order for an ordered stage's workers: a frame's turn is numbered as it is taken from
    the input link (one taker at a time, so turns follow the stream), and it may go on only
    when every earlier turn has."""

    def __init__(self):
        self._take = threading.Lock()
        self._cond = threading.Condition()
        self._issued = 0
        self._next = 0

    def take(self, link):
        with self._take:
            item = link.get(timeout=0.1)
            if item is None or item is END:
                return item, None
            self._issued += 1
            return item, self._issued - 1

    def wait(self, turn: int, stop: threading.Event) -> bool:
        """Until `turn` is next (True), or stop is set (False: an earlier frame failed)."""
        with self._cond:
            while self._next != turn:
                if stop.is_set():
                    return False
                self._cond.wait(0.05)
            return True

    def done(self) -> None:
        with self._cond:
            self._next += 1
            self._cond.notify_all()


WARMUP_LIMIT = 60.0  # seconds a run with a `duration` waits for its first measured frame


class Pipeline:
    def __init__(self, source, stages: list[Stage], sink, live: bool = True, queue_size: int = 4,
                 duration: float | None = None, join_timeout: float = 10.0, warmup_frames: int = 0):
        self.source = source
        self.stages = list(stages)
        self.sink = sink
        self.live = live
        self.duration = duration
        self.join_timeout = join_timeout
        self.stop = threading.Event()
        self.stats = StatsRecorder(warmup_frames)
        self.errors: list[BaseException] = []
        names = ["source", *[s.name for s in self.stages]]
        self.links = [make_link(live, f"{a}->{b}", queue_size) for a, b in zip(names, names[1:] + ["sink"])]
        self.threads: list[threading.Thread] = []
        self._late: dict[str, int] = {}
        self._newest_out: dict[str, int] = {}
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next = {a.name: b for a, b in zip(self.stages, self.stages[1:])}
        self._typical = {s.name: 0.0 for s in self.stages}  # seconds a call takes, a running mean
        # Ordered mode: a stage with several workers lets its frames out in the order they came in.
        self._turns = {s.name: _Turns() for s in self.stages if s.workers > 1 and not live}

    # -- threads -------------------------------------------------------------
    def _source_loop(self) -> None:
        link = self.links[0]
        try:
            index = 0
            while not self.stop.is_set():
                got = self.source.read(self.stop)
                if got is None:
                    break
                image, pts = got
                if not link.put(Packet(index, image, time.perf_counter(), pts), self.stop):
                    break
                index += 1
                self.stats.captured = index
        except BaseException as e:  # noqa: BLE001 - reported by run()
            self._fail(e)
        finally:
            link.close()

    def _stage_loop(self, stage: Stage, inq, outq) -> None:
        turns = self._turns.get(stage.name)
        try:
            while True:
                if self.live:
                    self._await_room(stage, outq)
                item, turn = turns.take(inq) if turns else (inq.get(timeout=0.1), None)
                if item is None:
                    continue
                if item is END:
                    break
                t0 = time.perf_counter()
                out = stage.fn(item)
                item.timings[stage.name] = took = time.perf_counter() - t0
                self._typical[stage.name] += (took - self._typical[stage.name]) * _TYPICAL_WEIGHT
                if turns is not None:
                    if not turns.wait(turn, self.stop):
                        break
                    try:
                        if out is not None and not outq.put(out, self.stop):
                            break
                    finally:
                        turns.done()
                    continue
                if out is not None and stage.workers > 1 and not self._in_order(stage.name, out.index):
                    continue
                if out is not None and not outq.put(out, self.stop):
                    break
        except BaseException as e:  # noqa: BLE001
            self._fail(e)
        finally:
            with self._lock:
                self._running[stage.name] -= 1
                last = self._running[stage.name] == 0
            if last:  # the stage's last worker closes its output
                outq.close()

    def _await_room(self, stage: Stage, outq) -> None:
        """Live: start on a new frame only when the result can go on soon. First until the
        next stage has taken the frame handed on last (no work on a frame that would only
        replace the one still waiting); then, when that stage is one worker slower than this
        one, until it is due to finish less this stage's own time (its typical times, with
        an eighth to spare), so the frame taken is the newest and waits little once done."""
        outq.wait_taken(self.stop)
        after = self._next.get(stage.name)
        if after is None or after.workers > 1:
            return
        lead = self._typical[after.name] - self._typical[stage.name] * _SPARE
        delay = outq.taken_at + lead - time.perf_counter()
        if delay > 0:
            self.stop.wait(delay)

    def _in_order(self, name: str, index: int) -> bool:
        with self._lock:
            if index <= self._newest_out.get(name, -1):
                self._late[name] = self._late.get(name, 0) + 1
                return False
            self._newest_out[name] = index
            return True

    def _fail(self, error: BaseException) -> None:
        self.errors.append(error)
        self.stop.set()

    # -- driver --------------------------------------------------------------
    def run(self) -> StatsRecorder:
        """Run until the stream ends or stop is requested; returns the stats. Closes source and sink."""
        failure: BaseException | None = None
        try:
            self.source.open()
            self.sink.open(self.source.size, self.source.fps)
            self._start_threads()
            self._sink_loop()
        except BaseException as e:  # Ctrl-C / SIGTERM in the sink's thread, or a sink failing
            failure = e
            raise
        finally:
            self._shut_down(failure)
        if self.errors:
            raise self.errors[0]
        return self.stats

    def _shut_down(self, failure: BaseException | None) -> None:
        """Stop and join the threads, close the source, then finish or abort the sink. An
        interrupt arriving in the middle (the stream had ended, the threads are being joined)
        still reaches the sink, as an abort."""
        try:
            self.stop.set()
            self._join()
            self.source.close()
        except BaseException as e:
            failure = failure or e
            raise
        finally:
            failure = failure or (self.errors[0] if self.errors else None)
            if failure is None:
                self.sink.close()
            else:
                self.sink.abort(failure)
            for link in self.links:
                self.stats.dropped[link.name] = link.dropped
            for name, n in self._late.items():
                self.stats.dropped[f"{name} (late)"] = n
            self.stats.dropped.update(self.source.dropped)

    def _start_threads(self) -> None:
        self.threads.append(threading.Thread(target=self._source_loop, name="rswap-source", daemon=True))
        for stage, inq, outq in zip(self.stages, self.links, self.links[1:]):
            self._running[stage.name] = stage.workers
            for w in range(stage.workers):
                self.threads.append(threading.Thread(
                    target=self._stage_loop, args=(stage, inq, outq), name=f"rswap-{stage.name}-{w}", daemon=True))
        for t in self.threads:
            t.start()

    def _sink_loop(self) -> None:
        last = self.links[-1]
        # `duration` counts from the first measured frame (after the warm-up ones): a warm-up
        # slowed by a loaded box or a model's first runs still leaves `duration` seconds of
        # measured frames (a 1.5 s benchmark run on a busy box once measured none). A run that
        # measures no frame stops WARMUP_LIMIT seconds in.
        deadline = None if self.duration is None else time.perf_counter() + max(self.duration, WARMUP_LIMIT)
        measuring = False
        while True:  # a KeyboardInterrupt here propagates: run() aborts the sink
            item = last.get(timeout=0.05)
            if item is END:
                return
            if item is not None:
                t0 = time.perf_counter()
                keep_going = self.sink.write(item)
                now = time.perf_counter()
                item.timings["sink"] = now - t0
                self.stats.record(item, now)
                if not measuring and self.stats.delivered and deadline is not None:
                    measuring, deadline = True, now + self.duration
                if keep_going is False:
                    self.stop.set()
            if deadline is not None and time.perf_counter() >= deadline:
                self.stop.set()

    def _join(self) -> None:
        end = time.perf_counter() + self.join_timeout
        for t in self.threads:
            t.join(max(0.0, end - time.perf_counter()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            self.errors.append(RuntimeError(f"pipeline threads did not stop: {', '.join(stuck)}"))
