"""dlib's face-recognition ResNet (128-D) in torch, weights read from its .dat file.

Why a port: dlib runs the network on the CPU only and without gradients; training needs
a differentiable identity encoder on the GPU. The weights are dlib's public-domain
`dlib_face_recognition_resnet_model_v1.dat` (PyPI face-recognition-models), so the
default identity encoder needs no download and carries no licence question.

The network (dlib/examples/dnn_face_recognition_ex.cpp, input 150x150 RGB chip):

    con 32 7x7/2 -> affine -> relu -> max_pool 3x3/2
    3 x res(32) | res_down(64), 3 x res(64) | res_down(128), 2 x res(128)
    | res_down(256), 2 x res(256) | res_down(256) -> global avg pool -> fc 256->128 (no bias)

res(N) = relu(x + affine(con3x3(relu(affine(con3x3(x)))))); res_down uses stride 2 in its first
conv and a 2x2/2 average pool on the shortcut. dlib pads stride-2 convs and pools by 0,
stride-1 convs by 1 ("same"), and its add_prev zero-fills missing channels/pixels when the
branch and the shortcut differ in size (at 8x8 -> 3x3 vs 4x4). Batch norm was folded into
`affine` (per-channel scale and shift) when dlib saved the model.

The .dat file is dlib's own serialization: layer records in input -> output order, each a
length-prefixed name then its fields; integers in dlib's compact form (a byte whose low
nibble is the byte count and whose high bit is the sign, then little-endian bytes),
tensors as version 2, four dims, then little-endian float32 data.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rswap.errors import RswapError

CHIP_SIZE = 150
# (stage channels, residual blocks, first block downsamples)
_STAGES = [(32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True)]


class _Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        n = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ValueError("unknown tensor version")
        dims = [self.int() for _ in range(4)]
        n = int(np.prod(dims))
        out = np.frombuffer(self.data, "<f4", count=n, offset=self.pos).reshape(dims)
        self.pos += 4 * n
        return out


def read_dat(path: str | Path) -> dict:
    """{'mean': (3,), 'convs': [(w, b)], 'affines': [(gamma, beta)], 'fc': (256,128)} from the .dat."""
    data = Path(path).read_bytes()
    # length-prefixed layer names: \x01 <len> <name>
    records = [(m.end(), m.group(2).decode()) for m in re.finditer(rb"\x01([\x04-\x16])([a-z_]+[0-9]*)", data)]
    records = [(pos, name) for pos, name in records if len(name) == data[pos - len(name) - 1]]
    out: dict = {"convs": [], "affines": []}
    for pos, name in records:
        r = _Reader(data, pos)
        if name == "input_rgb_image_sized":
            out["mean"] = np.array([r.float(), r.float(), r.float()], np.float32)
        elif name == "con_4":
            params = r.tensor().ravel()
            cout, kh, kw = r.int(), r.int(), r.int()
            n_w = params.size - cout
            w = params[:n_w].reshape(cout, n_w // (cout * kh * kw), kh, kw)
            out["convs"].append((w, params[n_w:]))
        elif name == "affine_":
            params = r.tensor().ravel()
            half = params.size // 2
            out["affines"].append((params[:half], params[half:]))
        elif name == "fc_2":
            r.int(), r.int()  # num_outputs, num_inputs
            out["fc"] = r.tensor()[:, :, 0, 0]
    return out


def _conv(cin: int, cout: int, k: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=0 if stride == 2 else k // 2)


class _Affine(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _add_zero_filled(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b where the smaller is zero-padded at the end of each dim (dlib's add_prev)."""
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def pad(t):
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1, self.aff1 = _conv(cin, cout, 3, 2 if down else 1), _Affine(cout)
        self.conv2, self.aff2 = _conv(cout, cout, 3, 1), _Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_zero_filled(y, shortcut))


class DlibResNet(nn.Module):
    """(B,3,150,150) RGB chip with values in [0,255] -> (B,128) dlib descriptor (not normalised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]))
        self.conv, self.aff = _conv(3, 32, 7, 2), _Affine(32)
        blocks, cin = [], 32
        for cout, n, down in _STAGES:
            for i in range(n):
                blocks.append(_Residual(cin, cout, down and i == 0))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, chip255: torch.Tensor) -> torch.Tensor:
        x = (chip255 - self.mean.view(1, 3, 1, 1)) / 256.0
        x = F.max_pool2d(F.relu(self.aff(self.conv(x))), 3, 2)
        x = self.blocks(x).mean(dim=(2, 3))
        return self.fc(x)

    @classmethod
    def from_dat(cls, path: str | Path) -> "DlibResNet":
        try:
            weights = read_dat(path)
        except (OSError, ValueError, IndexError) as e:
            raise RswapError(f"could not read dlib model {path}: {e}") from None
        model = cls()
        convs = [model.conv] + [c for blk in model.blocks for c in (blk.conv1, blk.conv2)]
        affs = [model.aff] + [a for blk in model.blocks for a in (blk.aff1, blk.aff2)]
        if len(weights["convs"]) != len(convs) or len(weights["affines"]) != len(affs) or "fc" not in weights:
            raise RswapError(f"{path} is not dlib's face-recognition ResNet (layer count differs)")
        with torch.no_grad():
            for module, (w, b) in zip(convs, weights["convs"]):
                if tuple(w.shape) != tuple(module.weight.shape):
                    raise RswapError(f"{path}: conv weight {w.shape} does not fit {tuple(module.weight.shape)}")
                module.weight.copy_(torch.from_numpy(w.copy()))
                module.bias.copy_(torch.from_numpy(b.copy()))
            for module, (g, b) in zip(affs, weights["affines"]):
                module.weight.copy_(torch.from_numpy(g.copy()))
                module.bias.copy_(torch.from_numpy(b.copy()))
            model.fc.weight.copy_(torch.from_numpy(weights["fc"].T.copy()))
            model.mean.copy_(torch.from_numpy(weights["mean"]))
        return model.eval()
