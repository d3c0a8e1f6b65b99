"""The learned swapper: a generator from a model directory (ONNX/TensorRT + manifest).

Everything about the network's inputs and outputs comes from the manifest, nothing is
assumed: the crop template and size, each image tensor's value range and channel
order, the identity encoder and its size. The source identity is computed once per
source by that encoder; `swap_batch` runs every face of a frame in one call.

The inference backend is injected (anything with `run(dict) -> dict`): the realtime app
passes its TensorRT/torch/onnxruntime backends; on its own the core library runs the
graph with onnxruntime on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from rswap.artifacts import Manifest, NetworkSpec, TensorSpec, load_manifest
from rswap.compose.masks import region_mask
from rswap.errors import RswapError
from rswap.face.align import align_crop, get_template
from rswap.face.types import Face
from rswap.swap.base import SwapResult


class Runner(Protocol):
    tensor_device: str | None  # where run_device takes torch tensors; None: host arrays only

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass
class LearnedSource:
    identity: np.ndarray  # (identity_size,) float32 unit vector, from the manifest's encoder


def image_to_tensor(images: list[np.ndarray], spec: TensorSpec) -> np.ndarray:
    """RGB uint8 (S,S,3) crops -> (B,3,S,S) in the spec's value range and channel order."""
    x = np.stack(images).astype(np.float32) / 255.0
    if spec.channel_order == "BGR":
        x = x[..., ::-1]
    lo, hi = spec.value_range or (0.0, 1.0)
    return np.ascontiguousarray((lo + x * (hi - lo)).transpose(0, 3, 1, 2), np.dtype(spec.dtype))


def tensor_to_images(x: np.ndarray, spec: TensorSpec) -> list[np.ndarray]:
    """(B,3,S,S) in the spec's range and order -> RGB uint8 (S,S,3) crops."""
    lo, hi = spec.value_range or (0.0, 1.0)
    x = (np.asarray(x, np.float32).transpose(0, 2, 3, 1) - lo) / (hi - lo)
    if spec.channel_order == "BGR":
        x = x[..., ::-1]
    return [np.ascontiguousarray(np.clip(np.rint(i * 255.0), 0, 255).astype(np.uint8)) for i in x]


def _is_identity_function(net: NetworkSpec, manifest: Manifest) -> bool:
    """The build's aligned crop -> identity vector network (older builds exported dlib's bare
    150x150-chip ResNet under the same key: that one is not the generator's identity)."""
    if len(net.inputs) != 1 or len(net.outputs) != 1:
        return False
    spec, out = net.inputs[0], net.outputs[0]
    return (
        bool(spec.template)
        and len(spec.shape) == 4
        and spec.channel_order in ("RGB", "BGR")
        and spec.value_range is not None
        and list(out.shape[1:]) == [manifest.identity_size]
    )


def paste_mask(crop_hw: tuple[int, int], landmarks: np.ndarray, keep_mouth: bool, keep_eyes: bool) -> np.ndarray:
    """Where the generated face replaces the target: the face oval, minus kept regions."""
    exclude = (("mouth_inner",) if keep_mouth else ()) + (("left_eye", "right_eye") if keep_eyes else ())
    return region_mask(crop_hw, landmarks, include=("face_oval",), exclude=exclude)


class LearnedSwapper:
    crop_sizes: tuple[int, ...] = ()  # a network takes its one crop size
    moves_to_process = False  # holds its backend's session (onnxruntime, TensorRT, torch)

    def __init__(
        self,
        model_dir: str | Path,
        backend: Runner | None = None,
        open_backend: Callable[[Manifest], Runner] | None = None,
        keep_mouth: bool = False,
        keep_eyes: bool = False,
    ):
        """`backend`: a ready runner; else `open_backend(manifest)`; else onnxruntime on the CPU."""
        self.manifest = manifest = load_manifest(model_dir)
        net = manifest.network("generator")
        if len(net.inputs) != 2 or len(net.outputs) != 1:
            raise RswapError(f"{model_dir}: a generator takes (target, identity) and gives one image")
        self.target_spec = next((t for t in net.inputs if len(t.shape) == 4), None)
        self.identity_spec = next((t for t in net.inputs if len(t.shape) == 2), None)
        self.output_spec = net.outputs[0]
        if self.target_spec is None or self.identity_spec is None:
            raise RswapError(f"{model_dir}: generator inputs must be one (B,3,S,S) image and one (B,D) identity")
        for spec in (self.target_spec, self.output_spec):
            if spec.channel_order not in ("RGB", "BGR") or spec.layout != "NCHW" or spec.value_range is None:
                raise RswapError(f"{model_dir}: manifest does not state channel order/layout/range of {spec.name!r}")
            if tuple(spec.shape[1:]) != (3, manifest.crop_size, manifest.crop_size):
                raise RswapError(f"{model_dir}: {spec.name!r} shape {spec.shape} does not match crop size {manifest.crop_size}")
        if self.identity_spec.shape[1] != manifest.identity_size:
            raise RswapError(f"{model_dir}: identity input {self.identity_spec.shape} vs identity size {manifest.identity_size}")
        self.name = f"learned:{manifest.name}"
        self.template = get_template(manifest.template, manifest.crop_size)
        self.keep_mouth, self.keep_eyes = keep_mouth, keep_eyes
        if backend is None:
            if open_backend is not None:
                backend = open_backend(manifest)
            else:
                from rswap.onnx_runner import OnnxRunner

                backend = OnnxRunner(manifest.path(net.file))
        self.backend = backend
        self._embedder = None

    @property
    def tensor_device(self) -> str | None:
        """The backend's: on the app backends the network also runs on device tensors."""
        return self.backend.tensor_device

    def _identity_encoder(self) -> Callable[[list[np.ndarray], list[Face]], np.ndarray]:
        """photos + faces -> (N, identity_size) unit vectors, made the way the manifest says; created
        on first use (the network or dlib loads ~100 MB of weights)."""
        if self._embedder is None:
            net = self.manifest.networks.get("identity_encoder")
            if net is not None and _is_identity_function(net, self.manifest):
                self._embedder = self._network_embedder(net)
            else:
                self._embedder = self._dlib_embedder()
        return self._embedder

    def _network_embedder(self, net: NetworkSpec) -> Callable[[list[np.ndarray], list[Face]], np.ndarray]:
        """The build's identity function: the photo aligned like a target crop -> the generator's
        identity vector, exactly as training computed it. onnxruntime on the CPU: once per source."""
        from rswap.onnx_runner import OnnxRunner

        runner = OnnxRunner(self.manifest.path(net.file))
        spec, out = net.inputs[0], net.outputs[0].name
        template = get_template(spec.template, spec.shape[-1])

        def embed(images: list[np.ndarray], faces: list[Face]) -> np.ndarray:
            crops = [align_crop(img, face.kps5, template)[0] for img, face in zip(images, faces)]
            return runner.run({spec.name: image_to_tensor(crops, spec)})[out]  # all photos in one call

        return embed

    def _dlib_embedder(self) -> Callable[[list[np.ndarray], list[Face]], np.ndarray]:
        """Models built before the identity function was exported: dlib's own pipeline, which is
        only right for a generator conditioned on the bare dlib embedding."""
        m = self.manifest
        fixer = int(m.build.get("generator_config", {}).get("fixer_dim", 0))
        if m.identity_encoder != "dlib_resnet128" or fixer or m.identity_size != 128:
            raise RswapError(
                f"model {m.name!r} ({m.identity_encoder}{' + FixerNet' if fixer else ''}, {m.identity_size}-D identity) "
                f"has no identity encoder network; rebuild it with `rswap build`"
            )
        from rswap.face.dlib_embedder import DlibEmbedder

        dlib = DlibEmbedder()
        return lambda images, faces: np.stack([dlib.embed(img, face) for img, face in zip(images, faces)])

    def encode_source(self, images: list[np.ndarray], faces: list[Face]) -> LearnedSource:
        """Mean of the unit identities of every photo, renormalised: several photos, one steadier identity."""
        if not images:
            raise RswapError("no source face to encode")
        vectors = np.asarray(self._identity_encoder()(images, faces), np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        v = vectors.mean(axis=0)
        return LearnedSource((v / (np.linalg.norm(v) + 1e-12)).astype(np.float32))

    def swap(self, crop: np.ndarray, landmarks: np.ndarray, source: LearnedSource) -> SwapResult:
        return self.swap_batch([crop], [landmarks], [source])[0]

    def swap_batch(self, crops: list[np.ndarray], landmarks: list[np.ndarray], sources: list[LearnedSource]) -> list[SwapResult]:
        """All faces of a frame in one backend call."""
        if not crops:
            return []
        feeds = {
            self.target_spec.name: image_to_tensor(crops, self.target_spec),
            self.identity_spec.name: np.stack([s.identity for s in sources]).astype(np.dtype(self.identity_spec.dtype)),
        }
        out = self.backend.run(feeds)[self.output_spec.name]
        hw = crops[0].shape[:2]
        return [
            SwapResult(img, paste_mask(hw, lm, self.keep_mouth, self.keep_eyes))
            for img, lm in zip(tensor_to_images(out, self.output_spec), landmarks)
        ]

    def warm_up(self, source: LearnedSource) -> None:
        """Nothing here: the backend warms its session up where it is made (realtime.backends)."""

    def swap_batch_device(self, crops, landmarks: list[np.ndarray], sources: list[LearnedSource]):
        """The device twin of `swap_batch`, for the app backends' `run_device` (torch, TensorRT, onnxruntime).

        crops: (N, 3, S, S) float torch tensor, RGB 0..255, on the backend's device.
        Returns (swapped crops in the same form, masks (N, S, S) float32 numpy): the masks
        come from landmarks with OpenCV on the host, tiny next to the frame.
        """
        identity = np.stack([s.identity for s in sources]).astype(np.dtype(self.identity_spec.dtype))
        feeds = {
            self.target_spec.name: tensor_from_crops(crops, self.target_spec),
            self.identity_spec.name: crops.new_tensor(identity),  # same device, no torch import here
        }
        out = self.backend.run_device(feeds)[self.output_spec.name]
        hw = tuple(crops.shape[-2:])
        masks = np.stack([paste_mask(hw, lm, self.keep_mouth, self.keep_eyes) for lm in landmarks])
        return crops_from_tensor(out, self.output_spec), masks


def tensor_from_crops(crops, spec: TensorSpec):
    """(N,3,S,S) float tensor, RGB 0..255 -> the spec's value range and channel order (torch ops only)."""
    x = crops / 255.0
    if spec.channel_order == "BGR":
        x = x.flip(1)
    lo, hi = spec.value_range or (0.0, 1.0)
    return lo + x * (hi - lo)


def crops_from_tensor(x, spec: TensorSpec):
    """The network's output in the spec's range and order -> (N,3,S,S) float RGB 0..255, clipped."""
    lo, hi = spec.value_range or (0.0, 1.0)
    x = (x.float() - lo) * (255.0 / (hi - lo))
    if spec.channel_order == "BGR":
        x = x.flip(1)
    return x.clamp(0.0, 255.0)
