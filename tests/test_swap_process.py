"""The swap stage in a child process (realtime.swap_process): where it may go, what happens when
the child dies mid-stream, and that closing the conveyor leaves no child behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from realtime.pipeline import Pipeline
from realtime.swap_process import ProcessSwapStage, choose_swap_in
from realtime.swap_stages import swap_conveyor
from realtime.testing import FrameListSource, RecordingSink
from rswap.errors import RswapError
from rswap.face.options import AnalysisOptions
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.frame import FrameSwapper
from rswap.testing.render import moving_face_frames
from tests.test_conveyor_frames import assert_swapped_here, conveyor_clip, convert_through_conveyor

JOIN_S = 60.0  # a bound on the whole run: a hang fails the test instead of stalling the suite


def _frame_swapper(astronaut, astronaut_face) -> FrameSwapper:
    swapper = ClassicalSwapper()
    return FrameSwapper(swapper, [swapper.encode_source([astronaut], [astronaut_face])], watermark=False)


def _children(closers):
    return [c.process for closer in closers if isinstance(closer, ProcessSwapStage) for c in closer.children]


def test_only_a_swapper_that_moves_on_host_compose_with_mediapipe_alone_goes_to_a_process():
    def fs(moves: bool, where: str = "host"):
        return SimpleNamespace(swapper=SimpleNamespace(name="x", moves_to_process=moves), compositor=SimpleNamespace(where=where))

    assert choose_swap_in("thread", fs(True)) == "thread"
    assert choose_swap_in("process", fs(True)) == "process"
    for any_swapper in (fs(False), fs(True, "cuda:0")):
        assert choose_swap_in("thread", any_swapper) == "thread"
    for cannot in (fs(False), fs(True, "cuda:0")):
        with pytest.raises(RswapError, match="--swap-in thread"):
            choose_swap_in("process", cannot)
    with pytest.raises(RswapError, match="unknown swap place"):
        choose_swap_in("elsewhere", fs(True))
    # a loaded detector model and reference selection's embedder hold sessions too
    with pytest.raises(RswapError, match="the --detector model cannot run in a child process"):
        choose_swap_in("process", fs(True), detector=object())
    with pytest.raises(RswapError, match="face embedder cannot run in a child process"):
        choose_swap_in("process", fs(True), face_select="reference")
    assert choose_swap_in("process", fs(True), face_select="all") == "process"
    assert ClassicalSwapper.moves_to_process


class _KillingFrames(FrameListSource):
    """Frames that kill the swap's child (SIGKILL) once `after` frames have been read."""

    def __init__(self, frames, after: int):
        super().__init__(frames)
        self.after, self.child = after, None

    def read(self, stop):
        if self._i == self.after:
            os.kill(self.child.pid, signal.SIGKILL)
        return super().read(stop)


def test_a_killed_swap_process_ends_the_stream_with_one_error(astronaut, astronaut_face):
    fs = _frame_swapper(astronaut, astronaut_face)
    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    swap_workers=1, swap_in="process")
    source = _KillingFrames(conveyor_clip(astronaut) * 3, after=4)
    (source.child,) = _children(closers)
    outcome = []

    def run():
        try:
            Pipeline(source, stages, RecordingSink(), live=False, join_timeout=10.0).run()
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - looked at below
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    try:
        worker.start()
        worker.join(JOIN_S)
        assert not worker.is_alive(), "the pipeline hung after its swap process was killed"
    finally:
        for c in closers:
            c.close()
    (error,) = outcome
    assert isinstance(error, RswapError)
    assert "swap process ended unexpectedly (killed by signal 9)" in str(error)


def test_closing_the_conveyor_leaves_no_swap_process(astronaut, astronaut_face):
    fs = _frame_swapper(astronaut, astronaut_face)
    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False),
                                    swap_workers=2, swap_in="process")
    children = _children(closers)
    assert len(children) == 2 and all(p.is_alive() for p in children)  # one child per worker
    try:
        sink = RecordingSink()
        Pipeline(FrameListSource(conveyor_clip(astronaut)[:3]), stages, sink, live=False).run()
        assert len(sink.packets) == 3
    finally:
        for c in closers:
            c.close()
    assert not any(p.is_alive() for p in children)
    assert not set(multiprocessing.active_children()) & set(children)


def test_frames_of_a_new_size_are_swapped_in_a_new_shared_slot(astronaut, astronaut_face):
    # A camera may change its resolution mid-stream: the child's shared frame is made again at the new size.
    # (Detection on every frame: this is about the slot, not how the tracker follows a face across sizes.)
    fs = _frame_swapper(astronaut, astronaut_face)
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    frames = conveyor_clip(astronaut)[:3] + list(moving_face_frames(head, (360, 200), 3, scale=0.9, amplitude=0.1))
    packets = convert_through_conveyor(fs, frames, "process", detect_every=1, swap_workers=1)
    assert [p.image.shape for p in packets] == [f.shape for f in frames]
    assert_swapped_here(fs, frames, packets)


def test_the_hotkeys_reach_the_children_on_the_next_frame(astronaut, astronaut_face):
    # The preview's Controls live in the parent: each frame carries them down. Swap off: the frames
    # come back as they went (faces still tracked); the label on: the badge is drawn in the child.
    from realtime.controls import Controls

    fs = _frame_swapper(astronaut, astronaut_face)
    frames = conveyor_clip(astronaut)[:3]
    controls = Controls(swap=False)
    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(max_faces=1, detect_every=0, smooth=False), controls,
                                    swap_workers=1, swap_in="process")
    try:
        off = RecordingSink()
        Pipeline(FrameListSource(frames), stages, off, live=False).run()
        controls.swap, controls.label = True, True
        on = RecordingSink()
        Pipeline(FrameListSource(frames), stages, on, live=False).run()
    finally:
        for c in closers:
            c.close()
    assert all(p.faces for p in off.packets)
    for packet in off.packets:
        np.testing.assert_array_equal(packet.image, frames[packet.index])
    swapped = [fs.paste(f.copy(), fs.swap(fs.plan(f, p.faces))) for f, p in zip(frames, on.packets)]
    for packet, plain in zip(on.packets, swapped):  # the badge on top of the swap: more than the swap changed
        assert not np.array_equal(packet.image, plain)
        assert np.mean(np.any(packet.image != plain, axis=2)) < 0.2


def test_a_stream_the_first_child_keeps_up_with_stays_on_it(astronaut, astronaut_face):
    # One tracker on every frame where one child is enough (a camera's pace): the second child takes
    # only the frames that arrive while the first is busy (its first frames start its mediapipe graph).
    from realtime.testing import SyntheticSource

    fs = _frame_swapper(astronaut, astronaut_face)
    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(max_faces=1), swap_in="process")
    (frames,) = closers
    try:
        stats = Pipeline(SyntheticSource((480, 270), fps=8, frames=16), stages, RecordingSink(), live=True).run()
    finally:
        for c in closers:
            c.close()
    first, second = (child.frames for child in frames.children)
    assert first + second == stats.delivered >= 12
    assert second <= 2
