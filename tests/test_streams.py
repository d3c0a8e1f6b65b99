"""Every stream of the target reaches the output (all audio, subtitles, data) with its language
and disposition, or the run ends in one line naming the stream and a container that holds it."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from cli.main import main as rswap
from rswap.testing.render import moving_face_frames

SRT = "1\n00:00:00,000 --> 00:00:00,400\nHallo\n\n2\n00:00:00,500 --> 00:00:00,900\nWelt\n"


def _tone(stream, seconds, hz, codec_format="fltp"):
    rate = stream.codec_context.sample_rate
    for start in range(0, int(seconds * rate), 1024):
        t = np.arange(start, start + 1024) / rate
        samples = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]
        if codec_format == "u8":
            samples = (samples * 127 + 128).astype(np.uint8)
        frame = av.AudioFrame.from_ndarray(samples, format=codec_format, layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _make(path, frames, audio=(("aac", "eng", 440),), subtitles=None, timecode=None):
    """A clip with the given audio streams (codec, language, tone) and optionally an SRT
    subtitle stream (language deu, forced) and a timecode data stream (.mov/.mp4)."""
    srt_in = None
    with av.open(str(path), mode="w") as out:
        if timecode:
            out.metadata["timecode"] = timecode
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"preset": "ultrafast"}
        streams = []
        for codec, lang, hz in audio:
            a = out.add_stream(codec, rate=48000)
            a.layout = "mono"
            if codec == "pcm_u8":
                a.format = "u8"
            a.metadata["language"] = lang
            streams.append((a, hz, "u8" if codec == "pcm_u8" else "fltp"))
        streams[0][0].disposition = av.stream.Disposition.default
        if subtitles:
            srt_path = path.with_suffix(".srt")
            srt_path.write_text(SRT)
            srt_in = av.open(str(srt_path))
            sub = out.add_stream_from_template(srt_in.streams[0])
            sub.metadata["language"] = "deu"
            sub.disposition = av.stream.Disposition.forced
        for img in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        out.mux(vs.encode(None))
        for a, hz, fmt in streams:
            out.mux(list(_tone(a, len(frames) / 25, hz, fmt)))
        if srt_in is not None:
            for p in srt_in.demux():
                if p.dts is not None:
                    p.stream = sub
                    out.mux(p)
            srt_in.close()
    return path


@pytest.fixture(scope="module")
def face_frames(astronaut):
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    return list(moving_face_frames(head, (320, 180), 12, scale=0.9))


def _streams(path):
    with av.open(str(path)) as c:
        return [(s.type, s.codec_context.name if s.codec_context else None, s.metadata.get("language"), int(s.disposition))
                for s in c.streams]


def _packets(path, index):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams[index]) if p.size]


def _convert(source_png, target, out):
    return rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--no-progress", "--preset", "ultrafast"])


def test_two_audio_streams_and_subtitles_are_all_copied(tmp_path, capsys, source_png, face_frames):
    target = _make(tmp_path / "multi.mkv", face_frames, audio=(("aac", "eng", 440), ("aac", "fra", 660)), subtitles=True)
    out = tmp_path / "out.mkv"
    assert _convert(source_png, target, out) == 0
    assert "2 audio streams, 1 subtitle stream copied" in capsys.readouterr().err
    before, after = _streams(target), _streams(out)
    assert after[1:] == before[1:]  # types, codecs, languages, dispositions, in order
    assert [t for t, *_ in after] == ["video", "audio", "audio", "subtitle"]
    for index in (1, 2, 3):  # byte for byte
        assert _packets(out, index) == _packets(target, index)


def test_a_stream_the_container_cannot_hold_is_one_line_naming_it(tmp_path, capsys, source_png, face_frames):
    subs = _make(tmp_path / "subs.mkv", face_frames, subtitles=True)
    # (FFmpeg 7 muxes 16/24-bit and float PCM into .mp4; 8-bit it cannot)
    pcm = _make(tmp_path / "pcm.mkv", face_frames, audio=(("pcm_u8", "eng", 440),))
    for target, out, words in [
        (subs, "o.mp4", "cannot hold the target's subtitle stream #2 (srt, deu); write a .mkv file instead"),
        (pcm, "o.mp4", "cannot hold the target's audio stream #1 (pcm_u8, eng); write a .mkv file instead"),
    ]:
        assert _convert(source_png, target, tmp_path / out) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pcm.mkv", "subs.mkv", "subs.srt"]


def test_timecode_is_kept(tmp_path, source_png, face_frames):
    target = _make(tmp_path / "tc.mov", face_frames, timecode="01:00:00:00")
    assert [t for t, *_ in _streams(target)] == ["video", "audio", "data"]
    for out in ("o.mov", "o.mp4"):
        assert _convert(source_png, target, tmp_path / out) == 0
        assert [t for t, *_ in _streams(tmp_path / out)] == ["video", "audio", "data"]
        with av.open(str(tmp_path / out)) as c:
            assert c.streams[2].metadata["timecode"] == "01:00:00:00"
    assert _convert(source_png, target, tmp_path / "o.mkv") == 0  # Matroska: a tag on the video stream
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert c.streams.video[0].metadata["TIMECODE"] == "01:00:00:00"


def test_output_containers_without_exact_timestamps_or_tag_are_refused(tmp_path, capsys, source_png, clip_with_audio):
    for suffix in (".mpg", ".ts", ".avi", ".wmv", ".flv", ".webm"):
        assert rswap(["convert", "-s", source_png, "-t", clip_with_audio, "-o", str(tmp_path / f"o{suffix}")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "video output must be .mp4, .mkv, .mov, .m4v" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_matroska_attachments_such_as_fonts_are_copied(tmp_path, capsys, source_png, face_frames):
    target = tmp_path / "fonts.mkv"
    with av.open(str(target), mode="w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 180, "yuv420p"
        out.add_attachment("subs.ttf", "application/x-truetype-font", b"not really a font" * 20)
        for img in face_frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        out.mux(vs.encode(None))
    assert _convert(source_png, target, tmp_path / "o.mkv") == 0
    assert "1 attachment stream copied" in capsys.readouterr().err
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert [(s.type, s.metadata.get("filename")) for s in c.streams][1:] == [("attachment", "subs.ttf")]
    assert _convert(source_png, target, tmp_path / "o.mp4") == 2
    assert "attachment stream #1 (subs.ttf); write a .mkv file instead" in capsys.readouterr().err


def test_a_second_video_stream_is_refused_not_copied_with_the_original_faces(tmp_path, capsys, source_png, face_frames):
    target = tmp_path / "two_videos.mkv"
    with av.open(str(target), mode="w") as out:
        streams = []
        for _ in range(2):
            vs = out.add_stream("libx264", rate=25)
            vs.width, vs.height, vs.pix_fmt = 320, 180, "yuv420p"
            streams.append(vs)
        for img in face_frames:
            for vs in streams:
                out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        for vs in streams:
            out.mux(vs.encode(None))
    assert _convert(source_png, target, tmp_path / "o.mkv") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 video streams" in err[0] and "video stream #1 (h264)" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two_videos.mkv"]
