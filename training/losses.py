"""Generator losses, routed per example type (ReliableSwap Tab. 2), and the discriminator loss.

Which term applies to which type, as the reference code intended (it lost its per-type
masks to an in-place remap of the type codes and zeroed the same-identity pixel loss in
triplet mode; here each term is gated by an explicit per-sample weight):

| term                          | types        | compared with                      |
|-------------------------------|--------------|------------------------------------|
| adversarial (hinge)           | all          | -                                  |
| identity 1 - cos              | all          | E(id_image): X_s, or real Γ for 4/5|
| attribute (encoder features)  | all          | generator-encoder features of X_t  |
| feature matching (D features) | 1, 2..5      | D features of Γ                    |
| reconstruction L1             | 1            | Γ = X_t                            |
| naive-triplet L1              | 2, 3         | synthetic Γ = C_st / C_ts          |
| cycle-triplet L1              | 4, 5         | real Γ                             |
| cycle identity 1 - cos        | 4, 5         | E(real Γ) (on top of the above)    |
| FixerNet 1 - cos              | all (if any) | F(id_image)                        |

Pixel terms use the example's weight map (1 + face_weight inside the swapped region).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rswap.models.discriminator import hinge_g_loss
from training.config import CYCLE_ST, CYCLE_TS, NAIVE_ST, NAIVE_TS, SELF, TrainConfig

ROUTES = {
    "rec": (SELF,),
    "naive": (NAIVE_ST, NAIVE_TS),
    "cycle": (CYCLE_ST, CYCLE_TS),
    "cycle_id": (CYCLE_ST, CYCLE_TS),
    "fm": (SELF, NAIVE_ST, NAIVE_TS, CYCLE_ST, CYCLE_TS),
}


def gate(types: torch.Tensor, term: str) -> torch.Tensor:
    """(B,) float: 1 where the example's type takes part in `term`."""
    return torch.isin(types, torch.tensor(ROUTES[term], device=types.device)).float()


def masked_mean(per_sample: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Mean over the gated samples (0 when none is gated, with the graph kept for DDP)."""
    return (per_sample * g).sum() / g.sum().clamp(min=1)


def pixel_l1(out: torch.Tensor, gamma: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B,) weighted L1, normalised by the weight mass so masks do not change the scale."""
    w = weight.expand_as(out)
    return ((out - gamma).abs() * w).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3)).clamp(min=1e-6)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(a.float(), b.float(), dim=-1)


def generator_losses(
    cfg: TrainConfig,
    batch: dict,
    out: torch.Tensor,
    id_out: torch.Tensor,
    id_ref: torch.Tensor,
    attrs_out: list[torch.Tensor],
    attrs_target: list[torch.Tensor],
    d_fake: list[list[torch.Tensor]],
    d_real: list[list[torch.Tensor]],
    fixer_out: torch.Tensor | None = None,
    fixer_ref: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Every term (unweighted) plus 'total' (weighted sum). Inputs are per batch, B first."""
    types = batch["type"]
    out = out.float()
    l1 = pixel_l1(out, batch["gamma"].float(), batch["weight"].float())
    id_dist = cosine_distance(id_out, id_ref)
    attr = sum(((a.float() - t.float()) ** 2).mean(dim=(1, 2, 3)) for a, t in zip(attrs_out, attrs_target)) / len(attrs_out)
    fm = sum(
        sum((f.float() - r.float()).abs().mean(dim=(1, 2, 3)) for f, r in zip(fs[:-1], rs[:-1])) / (len(fs) - 1)
        for fs, rs in zip(d_fake, d_real)
    ) / len(d_fake)
    terms = {
        "adv": hinge_g_loss(d_fake),
        "id": id_dist.mean(),
        "attr": attr.mean(),
        "fm": masked_mean(fm, gate(types, "fm")),
        "rec": masked_mean(l1, gate(types, "rec")),
        "naive": masked_mean(l1, gate(types, "naive")),
        "cycle": masked_mean(l1, gate(types, "cycle")),
        "cycle_id": masked_mean(id_dist, gate(types, "cycle_id")),
    }
    if fixer_out is not None:
        terms["fixer"] = cosine_distance(fixer_out, fixer_ref).mean()
    weights = {"adv": cfg.w_adv, "id": cfg.w_id, "attr": cfg.w_attr, "fm": cfg.w_fm, "rec": cfg.w_rec,
               "naive": cfg.w_naive, "cycle": cfg.w_cycle, "cycle_id": cfg.w_cycle_id, "fixer": cfg.w_fixer}
    terms["total"] = sum(weights[k] * v for k, v in terms.items())
    return terms
