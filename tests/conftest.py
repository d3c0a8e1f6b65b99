"""Shared test data, all made from scikit-image's public-domain astronaut photo."""

from __future__ import annotations

import os

os.environ.setdefault("GLOG_minloglevel", "2")  # keep mediapipe's C++ logging out of test output
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from skimage import data

from rswap.media.images import write_image
from rswap.testing.render import moving_face_frames, write_clip


@pytest.fixture(scope="session", autouse=True)
def private_config_dir(tmp_path_factory):
    """rswap's config directory (where convert keeps its local signing key) points into the
    test's temporary tree, never at the user's ~/.config; subprocesses inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("config")
        mp.setenv("XDG_CONFIG_HOME", str(path))
        yield path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def astronaut_face(astronaut):
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        return analyser.analyse(astronaut)[0]


@pytest.fixture(scope="session")
def source_png(tmp_path_factory, astronaut) -> str:
    path = tmp_path_factory.mktemp("src") / "source.png"
    write_image(path, astronaut)
    return str(path)


@pytest.fixture(scope="session")
def clip_with_audio(tmp_path_factory, astronaut) -> str:
    """1.2 s, 25 fps, 480x270, a moving face, an AAC tone; the middle frames show no face."""
    path = tmp_path_factory.mktemp("clips") / "face_audio.mp4"
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])  # mirrored head and shoulders
    frames = list(moving_face_frames(head, (480, 270), 30, scale=0.9, amplitude=0.15))
    for i in range(12, 16):  # a gap with no face: those frames must pass through unchanged
        frames[i] = np.full_like(frames[i], 90)
    write_clip(path, frames, fps=25, audio_seconds=1.2)
    return str(path)


@pytest.fixture(scope="session")
def clip_no_audio(tmp_path_factory, astronaut) -> str:
    path = tmp_path_factory.mktemp("clips") / "face_silent.mp4"
    write_clip(path, moving_face_frames(astronaut[20:300, 60:300], (320, 240), 10, scale=0.9, amplitude=0.1), fps=10)
    return str(path)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A built model directory (ONNX + manifest) of an untrained tiny generator."""
    import torch

    from engine_build.build import BuildOptions, build_model_dir
    from rswap.models.checkpoint import save_generator
    from rswap.models.generator import Generator, preset

    torch.manual_seed(1)
    config = preset("tiny")
    ckpt = tmp_path_factory.mktemp("ckpt") / "g.safetensors"
    save_generator(ckpt, Generator(config), config)
    out = tmp_path_factory.mktemp("model")
    build_model_dir(ckpt, out, BuildOptions(encoder=False, max_batch=4), log=lambda _: None)
    return out


@pytest.fixture(scope="module")
def analyse():
    """image -> its first face, by one mediapipe analyser per test module (the swap tests' faces)."""
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        yield lambda image: analyser.analyse(image)[0]
