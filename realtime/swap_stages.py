"""The track, swap and paste stages: rswap.swap.FrameSwapper split across three threads.

`track` finds the faces and cuts out the aligned crops of those to swap (`plan`); `swap`
runs the swapper on the crops (the heavy part); `paste` blends the results back into the
frame. Splitting them lets the paste of frame n and the tracking of frame n+2 overlap the
swap of frame n+1. The swap stage is the conveyor's slowest on a CPU, so it does nothing
else: the plan (face selection and the aligned crop, ~0.5 ms at 720p) runs after tracking,
in the track stage's thread. All read the preview's Controls, so the hotkeys take effect on
the next frame. With --swap-in process the three run one after the other in child processes,
each child on whole frames (realtime.swap_process): the conveyor is then one stage.
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


# Live swap workers where --swap-workers is not given. Threads: one (a second swap thread raised the
# delivered rate little and the latency much on 2 cores: benchmarks/RESULTS.md, issue 11, fifth
# session). Processes: two, one a core of a 2-core box (one child runs the sequential loop's pace).
LIVE_SWAP_WORKERS = {"thread": 1, "process": 2}


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
                  controls: Controls | None = None, swap_workers: int | None = None, detector=None, swap_in: str = "auto"):
    """The stages shared by `live` and `convert`, and the objects to close when the pipeline ends
    (the tracker's mediapipe graphs, the identity worker, the child processes). `analysis`: how
    faces are found and followed (max faces, detection cadence, smoothing, search duty); `detector`:
    the box detector it names, already loaded (None: mediapipe's); `swap_in`: "thread" runs track ->
    swap -> paste in threads of this process, `swap_workers` threads in the swap stage; "process"
    runs all three on whole frames in `swap_workers` child processes, one stage of that many workers;
    "auto": process where it can run (--swap-in, realtime.swap_process). `swap_workers` None: live's
    default for the place (LIVE_SWAP_WORKERS)."""
    from realtime.swap_process import ProcessSwapStage, choose_swap_in

    place = choose_swap_in(swap_in, frame_swapper, face_select, detector)  # before anything starts: a wrong choice fails first
    workers = swap_workers or LIVE_SWAP_WORKERS[place]
    if place == "process":
        frames = ProcessSwapStage(frame_swapper, face_select, _for_selection(analysis, face_select), controls, workers)
        return [Stage("frame", frames, workers=workers)], [frames]
    return track_swap_paste(frame_swapper, face_select, analysis, controls, detector, workers)


def track_swap_paste(frame_swapper, face_select: str, analysis: AnalysisOptions | None = None,
                     controls: Controls | None = None, detector=None, swap_workers: int = 1):
    """The track, swap and paste stages (as swap_conveyor's), and what to close after: the threaded
    conveyor's, and what a child process runs on each frame it is given (realtime.swap_process)."""
    from realtime.tracking import FaceTracker

    tracker = FaceTracker(_for_selection(analysis, face_select), detector)
    identities = TrackIdentityCache(frame_swapper.embed) if face_select == "reference" else None
    stages = [
        Stage("track", TrackStage(tracker, frame_swapper, controls, identities)),
        Stage("swap", SwapStage(frame_swapper), workers=swap_workers),
        Stage("paste", PasteStage(frame_swapper, controls)),
    ]
    return stages, [c for c in (tracker, identities) if c is not None]


def _for_selection(analysis: AnalysisOptions | None, face_select: str) -> AnalysisOptions:
    """`analysis` with its max faces set where it leaves them open: "largest" needs one tracked face
    (the analyser returns the largest first); "center" must see several to pick the one nearest the middle."""
    analysis = analysis or AnalysisOptions()
    return replace(analysis, max_faces=analysis.max_faces or (1 if face_select == "largest" else 4))
