"""`rswap live` end to end on a file target: real mediapipe, real classical swapper, real file sink."""

from __future__ import annotations

import json

import numpy as np

from cli.main import main
from rswap.media.video import VideoReader


def test_live_file_to_file_with_stats_opencv_single_threaded_on_two_cores(tmp_path, source_png, clip_with_audio,
                                                                           monkeypatch):
    """Also: on a 2-core box the threaded conveyor's stages run OpenCV on one thread (they fill the
    cores already), and the caller's setting is back after the run."""
    import cv2

    from realtime.swap_stages import PasteStage

    seen, paste = set(), PasteStage.__call__

    def recording(self, packet):
        seen.add(cv2.getNumThreads())
        return paste(self, packet)

    monkeypatch.setattr(PasteStage, "__call__", recording)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    out = tmp_path / "live.mp4"
    stats_path = tmp_path / "stats.json"
    try:
        code = main(["live", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--stats-json", str(stats_path),
                     "--swap-in", "thread"])
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)
    assert code == 0 and seen == {1}
    stats = json.loads(stats_path.read_text())
    with VideoReader(out) as r:
        frames = list(r)
    with VideoReader(clip_with_audio) as r:
        original = [f.image for f in r]
    assert len(frames) == stats["delivered_frames"] > 0
    assert stats["delivered_frames"] + stats["dropped_frames"] == stats["captured_frames"] == len(original)
    assert set(stats["stages_ms"]) == {"track", "swap", "paste", "sink"}
    assert stats["e2e_latency_ms"]["n"] == stats["delivered_frames"]
    # Frames keep their source time; faces were swapped (a real change, not codec noise), the
    # frames without a face (12..15 in the clip) were left alone.
    for f in frames:
        i = round(f.time * 25)
        diff = np.abs(f.image.astype(int) - original[i].astype(int)).mean(2)
        if 12 <= i < 16:
            assert diff.mean() < 2
        else:
            assert (diff > 12).mean() > 0.01, i


def test_live_missing_camera_is_one_line_error(capsys, source_png):
    code = main(["live", "-s", source_png, "-t", "/dev/video99", "-o", "null", "--duration", "1"])
    assert code == 2
    assert "cannot open camera /dev/video99" in capsys.readouterr().err
