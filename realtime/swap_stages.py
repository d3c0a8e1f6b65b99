"""The track, plan, swap and paste stages: rswap.swap.FrameSwapper split across threads.

`track` finds the faces; `plan` cuts out the aligned crops of those to swap; `swap` runs the
swapper on the crops (the heavy part); `paste` blends the results back into the frame.
Splitting them lets the paste of frame n and the tracking of frame n+2 overlap the swap of
frame n+1. The swap stage is the conveyor's slowest on a CPU, so it does nothing else: the plan
(face selection and the aligned crop, ~0.5 ms at 720p) runs after tracking, in the track stage's
thread, or (convert) in a thread of its own with a deep input: the swapper may still be loading
when the conveyor starts (a `Future`), and the tracker then runs ahead on the target's frames
meanwhile. All read the preview's Controls, so the hotkeys take effect on the next frame.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from rswap.face.options import AnalysisOptions
from rswap.provenance.badge import draw_badge
from rswap.swap.frame import FrameSwapper

from realtime.controls import Controls
from realtime.identity_cache import TrackIdentityCache
from realtime.packet import Packet
from realtime.pipeline import Stage


def ready(frame_swapper: FrameSwapper) -> Future:
    """A loaded swapper in the form the stages take (a swapper still loading is a Future too)."""
    loaded: Future = Future()
    loaded.set_result(frame_swapper)
    return loaded


class TrackStage:
    """packet.faces <- the tracker's faces."""

    def __init__(self, tracker):
        self.tracker = tracker

    def __call__(self, packet: Packet) -> Packet:
        return self.tracker(packet)


class PlanStage:
    """packet.jobs <- the aligned crops of the faces to swap. Waits for the swapper on its first frame."""

    def __init__(self, frame_swapper: Future, controls: Controls | None = None,
                 identity_cache: TrackIdentityCache | None = None):
        self.fs = frame_swapper
        self.controls = controls or Controls()
        self.identity_cache = identity_cache

    def __call__(self, packet: Packet) -> Packet:
        if not self.controls.swap or not packet.faces:
            packet.jobs = []
            return packet
        fs = self.fs.result()
        if self.identity_cache is not None:
            self.identity_cache.annotate(packet.image, packet.faces)
        jobs = fs.plan(packet.image, packet.faces)
        n = len(fs.sources)
        for job in jobs:  # the 'next source' hotkey rotates which identity each face gets
            job.source_index = (job.source_index + self.controls.source_index) % n
        packet.jobs = jobs
        return packet


class TrackAndPlan:
    """Both in one thread (live: a hand-off fewer)."""

    def __init__(self, track: TrackStage, plan: PlanStage):
        self.track, self.plan = track, plan

    def __call__(self, packet: Packet) -> Packet:
        return self.plan(self.track(packet))


class SwapStage:
    """packet.jobs <- swapped: the swapper on the crops the plan stage cut out."""

    def __init__(self, frame_swapper: Future):
        self.fs = frame_swapper

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:
            packet.jobs = self.fs.result().swap(packet.jobs)
        return packet


class PasteStage:
    def __init__(self, frame_swapper: Future, controls: Controls | None = None):
        self.fs = frame_swapper
        self.controls = controls or Controls()

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:  # the packet owns its frame (every source hands out a new array): paste into it
            packet.image = self.fs.result().paste(packet.image, packet.jobs, in_place=packet.image.flags.writeable)
        packet.jobs = None  # crops are no longer needed: free them before the sink
        if self.controls.label:  # on every output frame, swapped or not: the stream is rswap's
            packet.image = draw_badge(np.array(packet.image))
        return packet


def swap_conveyor(frame_swapper: Future, face_select: str, analysis: AnalysisOptions | None = None,
                  controls: Controls | None = None, swap_workers: int = 1, detector=None, swap_in: str = "thread",
                  plan_ahead: int | None = None):
    """The track -> (plan ->) swap -> paste stages shared by `live` and `convert`, and the objects to
    close when the pipeline ends (the tracker's mediapipe graphs, the identity worker, the swap's
    child processes). `frame_swapper`: a Future of the FrameSwapper (`ready` for a loaded one).
    `analysis`: how faces are found and followed (max faces, detection cadence,
    smoothing, search duty); `detector`: the box detector it names, already loaded (None:
    mediapipe's); `swap_in`: the swap stage in threads of this process or in child processes,
    one per worker (--swap-in, realtime.swap_process.choose_swap_in). `plan_ahead`: the plan in
    a stage of its own whose input holds this many frames, so the tracker runs on while the
    swapper loads (None: the plan in the track stage's thread). Child processes and reference
    selection are built from the loaded swapper: they wait for it here."""
    from realtime.tracking import FaceTracker

    # Before anything is started: a wrong choice fails first. (swap_process is imported only for
    # it: it imports the compositor's compiled kernels, which the swapper's load imports too, and
    # the tracker would wait for that import to start: 0.6-0.9 s on 2 cores.)
    place = "thread"
    if swap_in != "thread":
        from realtime.swap_process import choose_swap_in

        place = choose_swap_in(swap_in, frame_swapper.result())
    analysis = analysis or AnalysisOptions()
    # "largest" needs one tracked face (the analyser returns the largest first); "center"
    # must see several to pick the one nearest the middle.
    max_faces = analysis.max_faces or (1 if face_select == "largest" else 4)
    tracker = FaceTracker(replace(analysis, max_faces=max_faces), detector)
    closers = [tracker]
    try:
        identities = TrackIdentityCache(frame_swapper.result().embed) if face_select == "reference" else None
        if identities is not None:
            closers.append(identities)
        if place == "process":
            from realtime.swap_process import ProcessSwapStage

            swap = ProcessSwapStage(frame_swapper.result(), swap_workers)
        else:
            swap = SwapStage(frame_swapper)
    except BaseException:
        for c in closers:
            c.close()
        raise
    if place == "process":
        closers.append(swap)
    track, plan = TrackStage(tracker), PlanStage(frame_swapper, controls, identities)
    planning = [Stage("track", TrackAndPlan(track, plan))] if plan_ahead is None else [
        Stage("track", track), Stage("plan", plan, depth=plan_ahead)]
    stages = [
        *planning,
        Stage("swap", swap, workers=swap_workers),
        Stage("paste", PasteStage(frame_swapper, controls)),
    ]
    return stages, closers
