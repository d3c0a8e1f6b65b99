"""PyAV reading/writing: timestamps kept, audio copied byte for byte, synthetic tag, atomic output."""

import os

import av
import numpy as np
import pytest

from rswap.errors import RswapError
from rswap.media.images import read_image, write_image
from rswap.media.video import SYNTHETIC_TAG, VideoReader, VideoWriter


def _audio_packets(path):
    with av.open(path) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def test_copy_keeps_frames_timestamps_and_audio(tmp_path, clip_with_audio):
    out = tmp_path / "copy.mp4"
    with VideoReader(clip_with_audio) as r:
        info = r.info
        pts_in = []
        with VideoWriter(out, info.fps, (info.width, info.height), info.time_base, copy_from=clip_with_audio) as w:
            for f in r:
                pts_in.append(f.pts)
                w.write(f.image, f.pts)
    with VideoReader(out) as r2:
        pts_out = [f.pts * r2.info.time_base for f in r2]
        assert r2.info.fps == info.fps
    assert len(pts_out) == len(pts_in) == 30
    assert pts_out == [p * info.time_base for p in pts_in]
    src, dst = _audio_packets(clip_with_audio), _audio_packets(str(out))
    assert len(src) > 40 and src == dst
    with av.open(str(out)) as c:
        assert c.metadata.get("comment") == SYNTHETIC_TAG
    assert [p.name for p in tmp_path.iterdir()] == ["copy.mp4"]  # no temporary file left


def test_writer_aborted_leaves_nothing(tmp_path, astronaut):
    out = tmp_path / "x.mp4"
    with pytest.raises(ZeroDivisionError):
        with VideoWriter(out, 25, (64, 64)) as w:
            w.write(np.zeros((64, 64, 3), np.uint8))
            1 / 0
    assert list(tmp_path.iterdir()) == []


def test_bad_video_inputs(tmp_path, clip_with_audio):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))  # fixed: random bytes can look like some format
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(open(clip_with_audio, "rb").read()[:3000])
    for path, words in [
        (tmp_path / "missing.mp4", "not found"),
        (empty, "empty"),
        (junk, "not a readable video"),
        (truncated, "not a readable video"),
    ]:
        with pytest.raises(RswapError, match=words):
            with VideoReader(path) as r:
                list(r)


def test_image_round_trip_and_errors(tmp_path, astronaut):
    p = tmp_path / "a.png"
    write_image(p, astronaut)
    assert np.array_equal(read_image(p), astronaut)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(RswapError, match="not a readable image"):
        read_image(bad)
    with pytest.raises(RswapError, match="does not exist"):
        write_image(tmp_path / "nope" / "a.png", astronaut)


def test_outputs_get_ordinary_permissions(tmp_path, astronaut):
    """Temporary files are private (0600); the finished output must not stay that way."""
    old = os.umask(0o022)
    try:
        write_image(tmp_path / "a.png", astronaut)
        with VideoWriter(tmp_path / "v.mp4", 25, (64, 64)) as w:
            w.write(np.zeros((64, 64, 3), np.uint8))
    finally:
        os.umask(old)
    for name in ("a.png", "v.mp4"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_writer_in_one_thread_gives_the_picture_of_its_own_threads(tmp_path, astronaut):
    import cv2

    frames = [cv2.resize(np.roll(astronaut, 8 * k, axis=1), (96, 64)) for k in range(5)]
    decoded = []
    for threads in (0, 1):  # libx264's own choice, then encoding in the calling thread
        out = tmp_path / f"t{threads}.mp4"
        with VideoWriter(out, 25, (96, 64), threads=threads) as w:
            for frame in frames:
                w.write(frame)
        with VideoReader(out) as r:
            decoded.append(np.stack([f.image for f in r]).astype(int))
    assert decoded[0].shape == decoded[1].shape == (5, 64, 96, 3)
    # Encoder noise only, not another picture: libx264's threads decide a little differently from
    # run to run (measured 0-0.55 grey levels on a quiet box, 1.22 once under load); the frames
    # one off, 29.5.
    assert np.abs(decoded[0] - decoded[1]).mean() < 3.0


def test_written_video_keeps_the_frames_colours(tmp_path, astronaut):
    """The writer converts RGB to the encoder's yuv420p itself: channels in their order, the
    video range mapped back to the same levels (a swapped R/B or a full-range mix-up would
    move the mean colour by tens of levels)."""
    import cv2

    frame = cv2.resize(astronaut, (192, 128), interpolation=cv2.INTER_AREA)
    out = tmp_path / "c.mp4"
    with VideoWriter(out, 25, (192, 128), crf=10) as w:
        for _ in range(3):
            w.write(frame)
    with VideoReader(out) as r:
        decoded = [f.image.astype(np.float32) for f in r]
    assert len(decoded) == 3
    sent = frame.astype(np.float32)
    for image in decoded:
        assert np.abs(image.mean((0, 1)) - sent.mean((0, 1))).max() < 1.5
        assert np.abs(image - sent).mean() < 4.0


def test_reader_on_one_decoder_thread_gives_the_same_frames(clip_with_audio):
    """convert decodes in its source thread on 2 cores (threads=1): the same frames and
    timestamps as FFmpeg's own slice threads."""
    read = []
    for threads in (0, 1):
        with VideoReader(clip_with_audio, threads=threads) as r:
            read.append([(f.pts, f.image) for f in r])
    assert len(read[0]) == len(read[1]) == 30
    assert all(p == q and np.array_equal(a, b) for (p, a), (q, b) in zip(*read))
