"""A cut or damaged input is an error, never a shorter output: videos cut mid-stream (index
first .mp4, .mkv), images cut short, images over OpenCV's pixel limit."""

from __future__ import annotations

import struct
import zlib

import av
import numpy as np
import pytest

from cli.main import main as rswap
from rswap.errors import RswapError
from rswap.media.images import read_image, write_image
from rswap.testing.render import moving_face_frames, write_clip
from rswap.media.video import VideoReader

FRAMES = 40


def _cut(path, share):
    data = open(path, "rb").read()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: int(len(data) * share)])
    return out


@pytest.fixture(scope="module", params=["mp4", "mkv"])
def cut_clip(request, tmp_path_factory, astronaut):
    """A clip cut at 45 % of its bytes: an .mp4 with its index first (so it still opens) or an .mkv."""
    folder = tmp_path_factory.mktemp("cut")
    path = folder / f"whole.{request.param}"
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    options = {"movflags": "faststart"} if request.param == "mp4" else None
    write_clip(path, moving_face_frames(head, (320, 180), FRAMES, scale=0.9), fps=25, audio_seconds=FRAMES / 25,
               container_options=options)
    return _cut(path, 0.45)


def _one_line(capsys, argv, words):
    code = rswap(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("rswap: error:") and words in err[0], err
    return err[0]


def test_cut_video_is_refused_and_nothing_written(tmp_path, capsys, source_png, cut_clip):
    out = tmp_path / f"o{cut_clip.suffix}"
    line = _one_line(capsys, ["convert", "-s", source_png, "-t", str(cut_clip), "-o", str(out), "--no-progress"], "truncated")
    assert "--allow-truncated" in line
    assert list(tmp_path.iterdir()) == []


def test_reading_a_cut_video_raises_instead_of_ending_early(cut_clip):
    with VideoReader(cut_clip) as r:
        with pytest.raises(RswapError, match="truncated"):
            for _ in r:
                pass


def test_allow_truncated_converts_the_readable_part_and_says_how_much(tmp_path, capsys, source_png, cut_clip):
    with VideoReader(cut_clip, allow_truncated=True) as r:
        readable = len(list(r))
        assert r.truncated is not None and 0 < readable < FRAMES
    out = tmp_path / f"o{cut_clip.suffix}"
    assert rswap(["convert", "-s", source_png, "-t", str(cut_clip), "-o", str(out), "--no-progress", "--preset",
                  "ultrafast", "--allow-truncated"]) == 0
    err = capsys.readouterr().err
    assert "the target is truncated" in err and "were readable" in err
    with VideoReader(out) as r:
        assert len(list(r)) == readable


def test_whole_videos_are_not_flagged(clip_with_audio, clip_no_audio):
    for clip in (clip_with_audio, clip_no_audio):
        with VideoReader(clip) as r:
            assert len(list(r)) == r.info.frames and r.truncated is None


def _png_header_only(path, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b""))
    return path


def test_cut_and_oversized_images_are_one_line_errors(tmp_path, capsys, source_png, astronaut):
    whole_jpg, whole_png = tmp_path / "a.jpg", tmp_path / "a.png"
    write_image(whole_jpg, astronaut)
    write_image(whole_png, astronaut)
    for whole in (whole_jpg, whole_png):
        cut = _cut(whole, 0.6)
        with pytest.raises(RswapError, match="truncated"):
            read_image(cut)
        _one_line(capsys, ["convert", "-s", source_png, "-t", str(cut), "-o", str(tmp_path / "o.png")], "truncated")
        _one_line(capsys, ["convert", "-s", str(cut), "-t", str(whole), "-o", str(tmp_path / "o.png")], "truncated")
    huge = _png_header_only(tmp_path / "huge.png", 40000, 40000)
    _one_line(capsys, ["convert", "-s", source_png, "-t", str(huge), "-o", str(tmp_path / "o.png")], "megapixels")
    assert not (tmp_path / "o.png").exists()
    assert read_image(whole_png).shape == astronaut.shape


def _remux_from(src, dst, first_packet):
    with av.open(str(src)) as i, av.open(str(dst), mode="w") as o:
        s = o.add_stream_from_template(i.streams.video[0])
        for k, p in enumerate(i.demux(i.streams.video[0])):
            if p.dts is not None and k >= first_packet:
                p.stream = s
                o.mux(p)


def test_a_cut_between_keyframes_is_not_flagged(tmp_path, astronaut):
    """A stream-copied cut that starts between keyframes: its first packets cannot be decoded by
    anyone (players drop them too); that is not truncation."""
    whole = tmp_path / "gop.mp4"
    with av.open(str(whole), mode="w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        vs.options = {"g": "10", "bf": "0", "preset": "ultrafast"}
        for f in moving_face_frames(astronaut, (160, 96), 30):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(vs.encode(None))
    cut = tmp_path / "from_frame_4.mp4"
    _remux_from(whole, cut, 4)
    with VideoReader(cut) as r:
        assert r.info.frames == 26 and len(list(r)) == 20 and r.truncated is None  # 6 before the keyframe at 10


def test_damage_in_the_middle_is_an_error_and_allow_truncated_reads_past_it(tmp_path, cut_clip):
    whole = cut_clip.with_name(cut_clip.name.replace("cut_", ""))
    data = bytearray(whole.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes(3000)
    damaged = tmp_path / f"damaged{whole.suffix}"
    damaged.write_bytes(bytes(data))
    with pytest.raises(RswapError, match="truncated or damaged"):
        with VideoReader(damaged) as r:
            list(r)
    with VideoReader(damaged, allow_truncated=True) as r:
        frames = list(r)
    assert r.truncated is not None and len(frames) < FRAMES
    if whole.suffix == ".mp4":  # its index addresses every packet: the read goes on past the damage
        assert frames[-1].time > 0.8 * FRAMES / 25
    # (Matroska's demuxer resyncs only at the next cluster, and this short clip has one)
