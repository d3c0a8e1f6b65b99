"""The conveyor itself, driven by the synthetic camera: order, newest-frame policy, shutdown, stats."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from realtime.pipeline import Pipeline, Stage
from realtime.queues import LatestSlot, OrderedQueue
from realtime.sinks import NullSink
from realtime.testing import RecordingSink, SyntheticSource


def _pipeline_threads():
    return [t for t in threading.enumerate() if t.name.startswith("rswap-")]


def _jittery_stage(name, seed):
    rng = np.random.default_rng(seed)

    def fn(packet):
        time.sleep(float(rng.uniform(0, 0.004)))
        packet.image[0, 0] = packet.index % 256  # each stage touches the frame it was given
        return packet

    return Stage(name, fn)


def test_ordered_mode_delivers_every_frame_in_order():
    sink = RecordingSink()
    source = SyntheticSource((160, 120), fps=None, frames=80)
    p = Pipeline(source, [_jittery_stage("a", 1), _jittery_stage("b", 2)], sink, live=False, queue_size=2)
    stats = p.run()
    assert [pk.index for pk in sink.packets] == list(range(80))
    assert [pk.pts for pk in sink.packets] == sorted(pk.pts for pk in sink.packets)
    assert all(int(pk.image[0, 0, 0]) == pk.index % 256 for pk in sink.packets)  # the frame is its own, not a neighbour's
    assert stats.summary()["dropped_frames"] == 0


def test_live_mode_keeps_newest_frame_and_latency_bounded():
    """A 60 fps source into a stage that takes 40 ms (~25 fps): the stale frames are dropped,
    not queued, so the slow stage works on the newest frame captured (counted in frames, not
    timed: a busy box's stalls only drop more)."""
    newest_behind = []
    holder = {}

    def slow(packet):
        newest_behind.append(holder["p"].stats.captured - 1 - packet.index)
        time.sleep(0.04)
        return packet

    sink = RecordingSink()
    p = holder["p"] = Pipeline(SyntheticSource((160, 120), fps=60, frames=150),
                               [Stage("slow", slow), Stage("fast", lambda pk: pk)], sink)
    stats = p.run()
    s = stats.summary()
    assert s["captured_frames"] == 150
    assert s["dropped_frames"] > 50  # most frames were stale and dropped, not queued
    assert s["delivered_frames"] + s["dropped_frames"] == 150  # every frame is either delivered or counted dropped
    # The frame taken is the newest (or the one captured while it was being taken): no backlog builds up.
    assert np.median(newest_behind) <= 1, newest_behind
    lat = s["e2e_latency_ms"]
    assert lat["n"] == s["delivered_frames"] and 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    indices = [pk.index for pk in sink.packets]
    assert indices == sorted(indices) and len(set(np.diff(indices))) > 1  # in order, with gaps


def test_live_mode_spends_no_work_on_frames_a_slower_stage_would_drop():
    """A fast stage before a slow one takes a new frame only once the slow one has taken its
    last: every frame it works on goes on, and the stale frames are dropped at the source's
    link, before any work (on 2 cores, tracking frames the swap then dropped cost a third of
    the tracking's CPU)."""
    calls = {"fast": 0, "slow": 0}

    def counted(name, seconds):
        def fn(packet):
            calls[name] += 1
            time.sleep(seconds)
            return packet
        return Stage(name, fn)

    sink = RecordingSink()
    p = Pipeline(SyntheticSource((160, 120), fps=100, frames=None), [counted("fast", 0.002), counted("slow", 0.03)],
                 sink, duration=1.0)
    s = p.run().summary()
    assert s["dropped_by_link"]["fast->slow"] == 0
    assert s["dropped_by_link"]["source->fast"] > 30  # the source ran ~3x faster than the slow stage
    assert calls["fast"] <= calls["slow"] + 1  # at most the one frame in hand when the run stopped
    assert len(sink.packets) >= calls["slow"] - 1
    assert not _pipeline_threads()


def test_live_mode_starts_a_fast_stage_late_so_its_frame_is_fresh():
    """Before a slower stage, a fast one starts when the slow one is due to finish (less its own
    time), on the newest frame, instead of working at once and leaving its result to age in the
    link: with 10 ms before 60 ms its result waits ~1 ms for the slow stage, where starting at
    once left it waiting ~50 ms. Asserted against the slow stage's own time in the same run, so
    a slow box does not fail it."""
    fast_done, slow_start, slow_took = {}, {}, []

    def fast(packet):
        time.sleep(0.01)
        fast_done[packet.index] = time.perf_counter()
        return packet

    def slow(packet):
        t0 = slow_start[packet.index] = time.perf_counter()
        time.sleep(0.06)
        slow_took.append(time.perf_counter() - t0)
        return packet

    p = Pipeline(SyntheticSource((160, 120), fps=200, frames=None), [Stage("fast", fast), Stage("slow", slow)],
                 RecordingSink(), duration=2.0, warmup_frames=8)
    s = p.run().summary()
    assert s["delivered_frames"] >= 10
    waits = [slow_start[i] - fast_done[i] for i in sorted(slow_start)][8:]  # after the running means settle
    assert np.median(waits) < np.median(slow_took) / 3, (np.median(waits), np.median(slow_took))
    lat = s["e2e_latency_ms"]
    assert lat["n"] == s["delivered_frames"] and 0 < lat["p50"] <= lat["p95"] <= lat["p99"]


def test_shutdown_by_duration_is_clean_and_quick():
    def slowish(packet):
        time.sleep(0.01)
        return packet

    p = Pipeline(SyntheticSource((160, 120), fps=30, frames=None), [Stage("a", slowish), Stage("b", slowish)], NullSink(),
                 duration=0.5)
    stats = p.run()  # threads that did not stop within join_timeout would raise here
    assert stats.delivered > 0
    assert not _pipeline_threads()


def test_a_warm_up_longer_than_the_duration_still_leaves_the_duration_measured():
    """The duration counts from the first measured frame: a model's slow first runs (or a loaded
    box) once used up a 1.5 s benchmark run before its warm-up frames were through, and the run
    measured nothing."""
    calls = []

    def slow_start(packet):
        calls.append(packet.index)
        time.sleep(0.15 if len(calls) <= 4 else 0.01)
        return packet

    p = Pipeline(SyntheticSource((160, 120), fps=100, frames=None), [Stage("a", slow_start)], NullSink(),
                 duration=0.3, warmup_frames=4)
    s = p.run().summary()
    # Measured: 0 frames when the duration ran from the start (the warm-up alone takes ~0.6 s).
    assert s["delivered_frames"] >= 5 and s["stages_ms"]["a"]["n"] == s["delivered_frames"]


def test_sink_asking_to_quit_stops_the_pipeline():
    class QuitAfter(NullSink):
        def write(self, packet):
            super().write(packet)
            return self.frames < 5

    sink = QuitAfter()
    p = Pipeline(SyntheticSource((160, 120), fps=100, frames=None), [Stage("a", lambda pk: pk)], sink)
    p.run()
    assert 5 <= sink.frames < 20
    assert not _pipeline_threads()


def test_failing_stage_stops_everything_and_reports(monkeypatch):
    closed = []

    class ClosingSink(NullSink):
        def close(self):
            closed.append(True)

    def boom(packet):
        if packet.index == 3:
            raise ValueError("stage broke")
        return packet

    p = Pipeline(SyntheticSource((160, 120), fps=None, frames=None), [Stage("a", boom)], ClosingSink(), live=False)
    with pytest.raises(ValueError, match="stage broke"):
        p.run()
    assert closed and not _pipeline_threads()


def test_stats_json_matches_what_was_delivered(tmp_path):
    sink = RecordingSink()

    def work(packet):
        time.sleep(0.005)
        return packet

    p = Pipeline(SyntheticSource((160, 120), fps=100, frames=60), [Stage("work", work)], sink)
    stats = p.run()
    path = tmp_path / "stats.json"
    stats.write_json(str(path))
    data = json.loads(path.read_text())
    assert data["delivered_frames"] == len(sink.packets)
    assert data["captured_frames"] == 60
    assert data["dropped_frames"] == 60 - len(sink.packets)
    assert data["stages_ms"]["work"]["n"] == len(sink.packets)
    assert data["stages_ms"]["work"]["p50"] >= 5  # the stage's sleep: a lower bound a slow box cannot break
    assert data["e2e_latency_ms"]["p50"] >= data["stages_ms"]["work"]["p50"]
    assert data["e2e_latency_ms"]["p50"] <= data["e2e_latency_ms"]["p95"] <= data["e2e_latency_ms"]["p99"]
    assert data["delivered_fps"] == pytest.approx(stats.delivered_fps(), rel=1e-3)


def test_links_semantics():
    slot = LatestSlot()
    for i in range(3):
        slot.put(i)
    assert slot.get(0.1) == 2 and slot.dropped == 2
    assert slot.get(0.01) is None
    slot.put(7)
    slot.close()
    assert slot.get(0.1) == 7
    from realtime.packet import END

    assert slot.get(0.1) is END

    q = OrderedQueue(maxsize=2)
    stop = threading.Event()
    assert q.put(1, stop) and q.put(2, stop)
    stop.set()
    assert q.put(3, stop) is False  # full + stop: gives up instead of hanging
    assert q.get(0.1) == 1 and q.get(0.1) == 2


def test_live_stage_with_two_workers_overlaps_and_keeps_order():
    """Live, two workers on uneven frames: both work at once (seen from inside the stage, not
    timed), and a frame finished after a newer one is dropped as late, never delivered."""
    lock, busy, most = threading.Lock(), [0], [0]

    def slow(packet):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.04 + 0.02 * (packet.index % 3 == 0))  # uneven: some frames finish after newer ones
        with lock:
            busy[0] -= 1
        return packet

    sink = RecordingSink()
    stats = Pipeline(SyntheticSource((160, 120), fps=100, frames=None), [Stage("slow", slow, workers=2)], sink,
                     duration=1.5).run()
    indices = [pk.index for pk in sink.packets]
    assert indices and indices == sorted(set(indices))  # strictly increasing: a late frame never follows a newer one
    assert most[0] == 2
    assert stats.summary()["delivered_frames"] == len(indices)
    assert not _pipeline_threads()


def test_an_interrupt_aborts_the_sink_instead_of_finishing_it():
    """Ctrl-C is not the end of the stream: the sink is aborted (a converter's file discarded),
    never closed (renamed into place), and the interrupt reaches the caller."""
    calls = []

    class InterruptedAt5(RecordingSink):
        def write(self, packet):
            if len(self.packets) == 5:
                raise KeyboardInterrupt  # what the signal handler raises in the sink's thread
            return super().write(packet)

        def close(self):
            calls.append("close")

        def abort(self, error):
            calls.append(("abort", type(error).__name__))

    p = Pipeline(SyntheticSource((160, 120), fps=None, frames=None), [Stage("a", lambda pk: pk)], InterruptedAt5(), live=False)
    with pytest.raises(KeyboardInterrupt):
        p.run()
    assert calls == [("abort", "KeyboardInterrupt")] and not _pipeline_threads()


@pytest.mark.parametrize("error, kept", [(KeyboardInterrupt, True), (ValueError, False)])
def test_file_sink_keeps_a_recording_on_interrupt_and_discards_it_on_failure(tmp_path, error, kept):
    from realtime.sinks import FileSink
    from rswap.media.video import VideoReader

    class StopsAt8(FileSink):
        def write(self, packet):
            if packet.index == 8:
                raise error("stop")
            return super().write(packet)

    out = tmp_path / "rec.mp4"
    sink = StopsAt8(str(out))
    p = Pipeline(SyntheticSource((160, 120), fps=None, frames=None), [Stage("a", lambda pk: pk)], sink, live=False)
    with pytest.raises(error):
        p.run()
    if kept:
        with VideoReader(out) as r:  # whole and playable
            assert len(list(r)) == sink.kept == 8
        assert [x.name for x in tmp_path.iterdir()] == ["rec.mp4"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_ordered_stage_with_two_workers_keeps_every_frame_in_order():
    """Convert's mode: two workers on uneven frames; every frame comes out, in order, and the
    two really work at once (seen from inside the stage, not timed)."""
    lock, busy, most = threading.Lock(), [0], [0]

    def slow(packet):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.01 + 0.02 * (packet.index % 3 == 0))  # some frames finish after newer ones
        with lock:
            busy[0] -= 1
        return packet

    sink = RecordingSink()
    Pipeline(SyntheticSource((160, 120), fps=None, frames=30), [Stage("slow", slow, workers=2)], sink, live=False).run()
    assert [pk.index for pk in sink.packets] == list(range(30))
    assert most[0] == 2
    assert not _pipeline_threads()


def test_ordered_stage_failure_stops_the_workers_waiting_for_their_turn():
    def fails_on_3(packet):
        if packet.index == 3:
            time.sleep(0.05)
            raise ValueError("frame 3 is broken")
        return packet

    sink = RecordingSink()
    with pytest.raises(ValueError, match="frame 3"):
        Pipeline(SyntheticSource((160, 120), fps=None, frames=20), [Stage("s", fails_on_3, workers=2)], sink,
                 live=False).run()
    assert [pk.index for pk in sink.packets] == list(range(len(sink.packets))) and len(sink.packets) <= 3
    assert not _pipeline_threads()
