"""Ctrl-C (SIGINT) and SIGTERM sent to a real `python -m cli` process: exit 130 / 143, one line
saying what was kept, nothing at the output path unless it is whole, no temporary file.

Each test waits for an observable point of the run (the temporary file appearing, the
progress bar's frame count, 100 % written), freezes the process, checks again and only
then sends the signal, so the signal lands where the test says it does; the exit code
proves it landed before the run finished.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from rswap.testing.render import moving_face_frames, write_clip
from rswap.media.video import VideoReader

FRAMES = 60


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, astronaut) -> str:
    """2.4 s at 25 fps, 480x270, with audio: long enough to be caught mid-stream."""
    path = tmp_path_factory.mktemp("clips") / "long.mp4"
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    write_clip(path, moving_face_frames(head, (480, 270), FRAMES, scale=0.9, amplitude=0.15), fps=25, audio_seconds=FRAMES / 25)
    return str(path)


def _start(args, cwd):
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc.err = []  # stderr chunks, read by a thread so the test can watch them arrive
    proc.reader = threading.Thread(target=lambda: proc.err.extend(iter(lambda: os.read(proc.stderr.fileno(), 65536), b"")))
    proc.reader.start()
    return proc


def _interrupt_when(proc, ready, sig, timeout=120):
    """Send `sig` once ready(stderr so far) is true; return (exit code, stderr lines).

    The process is frozen (SIGSTOP) while ready() is checked again and the signal is sent,
    so a busy test machine cannot let the run move on between the check and the signal;
    the signal is delivered the moment the process continues (SIGCONT)."""
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            pytest.fail(f"the run ended (exit {proc.returncode}) before the point the test waits for: {b''.join(proc.err)[-500:]}")
        if ready(b"".join(proc.err).decode(errors="replace")):
            proc.send_signal(signal.SIGSTOP)
            if ready(b"".join(proc.err).decode(errors="replace")) and proc.poll() is None:
                proc.send_signal(sig)
                proc.send_signal(signal.SIGCONT)
                break
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    code = proc.wait(timeout=60)
    proc.reader.join(timeout=30)  # it ends at the pipe's end
    lines = [line for line in re.split(r"[\r\n]+", b"".join(proc.err).decode(errors="replace")) if line.strip()]
    return code, lines


def _frames_done(text: str) -> int:
    counts = re.findall(r"\| *(\d+)/\d+ \[", text)
    return int(counts[-1]) if counts else 0


def _convert(source_png, clip, out, *extra):
    return _start(["convert", "-s", source_png, "-t", clip, "-o", str(out), *extra], out.parent)


def _assert_clean_interrupt(code, lines, sig, folder, kept_words):
    assert code == 128 + sig, lines
    assert lines[-1].startswith("rswap: interrupted by") and kept_words in lines[-1], lines
    assert "Traceback" not in "\n".join(lines)
    assert os.listdir(folder) == [], os.listdir(folder)  # no output, no .part file


def test_sigint_before_the_first_frame_leaves_nothing(tmp_path, source_png, long_clip):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.mp4"
    proc = _convert(source_png, long_clip, out, "--preset", "ultrafast")
    # the writer's temporary file exists before the conveyor starts; no frame is written yet
    code, lines = _interrupt_when(proc, lambda err: any(p.endswith(".part.mp4") for p in os.listdir(out_dir)), signal.SIGINT)
    assert _frames_done("\n".join(lines)) == 0
    _assert_clean_interrupt(code, lines, signal.SIGINT, out_dir, f"nothing written to {out}")


def test_sigterm_mid_stream_leaves_nothing(tmp_path, source_png, long_clip):
    out = tmp_path / "x.mp4"
    proc = _convert(source_png, long_clip, out, "--preset", "ultrafast")
    code, lines = _interrupt_when(proc, lambda err: _frames_done(err) >= 5, signal.SIGTERM)
    assert 5 <= _frames_done("\n".join(lines)) < FRAMES
    _assert_clean_interrupt(code, lines, signal.SIGTERM, tmp_path, f"nothing written to {out}")


def test_sigint_during_the_final_mux_leaves_nothing(tmp_path, source_png, long_clip):
    """Every frame is written (100 %); the encoder's lookahead flush and the trailer remain.
    veryslow keeps ~60 frames in x264's lookahead, so that flush is long enough to be hit."""
    out = tmp_path / "x.mp4"
    proc = _convert(source_png, long_clip, out, "--preset", "veryslow")
    code, lines = _interrupt_when(proc, lambda err: _frames_done(err) == FRAMES, signal.SIGINT)
    _assert_clean_interrupt(code, lines, signal.SIGINT, tmp_path, f"nothing written to {out}")


def test_existing_output_survives_an_interrupt(tmp_path, source_png, long_clip):
    out = tmp_path / "x.mp4"
    out.write_bytes(b"an older file the user has")
    proc = _convert(source_png, long_clip, out, "--preset", "ultrafast")
    code, lines = _interrupt_when(proc, lambda err: _frames_done(err) >= 5, signal.SIGTERM)
    assert code == 143 and out.read_bytes() == b"an older file the user has"
    assert os.listdir(tmp_path) == ["x.mp4"]


def test_live_to_file_interrupted_keeps_a_playable_recording(tmp_path, source_png, long_clip):
    out = tmp_path / "rec.mp4"
    proc = _start(["live", "-s", source_png, "-t", long_clip, "-o", str(out), "--loop"], tmp_path)
    # live plays the file at its own rate (looped: endless); wait until the recording holds frames
    code, lines = _interrupt_when(proc, lambda err: any(p.endswith(".part.mp4") and (tmp_path / p).stat().st_size > 20_000
                                                        for p in os.listdir(tmp_path)), signal.SIGTERM)
    assert code == 143, lines
    kept = re.search(r"kept the (\d+) frames recorded in", lines[-1])
    assert kept, lines
    assert os.listdir(tmp_path) == ["rec.mp4"]
    with VideoReader(out) as r:
        assert len(list(r)) == int(kept.group(1)) > 0


def test_sigterm_during_build_leaves_no_building_folder(tmp_path):
    """`rswap build` stopped while it exports: the half-built sibling folder is removed, no model appears."""
    import torch

    from rswap.models.checkpoint import save_generator
    from rswap.models.generator import Generator, preset

    torch.manual_seed(0)
    config = preset("tiny")
    ckpt = tmp_path / "ckpt" / "tiny.safetensors"
    ckpt.parent.mkdir()
    save_generator(ckpt, Generator(config), config)
    models = tmp_path / "models"
    models.mkdir()
    proc = _start(["build", "--checkpoint", str(ckpt), "-o", str(models / "m"), "--no-encoder", "--max-batch", "4"], tmp_path)
    code, lines = _interrupt_when(proc, lambda err: any(p.name.endswith(".building") for p in models.iterdir()), signal.SIGTERM)
    _assert_clean_interrupt(code, lines, signal.SIGTERM, models, f"{models / 'm'} left as it was")


def test_sigterm_during_prepare_keeps_finished_files_and_no_temp_file(tmp_path):
    """prepare stopped after its first files: exit 143, the finished per-file results stay
    (the same command resumes), no temporary file anywhere under the output."""
    sys.path.insert(0, os.path.dirname(__file__))
    from _training_data import write_identity_folders

    raw = write_identity_folders(tmp_path / "raw", identities=2, photos=10, size=320)
    out = tmp_path / "faces"
    proc = _start(["prepare", "-i", str(raw), "-o", str(out), "-j", "1", "--min-face", "40"], tmp_path)
    code, lines = _interrupt_when(proc, lambda err: any(out.rglob("*.npz")), signal.SIGTERM)
    assert code == 143 and "the same command resumes" in lines[-1], lines
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".npz" and ".part" not in p.name for p in files), files
    assert not (out / "index.json").exists()



@pytest.mark.parametrize("library", ["wraps", "swallows"])
def test_sigterm_inside_onnx_export_is_not_lost_in_the_exporter(tmp_path, library):
    """A SIGTERM that lands inside torch.onnx.export is caught there: when it hits one of
    torch.export's lazy imports the exporter raises its own error (an AttributeError from
    the half-imported module, wrapped in TorchExportError) or tries its next capture strategy
    and finishes (seen as `rswap build` exiting 0 after SIGTERM). The model here does either
    to the signal it sends itself while traced; the export must still stop with Interrupted
    and write no file."""
    import torch
    from torch import nn

    from engine_build.export import export_onnx
    from rswap.interrupts import Interrupted, signals_raise

    class SignalledWhileTraced(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here at the latest
            except KeyboardInterrupt as e:
                if library == "wraps":
                    raise RuntimeError("the library's own error") from e
            return self.conv(x)

    with pytest.raises(Interrupted) as caught, signals_raise():
        export_onnx(SignalledWhileTraced(), (torch.zeros(2, 3, 16, 16),), ["x"], ["y"], tmp_path / "m.onnx", max_batch=4, tensorrt=False)
    assert caught.value.signum == signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
