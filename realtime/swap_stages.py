"""The swap and paste stages: rswap.swap.FrameSwapper split across two threads.

`swap` aligns the selected faces and runs the swapper on the crops (the heavy part);
`paste` blends the results back into the frame. Splitting them lets the paste of
frame n overlap the swap of frame n+1. Both read the preview's Controls, so the
hotkeys take effect on the next frame.
"""

from __future__ import annotations

from realtime.identity_cache import TrackIdentityCache
from realtime.packet import Packet
from realtime.sinks import Controls


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
            self.identity_cache.annotate(packet.image, packet.faces, packet.extra.get("ended_tracks", ()))
        jobs = self.fs.plan(packet.image, packet.faces)
        n = len(self.fs.sources)
        for job in jobs:  # the 'next source' hotkey rotates which identity each face gets
            job.source_index = (job.source_index + self.controls.source_index) % n
        packet.jobs = self.fs.swap(jobs)
        return packet


class PasteStage:
    def __init__(self, frame_swapper):
        self.fs = frame_swapper

    def __call__(self, packet: Packet) -> Packet:
        if packet.jobs:
            packet.image = self.fs.paste(packet.image, packet.jobs)
        packet.jobs = None  # crops are no longer needed: free them before the sink
        return packet
