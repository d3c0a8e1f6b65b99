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


def _frame_swapper(astronaut, astronaut_face) -> FrameSwapper:
    # process swaps a still at the template's size and marks it as a still: the conveyor's frame
    # swapper here swaps at that size too, and neither marks, so the two must agree bit for bit.
    swapper = ClassicalSwapper(fit_crop=False)
    return FrameSwapper(swapper, [swapper.encode_source([astronaut], [astronaut_face])], watermark=False)


def _run(stages, closers, frames) -> RecordingSink:
    """The frames through the stages, ordered (convert's links); the conveyor's objects closed after."""
    sink = RecordingSink()
    try:
        Pipeline(FrameListSource(frames), stages, sink, live=False).run()
    finally:
        for c in closers:
            c.close()
    return sink


def _assert_every_frame_swapped_as_process_does(sink: RecordingSink, frames, fs: FrameSwapper) -> None:
    assert [p.index for p in sink.packets] == list(range(len(frames)))
    for packet in sink.packets:
        frame = frames[packet.index]
        assert packet.faces and not np.array_equal(packet.image, frame)  # every frame had its face swapped
        np.testing.assert_array_equal(packet.image, fs.process(frame.copy(), packet.faces))


@pytest.mark.parametrize("swap_in", ["thread", "process"])
def test_the_conveyors_frames_equal_frame_swapper_process(astronaut, astronaut_face, swap_in):
    fs = _frame_swapper(astronaut, astronaut_face)
    frames = conveyor_clip(astronaut)
    stages, closers = swap_conveyor(ready(fs), "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    swap_workers=2, swap_in=swap_in)
    _assert_every_frame_swapped_as_process_does(_run(stages, closers, frames), frames, fs)


def test_the_tracker_runs_ahead_while_the_swapper_loads_and_every_frame_comes_out_swapped(astronaut, astronaut_face):
    """convert: the swapper loads (~2 s on 2 cores) while the target's frames are tracked. Here it
    arrives only once the tracker has done every frame; the plan stage's deep input holds them."""
    fs = _frame_swapper(astronaut, astronaut_face)
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
    threading.Thread(target=load, daemon=True).start()
    _assert_every_frame_swapped_as_process_does(_run(stages, closers, frames), frames, fs)


def test_a_swapper_that_fails_to_load_ends_the_run_with_its_error(astronaut):
    loading: Future = Future()
    loading.set_exception(RswapError("no face found in source image me.jpg"))
    stages, closers = swap_conveyor(loading, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    plan_ahead=4)
    sink = RecordingSink()
    with pytest.raises(RswapError, match="no face found in source"):
        try:
            Pipeline(FrameListSource(conveyor_clip(astronaut)), stages, sink, live=False).run()
        finally:
            for c in closers:
                c.close()
    assert sink.packets == []
