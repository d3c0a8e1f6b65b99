"""Bring-your-own insightface models: inswapper_128.onnx + an ArcFace (w600k) recogniser.

Nothing here is shipped or downloaded: the user gives the inswapper file, and the ArcFace
model is found at a path the user gives or in the usual ~/.insightface/models/<pack>/.
Both are read with onnxruntime directly (the insightface package is not needed).

Conventions of these files (insightface's model_zoo code, which defines them):
- ArcFace: a 112x112 crop aligned to the arcface112 template, RGB, (x - 127.5) / 127.5,
  (1,3,112,112) -> a 512-D embedding, used L2-normalised.
- inswapper: a 128x128 crop aligned to the arcface128 template, RGB in [0, 1],
  (B,3,128,128) + a 512-D latent -> (B,3,128,128) RGB in [0, 1]. The latent is the
  normalised ArcFace embedding times "emap" (the graph's last initializer, 512x512),
  normalised again.

Finding pack files and checking their sha256 live in rswap.face.insightface_pack (shared
with the SCRFD detector).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rswap.errors import RswapError
from rswap.face.align import align_crop, get_template
from rswap.face.insightface_pack import find_arcface, verify_hash
from rswap.face.types import Face
from rswap.onnx_runner import OnnxRunner
from rswap.swap.base import HostSwapper, SwapResult
from rswap.swap.learned import paste_mask

EMBEDDING_DIM = 512


def read_emap(path: Path) -> np.ndarray:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise RswapError("reading inswapper needs the onnx package (pip install 'onnx<1.23')") from None
    try:
        graph = onnx.load(str(path)).graph
    except Exception as e:  # protobuf's DecodeError and friends
        raise RswapError(f"{path} is not a readable ONNX file ({type(e).__name__})") from None
    if not graph.initializer:
        raise RswapError(f"{path} has no initializers: not an inswapper model")
    emap = numpy_helper.to_array(graph.initializer[-1]).astype(np.float32)
    if emap.shape != (EMBEDDING_DIM, EMBEDDING_DIM):
        raise RswapError(f"{path}: last initializer is {emap.shape}, an inswapper emap is {EMBEDDING_DIM}x{EMBEDDING_DIM}")
    return emap


class ArcFace:
    """insightface's ArcFace recogniser: face -> 512-D unit vector."""

    name = "arcface_w600k"
    dim = EMBEDDING_DIM

    def __init__(self, path: str | Path, sha256: str | None = None):
        path = Path(path)
        verify_hash(path, sha256)
        self.runner = OnnxRunner(path)
        self.template = get_template("arcface112")

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        crop, _ = align_crop(image, face.kps5, self.template)
        x = ((crop.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        v = next(iter(self.runner.run({self.runner.input_names[0]: x}).values())).reshape(-1).astype(np.float32)
        if v.size != self.dim:
            raise RswapError(f"ArcFace model gave a {v.size}-D embedding, expected {self.dim}")
        return v / (np.linalg.norm(v) + 1e-12)


@dataclass
class InSwapperSource:
    latent: np.ndarray  # (512,) emap-projected, normalised


class InSwapper(HostSwapper):
    """The file's batch axis is fixed at 1: the batch call is HostSwapper's loop."""

    name = "inswapper"

    def __init__(
        self,
        model_path: str | Path,
        arcface_root: str | Path | None = None,
        sha256: str | None = None,
        keep_mouth: bool = False,
        keep_eyes: bool = False,
        open_runner=None,
    ):
        """`open_runner(path)`: an onnxruntime runner from the app (GPU providers, `run_device`);
        default onnxruntime on the CPU."""
        path = Path(model_path)
        if not path.is_file():
            raise RswapError(f"inswapper model not found: {path}")
        verify_hash(path, sha256)
        self.emap = read_emap(path)
        self.backend = (open_runner or OnnxRunner)(path)
        inputs = self.backend.session.get_inputs()
        image = [i for i in inputs if len(i.shape) == 4]
        latent = [i for i in inputs if len(i.shape) == 2]
        if len(image) != 1 or len(latent) != 1 or len(inputs) != 2:
            raise RswapError(f"{path}: an inswapper model takes one (1,3,128,128) image and one (1,512) latent")
        self.image_name, self.latent_name = image[0].name, latent[0].name
        size = image[0].shape[2]
        self.template = get_template("arcface128", size if isinstance(size, int) else 128)
        self.arcface_root = arcface_root
        self.keep_mouth, self.keep_eyes = keep_mouth, keep_eyes
        self._arcface: ArcFace | None = None

    @property
    def tensor_device(self) -> str | None:
        return self.backend.tensor_device

    def encode_source(self, images: list[np.ndarray], faces: list[Face]) -> InSwapperSource:
        if self._arcface is None:
            self._arcface = ArcFace(find_arcface(self.arcface_root))
        emb = np.mean([self._arcface.embed(i, f) for i, f in zip(images, faces)], axis=0)
        emb = emb / (np.linalg.norm(emb) + 1e-12)
        latent = emb @ self.emap
        return InSwapperSource((latent / (np.linalg.norm(latent) + 1e-12)).astype(np.float32))

    def swap(self, crop: np.ndarray, landmarks: np.ndarray, source: InSwapperSource) -> SwapResult:
        x = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        out = self.backend.run({self.image_name: np.ascontiguousarray(x), self.latent_name: source.latent[None]})
        y = next(iter(out.values()))[0].transpose(1, 2, 0)
        img = np.ascontiguousarray(np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8))
        return SwapResult(img, paste_mask(crop.shape[:2], landmarks, self.keep_mouth, self.keep_eyes))

    def swap_batch_device(self, crops, landmarks: list[np.ndarray], sources: list[InSwapperSource]):
        """On-device compose (see LearnedSwapper.swap_batch_device): crops (N,3,S,S) float
        tensor, RGB 0..255, on the backend's device -> (swapped crops alike, masks (N,S,S)).
        The file's batch axis is fixed at 1, so faces go one call each."""
        import torch  # only reached with torch tensors in hand

        outs = [
            next(iter(self.backend.run_device({
                self.image_name: crops[i : i + 1] / 255.0,
                self.latent_name: crops.new_tensor(source.latent[None]),
            }).values()))
            for i, source in enumerate(sources)
        ]
        hw = tuple(crops.shape[-2:])
        masks = np.stack([paste_mask(hw, lm, self.keep_mouth, self.keep_eyes) for lm in landmarks])
        return (torch.cat(outs) * 255.0).clamp(0.0, 255.0), masks
