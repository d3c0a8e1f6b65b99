"""`rswap convert` end to end on generated video, and every bad input the issue names."""

from __future__ import annotations

import os
import stat

import av
import numpy as np
import pytest

from cli.main import main as rswap
from rswap.media.images import read_image, write_image
from rswap.media.video import SYNTHETIC_TAG, VideoReader


def _frames(path):
    with VideoReader(path) as r:
        return [(f.pts * r.info.time_base, f.image) for f in r]


def _audio(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def test_convert_video_end_to_end(tmp_path, source_png, clip_with_audio, capsys):
    out = tmp_path / "out.mp4"
    assert rswap(["convert", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--no-progress", "--preset", "ultrafast"]) == 0
    src, dst = _frames(clip_with_audio), _frames(out)
    assert [t for t, _ in dst] == [t for t, _ in src]  # same count, same timestamps
    assert _audio(out) == _audio(clip_with_audio)  # audio copied, byte-identical
    with av.open(str(out)) as c:
        assert c.metadata["comment"] == SYNTHETIC_TAG
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean(-1) for (_, a), (_, b) in zip(src, dst)]
    # Frames with a face: the face region changed (the source is the un-mirrored astronaut).
    assert all((d > 12).mean() > 0.01 for i, d in enumerate(diffs) if not 12 <= i < 16)
    # Frames without a face pass through (only re-encoding noise).
    assert all(d.mean() < 2 for d in diffs[12:16])
    # Background far from the face is untouched: re-encoding noise, and the watermark
    # (rswap.provenance: std 2.5 grey levels over every frame with a swapped face).
    assert np.median([d[:, :20].mean() for d in diffs]) < 3.5
    assert "26 with a face" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_convert_video_without_audio(tmp_path, source_png, clip_no_audio):
    out = tmp_path / "silent.mp4"
    assert rswap(["convert", "-s", source_png, "-t", clip_no_audio, "-o", str(out), "--no-progress", "--preset", "ultrafast"]) == 0
    with av.open(str(out)) as c:
        assert not c.streams.audio and c.streams.video[0].frames == 10


def test_convert_image(tmp_path, source_png, astronaut):
    target = tmp_path / "target.png"
    write_image(target, np.ascontiguousarray(astronaut[:, ::-1]))
    out = tmp_path / "out.png"
    # without the watermark (it touches the whole frame by ±a few levels): the paste alone
    assert rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--no-watermark"]) == 0
    result, before = read_image(out), read_image(target)
    diff = np.abs(result.astype(int) - before.astype(int)).max(-1)
    assert (diff > 20).sum() > 500  # the face changed
    assert diff[:, :150].max() == 0 and diff[300:].max() == 0  # left side and lower part untouched


@pytest.fixture()
def no_face_png(tmp_path):
    path = tmp_path / "noface.png"
    yy, xx = np.mgrid[0:200, 0:300]
    write_image(path, np.stack([xx % 255, yy % 255, (xx + yy) % 255], -1).astype(np.uint8))
    return str(path)


def _bad(args, capsys, words):
    code = rswap(["convert", *args, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], err


def test_bad_inputs(tmp_path, capsys, source_png, clip_with_audio, no_face_png):
    out = str(tmp_path / "o.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(1).bytes(4000))
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(open(clip_with_audio, "rb").read()[:5000])
    _bad(["-s", "missing.png", "-t", clip_with_audio, "-o", out], capsys, "not found")
    _bad(["-s", source_png, "-t", "missing.mp4", "-o", out], capsys, "not found")
    _bad(["-s", source_png, "-t", str(empty), "-o", out], capsys, "empty")
    _bad(["-s", source_png, "-t", str(corrupt), "-o", out], capsys, "not a readable video")
    _bad(["-s", source_png, "-t", str(truncated), "-o", out], capsys, "not a readable video")
    _bad(["-s", no_face_png, "-t", clip_with_audio, "-o", out], capsys, "no face found in source")
    _bad(["-s", source_png, "-t", no_face_png, "-o", str(tmp_path / "o.png")], capsys, "no face found in target")
    _bad(["-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / "missing_dir" / "o.mp4")], capsys, "does not exist")
    _bad(["-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / "o.png")], capsys, "must be a video")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.mp4", "empty.mp4", "noface.png", "trunc.mp4"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_unwritable_output_dir(tmp_path, capsys, source_png, clip_with_audio):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        _bad(["-s", source_png, "-t", clip_with_audio, "-o", str(locked / "o.mp4")], capsys, "not writable")
    finally:
        locked.chmod(stat.S_IRWXU)


def test_output_directory_refusing_files(tmp_path, capsys, source_png, clip_with_audio):
    # /proc refuses new files even for root: the same path as a read-only or vanished directory.
    _bad(["-s", source_png, "-t", clip_with_audio, "-o", "/proc/rswap_out.mp4"], capsys, "rswap_out.mp4")


def test_disk_full_leaves_no_file(tmp_path, source_png, clip_with_audio):
    """A write that fails part-way (file size limit standing in for a full disk) ends in one
    line, exit 2, and no output or temporary file."""
    import resource
    import subprocess
    import sys

    out = tmp_path / "full.mp4"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run(
        [sys.executable, "-m", "cli", "convert", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--no-progress", "--crf", "0"],
        preexec_fn=limit, capture_output=True, text=True, timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert lines[-1].startswith("rswap: error:") and "full.mp4" in lines[-1], lines
    assert list(tmp_path.iterdir()) == []


def test_reference_selection_end_to_end(tmp_path, astronaut, source_png):
    """--face-select reference: the target face that matches the reference photo is swapped."""
    import cv2

    target = tmp_path / "target.png"
    write_image(target, np.ascontiguousarray(astronaut[:, ::-1]))
    reference = tmp_path / "ref.png"
    write_image(reference, cv2.resize(astronaut, (400, 400)))  # same person, another picture of her
    src = tmp_path / "src.png"
    write_image(src, cv2.convertScaleAbs(astronaut, alpha=1.0, beta=40))  # a visibly brighter face
    out = tmp_path / "out.png"
    args = ["convert", "-s", str(src), "--face-select", "reference", "--reference", str(reference),
            "-t", str(target), "-o", str(out)]
    assert rswap(args) == 0
    diff = np.abs(read_image(out).astype(int) - read_image(target).astype(int)).max(-1)
    assert (diff > 20).sum() > 500


def test_bad_flags_are_one_line(capsys, source_png, clip_with_audio, tmp_path):
    _bad(["-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / "o.mp4"), "--crf", "99"], capsys, "--crf")
    _bad(["-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / "o.mp4"), "--reshape", "3"], capsys, "reshape")
    _bad(["-s", source_png, "--face-select", "reference", "-t", clip_with_audio, "-o", str(tmp_path / "o.mp4")],
         capsys, "--reference")
    for argv in (["-o", "out.txt"], ["-o", "null", "--swap-workers", "0"], ["-o", "null", "--stats-json", "/nonexistent/s.json"]):
        code = rswap(["live", "-s", source_png, "-t", clip_with_audio, *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("rswap: error:"), err


def test_two_swap_workers_give_the_same_video_frame_for_frame(tmp_path, source_png, clip_with_audio):
    """Convert with two swap threads: every frame, in order, each the same picture as with one."""
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.mp4"
        args = ["convert", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--no-progress",
                "--preset", "ultrafast", "--crf", "0", "--swap-workers", str(workers)]
        assert rswap(args) == 0
        with VideoReader(out) as r:
            outs.append([(f.pts, f.image) for f in r])
    (one, two) = outs
    assert len(one) == len(two) == 30
    assert [p for p, _ in one] == [p for p, _ in two]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(one, two))


def test_convert_swaps_on_two_threads_at_a_short_switch_interval_then_puts_it_back(
        tmp_path, source_png, clip_with_audio, monkeypatch):
    """Offline the swap stage runs two workers by default (CONVERT_SWAP_WORKERS), one when asked,
    with Python's switch interval at CONVERT_SWITCH_INTERVAL_S while it runs, the caller's after."""
    import sys
    import threading

    from convert.conversion import CONVERT_SWITCH_INTERVAL_S
    from rswap.swap.frame import FrameSwapper

    seen: set[str] = set()
    intervals: set[float] = set()
    swap = FrameSwapper.swap

    def spy(self, jobs):
        seen.add(threading.current_thread().name)
        intervals.add(sys.getswitchinterval())
        return swap(self, jobs)

    monkeypatch.setattr(FrameSwapper, "swap", spy)
    before = sys.getswitchinterval()
    for extra, threads in (([], {"rswap-swap-0", "rswap-swap-1"}), (["--swap-workers", "1"], {"rswap-swap-0"})):
        seen.clear()
        args = ["convert", "-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / "o.mp4"), "--no-progress",
                "--preset", "ultrafast", *extra]
        assert rswap(args) == 0
        assert seen == threads
    assert intervals == {CONVERT_SWITCH_INTERVAL_S} != {before}
    assert sys.getswitchinterval() == before


def test_few_cores_run_encoder_and_opencv_in_callers_threads_and_opencv_is_put_back():
    import cv2

    from convert.conversion import _library_threads

    before = cv2.getNumThreads()
    cv2.setNumThreads(3)  # a value the conversion must give back, whatever the test run's default
    try:
        with _library_threads(2) as encoder_threads:
            assert encoder_threads == 1 and cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 3
        with pytest.raises(ZeroDivisionError):  # also after a failed conversion
            with _library_threads(1):
                1 / 0
        assert cv2.getNumThreads() == 3
        with _library_threads(8) as encoder_threads:  # cores to spare: both libraries choose
            assert encoder_threads == 0 and cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)
