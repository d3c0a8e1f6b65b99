"""The track, swap and paste stages: rswap.swap.FrameSwapper split across three threads.

`track` finds the faces and cuts out the aligned crops of those to swap (`plan`); `swap`
runs the swapper on the crops (the heavy part); `paste` blends the results back into the
frame. Splitting them lets the paste of frame n and the tracking of frame n+2 overlap the
swap of frame n+1. The swap stage is the conveyor's slowest on a CPU, so it does nothing
else: the plan (face selection and the aligned crop, ~0.5 ms at 720p) runs after tracking,
in the track stage's thread. All read the preview's Controls, so the hotkeys take effect on
the next frame.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rswap.face.options import AnalysisOptions
from rswap.provenance.badge import draw_badge

from realtime.controls import Controls
from realtime.identity_cache import TrackIdentityCache
from realtime.packet import Packet
from realtime.pipeline import Stage


class TrackStage:
    """packet.faces <- the tracker's faces; packet.jobs <- the aligned crops of those to swap."""

    def __init__(self, tracker, frame_swapper, controls: Controls | None = None,
                 identity_cache: TrackIdentityCache | None = None):
        self.tracker = tracker
        self.fs = frame_swapper
        self.controls = controls or Controls()
        self.identity_cache = identity_cache

    def __call__(self, packet: Packet) -> Packet:
        packet = self.tracker(packet)
        if not self.controls.swap or not packet.faces:
            packet.jobs = []
            return packet
        if self.identity_cache is not None:
            self.identity_cache.annotate(packet.image, packet.faces)
        jobs = self.fs.plan(packet.image, packet.faces)
        n = len(self.fs.sources)
        for job in jobs:  # the 'next source' hotkey rotates which identity each face gets
            job.source_index = (job.source_index + self.controls.source_index) % n
        packet.jobs = jobs
        return packet


class SwapStage:
    """packet.jobs <- swapped: the swapper on the crops the track stage cut out."""

    def __init__(self, frame_swapper):
        self.fs = frame_swapper

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:
            packet.jobs = self.fs.swap(packet.jobs)
        return packet


class PasteStage:
    def __init__(self, frame_swapper, controls: Controls | None = None):
        self.fs = frame_swapper
        self.controls = controls or Controls()

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:  # the packet owns its frame (every source hands out a new array): paste into it
            packet.image = self.fs.paste(packet.image, packet.jobs, in_place=packet.image.flags.writeable)
        packet.jobs = None  # crops are no longer needed: free them before the sink
        if self.controls.label:  # on every output frame, swapped or not: the stream is rswap's
            packet.image = draw_badge(np.array(packet.image))
        return packet


def swap_conveyor(frame_swapper, face_select: str, analysis: AnalysisOptions | None = None,
                  controls: Controls | None = None, swap_workers: int = 1, detector=None, swap_in: str = "thread"):
    """The track -> swap -> paste stages shared by `live` and `convert`, and the objects to
    close when the pipeline ends (the tracker's mediapipe graphs, the identity worker, the swap's
    child processes). `analysis`: how faces are found and followed (max faces, detection cadence,
    smoothing, search duty); `detector`: the box detector it names, already loaded (None:
    mediapipe's); `swap_in`: the swap stage in threads of this process or in child processes,
    one per worker (--swap-in, realtime.swap_process.choose_swap_in)."""
    from realtime.swap_process import ProcessSwapStage, choose_swap_in
    from realtime.tracking import FaceTracker

    place = choose_swap_in(swap_in, frame_swapper)  # before anything is started: a wrong choice fails first
    analysis = analysis or AnalysisOptions()
    # "largest" needs one tracked face (the analyser returns the largest first); "center"
    # must see several to pick the one nearest the middle.
    max_faces = analysis.max_faces or (1 if face_select == "largest" else 4)
    tracker = FaceTracker(replace(analysis, max_faces=max_faces), detector)
    identities = TrackIdentityCache(frame_swapper.embed) if face_select == "reference" else None
    closers = [c for c in (tracker, identities) if c is not None]
    try:
        swap = ProcessSwapStage(frame_swapper, swap_workers) if place == "process" else SwapStage(frame_swapper)
    except BaseException:
        for c in closers:
            c.close()
        raise
    if place == "process":
        closers.append(swap)
    stages = [
        Stage("track", TrackStage(tracker, frame_swapper, controls, identities)),
        Stage("swap", swap, workers=swap_workers),
        Stage("paste", PasteStage(frame_swapper, controls)),
    ]
    return stages, closers
