"""On-device compose (crop, generator, paste-back as tensors; one upload and one download per
frame) against the host path (OpenCV warps, numpy I/O), with the learned swapper on the torch
backend. The tests run the 'device' on the CPU; the CUDA ones are skipped without a GPU."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from realtime.backends import open_backend  # noqa: E402
from rswap.errors import RswapError  # noqa: E402
from rswap.face.select import FaceSelector  # noqa: E402
from rswap.face.types import Face  # noqa: E402
from rswap.swap.compositor import HostCompositor, choose_compositor  # noqa: E402
from rswap.swap.device_compositor import DeviceCompositor  # noqa: E402
from rswap.swap.frame import FrameSwapper  # noqa: E402
from rswap.swap.learned import LearnedSource, LearnedSwapper  # noqa: E402


def _source(seed: int) -> LearnedSource:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return LearnedSource(v / np.linalg.norm(v))


def _swapper(model_dir, device: str = "cpu", backend: str = "torch", **options) -> LearnedSwapper:
    quiet = lambda _: None  # noqa: E731
    if backend == "torch":
        options["device"] = device
    return LearnedSwapper(model_dir, open_backend=lambda m: open_backend(m, name=backend, log=quiet, **options))


def _on_device(sw: LearnedSwapper, sources, selector=None, watermark=True) -> FrameSwapper:
    return FrameSwapper(sw, sources, selector, compositor=DeviceCompositor(sw.tensor_device), watermark=watermark)


def _shifted(face: Face, dx: float) -> Face:
    d = np.array([dx, 0], np.float32)
    return Face(bbox=face.bbox + np.array([dx, 0, dx, 0], np.float32), kps5=face.kps5 + d,
                landmarks=face.landmarks + d, score=face.score)


@pytest.fixture(scope="module")
def two_face_frame(astronaut, astronaut_face):
    """The astronaut and a copy of her head 260 px to the right, in one wider frame."""
    h, w = astronaut.shape[:2]
    frame = np.zeros((h, w + 260, 3), np.uint8)
    frame[:, :w] = astronaut
    x0, y0, x1, y1 = astronaut_face.bbox.astype(int)
    pad = (x1 - x0) // 2
    ys, xs = slice(max(0, y0 - pad), y1 + pad), slice(max(0, x0 - pad), x1 + pad)
    frame[ys, xs.start + 260 : xs.stop + 260] = astronaut[ys, xs]
    return frame, [astronaut_face, _shifted(astronaut_face, 260)]


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_device_compose_matches_the_host_path(model_dir, astronaut, astronaut_face, backend):
    sw = _swapper(model_dir, backend=backend)
    sources = [_source(0)]
    # the paste alone: the watermark (tests/test_provenance.py) touches the whole frame
    host = FrameSwapper(sw, sources, watermark=False).process(astronaut, [astronaut_face])
    device = _on_device(sw, sources, watermark=False).process(astronaut, [astronaut_face])
    assert device.shape == astronaut.shape and device.dtype == np.uint8
    diff = np.abs(device.astype(int) - host)
    changed = np.abs(host.astype(int) - astronaut).sum(-1) > 0
    assert changed.sum() > 2000  # the generator's face went in
    assert diff.mean() < 0.2 and diff[changed].mean() < 2.0  # grid_sample vs OpenCV: sub-grey-level
    # away from the face the frame is bit-identical, as on the host path
    x0, y0, x1, y1 = astronaut_face.bbox.astype(int)
    pad = x1 - x0
    far = np.ones(astronaut.shape[:2], bool)
    far[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    np.testing.assert_array_equal(device[far], astronaut[far])


def test_every_face_of_a_frame_is_one_generator_call(model_dir, two_face_frame):
    frame, faces = two_face_frame
    sw = _swapper(model_dir)
    calls = []
    run_device = sw.backend.run_device
    sw.backend.run_device = lambda feeds: calls.append(feeds["target"].shape[0]) or run_device(feeds)
    fs = _on_device(sw, [_source(1)], FaceSelector("all"))
    out = fs.process(frame, faces)
    assert calls == [2]
    host = FrameSwapper(sw, [_source(1)], fs.selector).process(frame, faces)
    for face in faces:  # both faces swapped, each like the host path does it
        x0, y0, x1, y1 = face.bbox.astype(int)
        region = (slice(y0, y1), slice(x0, x1))
        assert np.abs(out[region].astype(int) - frame[region]).mean() > 2
        assert np.abs(out[region].astype(int) - host[region]).mean() < 1.5


def test_no_face_returns_the_frame_untouched(model_dir, astronaut):
    fs = _on_device(_swapper(model_dir), [_source(0)])
    assert fs.process(astronaut, []) is astronaut


def test_where_compose_runs(model_dir, source_png):
    cpu_torch = _swapper(model_dir)
    assert isinstance(choose_compositor(cpu_torch, "auto"), HostCompositor)  # auto: the device path only on a GPU
    assert isinstance(choose_compositor(cpu_torch, "host"), HostCompositor)
    assert isinstance(choose_compositor(cpu_torch, "device"), DeviceCompositor)
    ort = _swapper(model_dir, backend="onnxruntime")  # on the CPU provider
    assert isinstance(choose_compositor(ort, "auto"), HostCompositor)
    assert isinstance(choose_compositor(ort, "device"), DeviceCompositor)
    core = LearnedSwapper(model_dir)  # the core's own runner: host arrays only
    with pytest.raises(RswapError, match="app backend"):
        choose_compositor(core, "device")
    with pytest.raises(RswapError, match="blend-levels"):
        choose_compositor(cpu_torch, "device", blend_levels=4)


def test_convert_cli_on_the_device_path(model_dir, source_png, clip_no_audio, tmp_path):
    """The whole convert pipeline (track -> swap -> paste -> encode) with --compose-on device,
    against the same command on the host path: same frames within a grey level or two."""
    from rswap.media.video import VideoReader
    from convert import cli as convert_cli

    outs = {}
    for where in ("host", "device"):
        parser = argparse.ArgumentParser()
        convert_cli.add_arguments(parser)
        out = tmp_path / f"{where}.mp4"
        args = parser.parse_args(["-s", source_png, "-t", clip_no_audio, "-o", str(out), "--model", str(model_dir),
                                  "--backend", "torch", "--compose-on", where, "--crf", "0"])
        assert convert_cli.run(args) == 0
        with VideoReader(out) as reader:
            outs[where] = np.stack([f.image for f in reader])
    with VideoReader(clip_no_audio) as reader:
        original = np.stack([f.image for f in reader])
    assert outs["host"].shape == outs["device"].shape == original.shape
    assert np.abs(outs["host"].astype(int) - original).mean() > 0.5  # faces were swapped
    assert np.abs(outs["device"].astype(int) - outs["host"]).mean() < 0.3


def test_onnxruntime_run_device_equals_run(model_dir):
    from rswap.artifacts import load_manifest

    backend = open_backend(load_manifest(model_dir), name="onnxruntime", log=lambda _: None)
    assert backend.tensor_device == "cpu"
    rng = np.random.default_rng(3)
    feeds = {"target": rng.uniform(-1, 1, (3, 3, 64, 64)).astype(np.float32),
             "identity": rng.standard_normal((3, 128)).astype(np.float32)}
    want = backend.run(feeds)["swapped"]
    # a non-contiguous input view and float64 identities: run_device makes what onnxruntime needs
    target = torch.from_numpy(feeds["target"]).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    got = backend.run_device({"target": target, "identity": torch.from_numpy(feeds["identity"]).double()})["swapped"]
    assert isinstance(got, torch.Tensor) and got.shape == (3, 3, 64, 64)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_cuda_device_compose_matches_cpu(model_dir, two_face_frame):
    frame, faces = two_face_frame
    outs = [
        _on_device(_swapper(model_dir, device), [_source(2)], FaceSelector("all")).process(frame, faces)
        for device in ("cpu", "cuda")
    ]
    assert np.abs(outs[0].astype(int) - outs[1]).max() <= 2


@cuda
def test_cuda_graph_replay_equals_plain_execution(model_dir):
    from rswap.artifacts import load_manifest

    manifest = load_manifest(model_dir)
    quiet = lambda _: None  # noqa: E731
    plain = open_backend(manifest, name="torch", device="cuda", log=quiet)
    graphs = open_backend(manifest, name="torch", device="cuda", log=quiet, cuda_graphs=True)
    for batch in (1, 3, 1):  # a second shape, then back to the first graph
        rng = np.random.default_rng(batch)
        ident = rng.standard_normal((batch, 128)).astype(np.float32)
        feeds = {"target": rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32),
                 "identity": ident / np.linalg.norm(ident, axis=1, keepdims=True)}
        want = plain.run(feeds)["swapped"]
        for _ in range(2):  # capture, then replay
            np.testing.assert_array_equal(graphs.run(feeds)["swapped"], want)


def test_device_compose_frames_carry_the_watermark(model_dir, astronaut, astronaut_face):
    from rswap.provenance.watermark import detect

    sw = _swapper(model_dir)
    marked = _on_device(sw, [_source(0)]).process(astronaut, [astronaut_face])
    plain = _on_device(sw, [_source(0)], watermark=False).process(astronaut, [astronaut_face])
    assert detect([marked]).found and not detect([plain]).found
