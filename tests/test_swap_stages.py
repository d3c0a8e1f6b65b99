"""The track stage plans (which faces, which source, the aligned crops) and the swap stage only swaps."""

from __future__ import annotations

import numpy as np

from realtime.controls import Controls
from realtime.packet import Packet
from realtime.swap_stages import SwapStage, TrackStage
from realtime.tracking import FaceTracker
from rswap.face.options import AnalysisOptions
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.frame import FrameSwapper


def test_track_stage_plans_with_the_hotkeys_and_the_swap_stage_swaps_its_crops(astronaut, astronaut_face):
    swapper = ClassicalSwapper()
    source = swapper.encode_source([astronaut], [astronaut_face])
    fs = FrameSwapper(swapper, [source, source])
    controls = Controls()
    tracker = FaceTracker(AnalysisOptions(max_faces=1, detect_every=0, smooth=False))
    track, swap = TrackStage(tracker, fs, controls), SwapStage(fs)
    try:
        packet = track(Packet(0, astronaut.copy(), 0.0, 0.0))
        assert len(packet.faces) == 1 and len(packet.jobs) == 1
        job = packet.jobs[0]
        # the astronaut's face spans ~170 pixels of the photo: cut at 176² (fitted_template)
        assert job.source_index == 0 and job.crop.shape == (176, 176, 3) and job.result is None
        assert swap(packet).jobs[0] is job and job.result is not None  # the planned job, swapped
        assert job.result.crop.shape == job.crop.shape and not np.array_equal(job.result.crop, job.crop)

        controls.source_index = 1  # the 'next source' hotkey
        assert track(Packet(1, astronaut.copy(), 0.0, 1 / 30)).jobs[0].source_index == 1
        controls.swap = False  # the swap hotkey off: faces still tracked, nothing to swap
        packet = swap(track(Packet(2, astronaut.copy(), 0.0, 2 / 30)))
        assert len(packet.faces) == 1 and packet.jobs == []
    finally:
        tracker.close()
