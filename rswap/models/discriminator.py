"""Multi-scale PatchGAN discriminator (pix2pixHD-style), trained with the hinge loss.

Each scale sees the image at half the resolution of the previous one, so the coarse
discriminator judges the face as a whole and the fine one judges texture. `forward`
returns, per scale, the list of intermediate feature maps with the patch logits last:
the features feed the feature-matching loss, the logits the adversarial loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiscriminatorConfig:
    scales: int = 2
    width: int = 64
    layers: int = 3  # stride-2 convs per scale

    def to_dict(self) -> dict:
        return asdict(self)


class PatchDiscriminator(nn.Module):
    def __init__(self, width: int, layers: int):
        super().__init__()
        blocks, cin = [], 3
        for i in range(layers):
            cout = width * 2 ** min(i, 3)
            norm = nn.InstanceNorm2d(cout, affine=True) if i else nn.Identity()
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), norm, nn.LeakyReLU(0.2)))
            cin = cout
        blocks.append(nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1), nn.InstanceNorm2d(cin, affine=True), nn.LeakyReLU(0.2)))
        self.blocks = nn.ModuleList(blocks)
        self.logits = nn.Conv2d(cin, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        feats.append(self.logits(x))
        return feats


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config or DiscriminatorConfig()
        self.scales = nn.ModuleList(
            PatchDiscriminator(self.config.width, self.config.layers) for _ in range(self.config.scales)
        )

    def forward(self, image: torch.Tensor) -> list[list[torch.Tensor]]:
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                image = F.avg_pool2d(image, 3, 2, 1, count_include_pad=False)
            outs.append(d(image))
        return outs


def hinge_d_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Discriminator hinge loss, averaged over scales."""
    loss = sum(F.relu(1 - r[-1].float()).mean() + F.relu(1 + f[-1].float()).mean() for r, f in zip(real, fake))
    return loss / len(real)


def hinge_g_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Generator side of the hinge loss."""
    return sum(-f[-1].float().mean() for f in fake) / len(fake)
