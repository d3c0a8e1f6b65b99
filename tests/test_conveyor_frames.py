"""The swap split across the conveyor's threads (track: plan; swap, two workers; paste) gives
the one-call path's pictures (FrameSwapper.process), frame for frame and in order; so does the
swap stage in child processes (--swap-in process: two workers, two children), and so does
convert's conveyor when the swapper is still loading as it starts."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest

from realtime.pipeline import Pipeline, Stage
from realtime.swap_stages import ready, swap_conveyor
from realtime.testing import FrameListSource, RecordingSink
from rswap.errors import RswapError
from rswap.face.options import AnalysisOptions
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
    stages, closers = swap_conveyor(ready(fs), "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    swap_workers=2, swap_in=swap_in)
    sink = RecordingSink()
    try:
        Pipeline(FrameListSource(frames), stages, sink, live=False).run()
    finally:
        for c in closers:
            c.close()
    assert [p.index for p in sink.packets] == list(range(len(frames)))
    swapped = 0
    for packet in sink.packets:
        frame = frames[packet.index]
        np.testing.assert_array_equal(packet.image, fs.process(frame.copy(), packet.faces))
        swapped += bool(packet.faces) and not np.array_equal(packet.image, frame)
    assert swapped == len(frames)  # every frame had its face swapped


def test_the_tracker_runs_ahead_while_the_swapper_loads_and_every_frame_comes_out_swapped(astronaut, astronaut_face):
    """convert: the swapper loads (~2 s on 2 cores) while the target's frames are tracked. Here it
    arrives only once the tracker has done every frame; the plan stage's deep input holds them."""
    swapper = ClassicalSwapper(fit_crop=False)
    fs = FrameSwapper(swapper, [swapper.encode_source([astronaut], [astronaut_face])], watermark=False)
    frames = conveyor_clip(astronaut)
    loading: Future = Future()
    stages, closers = swap_conveyor(loading, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    swap_workers=2, plan_ahead=len(frames))
    tracked = threading.Semaphore(0)
    track = stages[0].fn

    def counting(packet):
        packet = track(packet)
        tracked.release()
        return packet

    def load():
        if all(tracked.acquire(timeout=60) for _ in frames):
            loading.set_result(fs)
        else:  # the tracker stalled on the plan stage: end the run rather than hang it
            loading.set_exception(AssertionError("the tracker stopped before the swapper was loaded"))

    assert [s.name for s in stages] == ["track", "plan", "swap", "paste"]
    stages[0] = Stage("track", counting)
    sink = RecordingSink()
    threading.Thread(target=load, daemon=True).start()
    try:
        Pipeline(FrameListSource(frames), stages, sink, live=False).run()
    finally:
        for c in closers:
            c.close()
    assert [p.index for p in sink.packets] == list(range(len(frames)))
    for packet in sink.packets:
        frame = frames[packet.index]
        assert packet.faces and not np.array_equal(packet.image, frame)
        np.testing.assert_array_equal(packet.image, fs.process(frame.copy(), packet.faces))


def test_a_swapper_that_fails_to_load_ends_the_run_with_its_error(astronaut):
    loading: Future = Future()
    loading.set_exception(RswapError("no face found in source image me.jpg"))
    stages, closers = swap_conveyor(loading, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    plan_ahead=4)
    sink = RecordingSink()
    try:
        with pytest.raises(RswapError, match="no face found in source"):
            Pipeline(FrameListSource(conveyor_clip(astronaut)), stages, sink, live=False).run()
    finally:
        for c in closers:
            c.close()
    assert sink.packets == []
