"""`rswap live` end to end on a file target: real mediapipe, real classical swapper, real file sink."""

from __future__ import annotations

import json

import numpy as np

from cli.main import main
from rswap.media.video import VideoReader


def test_live_file_to_file_with_stats(tmp_path, source_png, clip_with_audio):
    out = tmp_path / "live.mp4"
    stats_path = tmp_path / "stats.json"
    code = main(["live", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--stats-json", str(stats_path)])
    assert code == 0
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
