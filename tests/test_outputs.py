"""Outputs never replace their own input, and leftovers of killed runs are cleared."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from cli.main import main as rswap
from rswap.atomic import atomic_path, output_folder
from rswap.errors import RswapError
from rswap.media.video import VideoWriter


def _one_line(capsys, argv, words):
    assert rswap(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rswap: error:") and words in err[0], err


def test_output_that_is_the_target_through_a_link_is_refused(tmp_path, capsys, source_png, clip_no_audio):
    real = tmp_path / "real.mp4"
    real.write_bytes(open(clip_no_audio, "rb").read())
    before = real.read_bytes()
    sym = tmp_path / "link.mp4"
    sym.symlink_to(real)
    hard = tmp_path / "hard.mp4"
    os.link(real, hard)
    for target, output in [(sym, real), (real, sym), (hard, real), (real, tmp_path / "sub" / ".." / "real.mp4")]:
        (tmp_path / "sub").mkdir(exist_ok=True)
        _one_line(capsys, ["convert", "-s", source_png, "-t", str(target), "-o", str(output), "--no-progress"], "is the target file itself")
    assert real.read_bytes() == before


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    dead = _dead_pid()
    stale_video = tmp_path / f".out.mp4.{dead}.abc123de.part.mp4"
    stale_file = tmp_path / f".model.json.{dead}.xyz_1234.part"
    stale_build = tmp_path / f".model.{dead}.1234abcd.building"
    live = tmp_path / f".out.mp4.{os.getpid()}.other123.part.mp4"  # a writer still running: kept
    unrelated = tmp_path / ".out.mp4.notes"  # not ours: kept
    other_output = tmp_path / f".out.mp4.5.{os.getpid()}.abcdefgh.part.5"  # a running writer of "out.mp4.5"
    for p in (stale_video, stale_file, live, unrelated, other_output):
        p.write_bytes(b"x")
    stale_build.mkdir()
    (stale_build / "generator.onnx").write_bytes(b"x")
    with VideoWriter(tmp_path / "out.mp4", 25, (64, 64)) as w:
        w.write(np.zeros((64, 64, 3), np.uint8))
    with atomic_path(tmp_path / "model.json") as tmp:
        tmp.write_text("{}")
    from rswap.atomic import remove_stale_temps

    assert remove_stale_temps(tmp_path / "model") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.mp4", "model.json", live.name, unrelated.name,
                                                                  other_output.name])


def test_an_interrupt_the_moment_a_temporary_file_exists_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM raised just after the temporary file was created, before its maker
    returned, and just after it returned, inside a writer: no file is left behind."""
    import rswap.atomic

    real_close = os.close

    def interrupted_close(fd):
        real_close(fd)
        raise KeyboardInterrupt  # the signal's handler runs right after the file was made

    monkeypatch.setattr(rswap.atomic.os, "close", interrupted_close)
    for make in (lambda: rswap.atomic.make_temp_file(tmp_path / "a.json"),
                 lambda: atomic_path(tmp_path / "b.json").__enter__(),
                 lambda: VideoWriter(tmp_path / "c.mp4", 25, (64, 64))):
        try:
            make()
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the interrupt was lost")
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_no_empty_output_folder(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    for folder in (tmp_path / "a" / "b", existing):
        try:
            with output_folder(folder) as out:
                (out / "work" / "empty").mkdir(parents=True)
                raise RswapError("failed")
        except RswapError:
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # a folder that was there stays
    try:
        with output_folder(tmp_path / "kept") as out:
            (out / "done.npz").write_bytes(b"finished work")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert (tmp_path / "kept" / "done.npz").is_file()  # a resumable run's finished files stay


def test_output_that_is_a_source_photo_or_the_live_target_is_refused(tmp_path, capsys, source_png, clip_no_audio, astronaut):
    from rswap.media.images import write_image

    photo = tmp_path / "me.png"
    write_image(photo, astronaut)
    target = tmp_path / "t.png"
    write_image(target, astronaut)
    _one_line(capsys, ["convert", "-s", str(photo), "-t", str(target), "-o", str(photo)], "is the photo")
    clip = tmp_path / "c.mp4"
    clip.write_bytes(open(clip_no_audio, "rb").read())
    _one_line(capsys, ["live", "-s", source_png, "-t", str(clip), "-o", str(tmp_path / "." / "c.mp4")], "is the target file itself")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "me.png", "t.png"]


def test_video_outputs_keep_exact_timestamps_and_the_tag(tmp_path):
    """Every container rswap writes: each frame's pts comes back exactly, and the synthetic tag is there."""
    from fractions import Fraction

    import av

    from rswap.media.video import SYNTHETIC_TAG, VideoReader

    pts = [0, 512, 1024, 2048, 2560, 3584]  # 1/12800 s ticks, with gaps (variable frame rate)
    for suffix in (".mp4", ".mov", ".m4v", ".mkv"):
        path = tmp_path / f"v{suffix}"
        with VideoWriter(path, 25, (64, 48), Fraction(1, 12800)) as w:
            for k, p in enumerate(pts):
                w.write(np.full((48, 64, 3), 30 * k, np.uint8), p)
        with VideoReader(path) as r:
            assert [f.time for f in r] == [float(Fraction(p, 12800)) for p in pts], suffix
        with av.open(str(path)) as c:
            assert SYNTHETIC_TAG in {v for k, v in c.metadata.items() if k.lower() == "comment"}, suffix
