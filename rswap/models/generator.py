"""The face-swap generator: an aligned target crop + a source identity vector -> the swapped crop.

Architecture (AEI-Net-style, slimmed for real time):

    target ─ encoder (stride-2 convs) ─┬─ z_1 (S/2) ... z_n (S/2^n)
                                       │
    identity ─────────────────────────►├─ bottleneck: residual blocks with AdaIN(identity) at S/2^n
                                       │
                                       └─ decoder: at each scale an AAD block mixes
                                          attribute features z_k (from the target) and the
                                          identity with a learned per-pixel mask, then upsamples
                                       ─ to RGB, tanh

AAD (adaptive attentional denormalization, Li et al. "FaceShifter") lets the network
decide per pixel whether to take the target's attributes (hair, background, lighting)
or the source's identity, so background survives while the face changes.

Export rules this file keeps (engine_build turns it into ONNX/TensorRT):
- no grid_sample/affine_grid, no data-dependent control flow, static shapes except batch;
- upsampling is nearest x2 (a Resize op every backend has);
- normalisations compute their statistics in float32 even under fp16/bf16 autocast,
  because a variance of fp16 activations overflows at ~256.

Tensors: target (B,3,S,S) float32 RGB in [-1,1]; identity (B,id_dim) float32, L2-normalised;
output (B,3,S,S) RGB in [-1,1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from rswap.errors import RswapError


@dataclass
class GeneratorConfig:
    name: str = "live"
    size: int = 256  # crop side S; must be divisible by 2**len(widths)
    template: str = "ffhq256"  # rswap.face.align template name the crops are aligned with
    id_dim: int = 128  # length of the identity vector the generator is conditioned on
    identity_encoder: str = "dlib_resnet128"  # which encoder made the identity vector
    fixer_dim: int = 0  # >0: the identity vector's last fixer_dim entries are a FixerNet embedding
    widths: tuple[int, ...] = (32, 64, 128, 256)  # encoder channels per stride-2 stage
    depth: int = 4  # identity (AdaIN) residual blocks at the bottleneck
    version: int = 1  # architecture version, bumped when the layer layout changes

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if not self.widths or any(w <= 0 for w in self.widths):
            raise RswapError(f"generator config {self.name!r}: widths must be positive, got {self.widths}")
        if self.size % (2 ** len(self.widths)):
            raise RswapError(
                f"generator config {self.name!r}: size {self.size} is not divisible by 2**{len(self.widths)}"
            )
        if self.id_dim <= 0 or self.depth < 0 or not 0 <= self.fixer_dim < self.id_dim:
            raise RswapError(f"generator config {self.name!r}: bad id_dim/depth/fixer_dim")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise RswapError(f"generator config has unknown keys: {', '.join(sorted(unknown))}")
        return cls(**d)


PRESETS: dict[str, GeneratorConfig] = {
    # For tests and CPU smoke runs: 64x64 crops, ~0.13 M parameters.
    "tiny": GeneratorConfig(name="tiny", size=64, widths=(8, 16, 32), depth=1),
    # Real time: ~9.2 M parameters, ~8.3 GMAC per 256^2 frame, bottleneck at 16x16;
    # sized for >= 100 fps at 256^2 on a modern GPU.
    "live": GeneratorConfig(name="live", size=256, widths=(32, 64, 128, 256), depth=4),
    # More capacity for offline conversion: ~45 M parameters, ~35 GMAC per frame.
    "large": GeneratorConfig(name="large", size=256, widths=(64, 128, 256, 512), depth=6),
}


def preset(name: str, **overrides) -> GeneratorConfig:
    if name not in PRESETS:
        raise RswapError(f"unknown generator preset {name!r}; choose one of {', '.join(PRESETS)}")
    d = PRESETS[name].to_dict()
    d.update(overrides)
    return GeneratorConfig.from_dict(d)


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-sample, per-channel normalisation without affine, statistics in float32."""
    xf = x.float()
    mean = xf.mean(dim=(2, 3), keepdim=True)
    var = (xf - mean).pow(2).mean(dim=(2, 3), keepdim=True)
    return ((xf - mean) * torch.rsqrt(var + eps)).to(x.dtype)


class AdaIN(nn.Module):
    """Instance norm whose scale and shift come from the identity vector."""

    def __init__(self, channels: int, id_dim: int):
        super().__init__()
        self.affine = nn.Linear(id_dim, 2 * channels)

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(identity).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return instance_norm(x) * (1 + gamma) + beta


class IdentityBlock(nn.Module):
    """Residual block at the bottleneck: conv -> AdaIN -> act, twice (SimSwap's ID block)."""

    def __init__(self, channels: int, id_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = AdaIN(channels, id_dim)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = AdaIN(channels, id_dim)

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.norm1(self.conv1(x), identity), 0.2)
        h = self.norm2(self.conv2(h), identity)
        return x + h


class AAD(nn.Module):
    """Adaptive attentional denormalization: per-pixel choice between attributes and identity."""

    def __init__(self, channels: int, attr_channels: int, id_dim: int):
        super().__init__()
        self.attr_gamma = nn.Conv2d(attr_channels, channels, 3, padding=1)
        self.attr_beta = nn.Conv2d(attr_channels, channels, 3, padding=1)
        self.id_affine = nn.Linear(id_dim, 2 * channels)
        self.mask = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, h: torch.Tensor, attr: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        hn = instance_norm(h)
        a = hn * (1 + self.attr_gamma(attr)) + self.attr_beta(attr)
        gamma, beta = self.id_affine(identity).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        i = hn * (1 + gamma) + beta
        m = torch.sigmoid(self.mask(hn))
        return (1 - m) * a + m * i


class AADBlock(nn.Module):
    """AAD -> act -> conv, twice, with a residual path; changes channels in -> out."""

    def __init__(self, cin: int, cout: int, attr_channels: int, id_dim: int):
        super().__init__()
        self.aad1 = AAD(cin, attr_channels, id_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.aad2 = AAD(cout, attr_channels, id_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, h: torch.Tensor, attr: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.leaky_relu(self.aad1(h, attr, identity), 0.2))
        y = self.conv2(F.leaky_relu(self.aad2(y, attr, identity), 0.2))
        return self.skip(h) + y


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2))


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, padding=1), nn.LeakyReLU(0.2))
        # encoder: stage k maps S/2^k -> S/2^(k+1); its output is the attribute map at that scale
        self.down = nn.ModuleList(_down(w[max(k - 1, 0)], w[k]) for k in range(len(w)))
        self.id_blocks = nn.ModuleList(IdentityBlock(w[-1], config.id_dim) for _ in range(config.depth))
        # decoder: at scale k (coarse to fine) mix with encoder map k, then upsample
        self.up = nn.ModuleList(
            AADBlock(w[k], w[max(k - 1, 0)], w[k], config.id_dim) for k in reversed(range(len(w)))
        )
        self.final = AADBlock(w[0], w[0], w[0], config.id_dim)  # at full size, attributes from the stem
        self.to_rgb = nn.Conv2d(w[0], 3, 3, padding=1)

    def attributes(self, target: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's feature maps, full size first (the AEI attribute loss compares them)."""
        x = self.stem(target)
        attrs = [x]
        for down in self.down:
            x = down(x)
            attrs.append(x)
        return attrs

    def forward(self, target: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        attrs = self.attributes(target)
        x = attrs[-1]
        for block in self.id_blocks:
            x = block(x, identity)
        # attrs[-1] is the bottleneck map, attrs[0] the full-size stem map
        for i, block in enumerate(self.up):
            x = block(x, attrs[len(attrs) - 1 - i], identity)
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.final(x, attrs[0], identity)
        return torch.tanh(self.to_rgb(x))


def identity_vector(embedding: torch.Tensor, fixer: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's identity input: L2-normalised concatenation of the (unit) embeddings."""
    parts = [F.normalize(embedding.float(), dim=-1)]
    if fixer is not None:
        parts.append(F.normalize(fixer.float(), dim=-1))
    return F.normalize(torch.cat(parts, dim=-1), dim=-1)


__all__ = ["GeneratorConfig", "Generator", "PRESETS", "preset", "identity_vector", "instance_norm"]
