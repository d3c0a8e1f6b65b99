"""The swap split across the conveyor's threads (track: plan; swap, two workers; paste) gives
the one-call path's pictures (FrameSwapper.process), frame for frame and in order; so does the
swap stage in child processes (--swap-in process: two workers, two children), which also paste
and mark the frame in shared memory."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.pipeline import Pipeline
from realtime.swap_stages import swap_conveyor
from realtime.testing import FrameListSource, RecordingSink
from rswap.face.options import AnalysisOptions
from rswap.provenance.watermark import detect
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.frame import FrameSwapper
from rswap.testing.render import moving_face_frames


def conveyor_clip(astronaut):
    """Ten frames of the mirrored astronaut's head moving a little (480x270)."""
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    return list(moving_face_frames(head, (480, 270), 10, scale=0.9, amplitude=0.15))


@pytest.mark.parametrize("swap_in", ["thread", "process"])
def test_the_conveyors_frames_equal_frame_swapper_process(astronaut, astronaut_face, swap_in):
    # process swaps a still at the template's size and marks it as a still: the conveyor's frame
    # swapper here swaps at that size too, and neither marks, so the two must agree bit for bit.
    swapper = ClassicalSwapper(fit_crop=False)
    fs = FrameSwapper(swapper, [swapper.encode_source([astronaut], [astronaut_face])], watermark=False)
    frames = conveyor_clip(astronaut)
    packets = convert_through_conveyor(fs, frames, swap_in)
    assert [p.index for p in packets] == list(range(len(frames)))
    swapped = 0
    for packet in packets:
        frame = frames[packet.index]
        np.testing.assert_array_equal(packet.image, fs.process(frame.copy(), packet.faces))
        swapped += bool(packet.faces) and not np.array_equal(packet.image, frame)
    assert swapped == len(frames)  # every frame had its face swapped


def test_in_child_processes_a_frame_comes_back_swapped_and_marked_as_in_this_one(astronaut, astronaut_face):
    # The children paste the faces and add the video mark into the shared frame: what comes back is
    # this process's plan, swap and paste of the same faces, mark included, bit for bit.
    swapper = ClassicalSwapper()
    fs = FrameSwapper(swapper, [swapper.encode_source([astronaut], [astronaut_face])])
    frames = conveyor_clip(astronaut)
    packets = convert_through_conveyor(fs, frames, "process")
    assert [p.index for p in packets] == list(range(len(frames)))
    assert_swapped_here(fs, frames, packets)
    assert detect([p.image for p in packets]).found


def convert_through_conveyor(fs, frames, swap_in: str, detect_every: int = 0, swap_workers: int = 2) -> list:
    """The packets of `frames` through the ordered conveyor (as convert runs it), the stages closed after."""
    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(max_faces=1, detect_every=detect_every, smooth=False),
                                    swap_workers=swap_workers, swap_in=swap_in)
    sink = RecordingSink()
    try:
        Pipeline(FrameListSource(frames), stages, sink, live=False).run()
    finally:
        for c in closers:
            c.close()
    return sink.packets


def assert_swapped_here(fs, frames, packets) -> None:
    """Every packet holds a face, and its image is this process's plan, swap and paste (video mark) of it."""
    for packet in packets:
        frame = frames[packet.index]
        assert packet.faces
        np.testing.assert_array_equal(packet.image, fs.paste(frame.copy(), fs.swap(fs.plan(frame, packet.faces))))
