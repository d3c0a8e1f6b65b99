"""The swap and paste stages: rswap.swap.FrameSwapper split across two threads.

`swap` aligns the selected faces and runs the swapper on the crops (the heavy part);
`paste` blends the results back into the frame. Splitting them lets the paste of
frame n overlap the swap of frame n+1. Both read the preview's Controls, so the
hotkeys take effect on the next frame.
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


class SwapStage:
    def __init__(self, frame_swapper, controls: Controls | None = None, identity_cache: TrackIdentityCache | None = None):
        self.fs = frame_swapper
        self.controls = controls or Controls()
        self.identity_cache = identity_cache

    def __call__(self, packet: Packet) -> Packet:
        if not self.controls.swap or not packet.faces:
            packet.jobs = []
            return packet
        if self.identity_cache is not None:
            self.identity_cache.annotate(packet.image, packet.faces)
        jobs = self.fs.plan(packet.image, packet.faces)
        n = len(self.fs.sources)
        for job in jobs:  # the 'next source' hotkey rotates which identity each face gets
            job.source_index = (job.source_index + self.controls.source_index) % n
        packet.jobs = self.fs.swap(jobs)
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
                  controls: Controls | None = None, swap_workers: int = 1, detector=None):
    """The track -> swap -> paste stages shared by `live` and `convert`, and the objects to
    close when the pipeline ends (the tracker's mediapipe graphs, the identity worker).
    `analysis`: how faces are found and followed (max faces, detection cadence, smoothing,
    search duty); `detector`: the box detector it names, already loaded (None: mediapipe's)."""
    from realtime.tracking import FaceTracker

    analysis = analysis or AnalysisOptions()
    # "largest" needs one tracked face (the analyser returns the largest first); "center"
    # must see several to pick the one nearest the middle.
    max_faces = analysis.max_faces or (1 if face_select == "largest" else 4)
    tracker = FaceTracker(replace(analysis, max_faces=max_faces), detector)
    identities = TrackIdentityCache(frame_swapper.embed) if face_select == "reference" else None
    stages = [
        Stage("track", tracker),
        Stage("swap", SwapStage(frame_swapper, controls, identities), workers=swap_workers),
        Stage("paste", PasteStage(frame_swapper, controls)),
    ]
    return stages, [c for c in (tracker, identities) if c is not None]
