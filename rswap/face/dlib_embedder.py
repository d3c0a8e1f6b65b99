"""Identity embeddings with dlib's ResNet (128-D, public-domain weights).

The weights ship in the PyPI package face-recognition-models; dlib-bin runs them.
We locate the .dat files with importlib instead of importing that package, because
its __init__ imports pkg_resources, which current setuptools no longer provides.
~100 ms per face on a CPU core: use it for source faces, matching and evaluation,
once per source or per track, never per frame.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from rswap.errors import RswapError
from rswap.face.types import Face

CHIP_SIZE = 150  # dlib's ResNet input: 150x150 aligned chip


def model_file(name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RswapError("package face-recognition-models is not installed (pip install face-recognition-models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise RswapError(f"dlib model file missing from face-recognition-models: {path}")
    return path


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class DlibEmbedder:
    """face -> 128-D unit vector. Same person: cosine >= ~0.82 (dlib's 0.6 distance rule)."""

    name = "dlib_resnet128"
    dim = 128
    same_person_cosine = 0.82

    def __init__(self):
        import dlib

        self._dlib = dlib
        self._shape5 = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))
        self._net = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))

    def chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The 150x150 chip dlib aligns for its network (its own 5-point fit inside our box)."""
        x0, y0, x1, y1 = (int(round(v)) for v in face.bbox)
        shape = self._shape5(np.ascontiguousarray(image), self._dlib.rectangle(x0, y0, x1, y1))
        return np.asarray(self._dlib.get_face_chip(np.ascontiguousarray(image), shape, size=CHIP_SIZE, padding=0.25))

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        v = np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(chip)), np.float32)
        return v / (np.linalg.norm(v) + 1e-12)

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_chip(self.chip(image, face))
