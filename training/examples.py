"""Training examples of the six ReliableSwap types, as tensors the losses can route.

Example i of epoch e is a pure function of (seed, e, i): its type is drawn with the
configured rates and its faces with a generator seeded by (seed, e, i). Nothing depends
on worker order or on previous batches, so a resumed run sees exactly the batches the
uninterrupted run would have seen, and DDP ranks never see the same example.

Every example carries:
    source  (3,S,S)  X_s, whose identity the output must have
    target  (3,S,S)  X_t, whose attributes (pose, expression, light, background) it keeps
    gamma   (3,S,S)  Γ, the pixel target (zeros for type 0)
    weight  (1,S,S)  per-pixel weight of the pixel loss (zeros for type 0; 1 + face_weight
                     inside the swapped face region for triplet types, where the change is)
    id_image(3,S,S)  the image whose identity the output is compared to: X_s, except for
                     cycle types 4/5, where it is the real Γ (X_s there is synthetic)
    real    (3,S,S)  a real face for the discriminator: X_t, or Γ for types 4/5 (X_t synthetic)
    type    ()       0..5
Images are float32 RGB in [-1,1], resized from the dataset's crop size to the generator's.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from rswap.errors import RswapError
from training.config import CYCLE_ST, CYCLE_TS, NAIVE_ST, NAIVE_TS, SELF, VANILLA, TrainConfig
from training.shards import ShardSet


def type_probabilities(cfg: TrainConfig) -> np.ndarray:
    p = np.zeros(6)
    p[SELF] = cfg.rate_self
    p[NAIVE_ST] = p[NAIVE_TS] = cfg.rate_naive / 2
    p[CYCLE_ST] = p[CYCLE_TS] = cfg.rate_cycle / 2
    p[VANILLA] = 1 - p.sum()
    return p


class SwapExamples(Dataset):
    def __init__(self, cfg: TrainConfig, size: int):
        self.cfg, self.size, self.epoch = cfg, size, 0
        self.faces = ShardSet(cfg.faces, "faces")
        self.identity = self.faces.meta("identity")
        if len(np.unique(self.identity)) < 2:
            raise RswapError(f"{cfg.faces} has one identity only; training needs faces of at least two people")
        self.others = {k: np.flatnonzero(self.identity != k) for k in np.unique(self.identity)}
        self.p = type_probabilities(cfg)
        self.triplets = None
        if cfg.triplets:
            self.triplets = ShardSet(cfg.triplets, "triplets")
            if self.triplets.index["size"] != self.faces.index["size"]:
                raise RswapError("the triplet dataset was made from crops of another size than the face dataset")
        elif self.p[NAIVE_ST:].sum() > 0:
            raise RswapError("rate_cycle/rate_naive > 0 need --triplets (a dataset from `rswap triplets`)")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.faces)

    def _tensor(self, image: np.ndarray) -> torch.Tensor:
        if image.shape[0] != self.size:
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 127.5 - 1

    def _weight(self, mask: np.ndarray | None) -> torch.Tensor:
        if mask is None:
            return torch.ones(1, self.size, self.size)
        m = cv2.resize(mask.astype(np.float32) / 255.0, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return 1 + self.cfg.face_weight * torch.from_numpy(m)[None]

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.cfg.seed, self.epoch, int(i)])
        kind = int(rng.choice(6, p=self.p))
        zeros = torch.zeros(3, self.size, self.size)
        if kind in (VANILLA, SELF):
            target = self._tensor(self.faces.images(i))
            if kind == SELF:
                source, gamma, weight = target, target, self._weight(None)
            else:
                source = self._tensor(self.faces.images(int(rng.choice(self.others[self.identity[i]]))))
                gamma, weight = zeros, torch.zeros(1, self.size, self.size)
            id_image, real = source, target
        else:
            row = int(rng.integers(len(self.triplets)))
            a, b, c_ab, c_ba = (self._tensor(x) for x in self.triplets.images(row))
            mask_ab, mask_ba = self.triplets.row_meta(row, "masks")
            if kind == NAIVE_ST:  # real s onto real t, Γ = C_st (synthetic)
                source, target, gamma, weight = a, b, c_ab, self._weight(mask_ab)
            elif kind == NAIVE_TS:
                source, target, gamma, weight = b, a, c_ba, self._weight(mask_ba)
            elif kind == CYCLE_ST:  # C_st onto C_ts gives back real s; C_ts carries s's attributes
                source, target, gamma, weight = c_ab, c_ba, a, self._weight(mask_ba)
            else:  # CYCLE_TS
                source, target, gamma, weight = c_ba, c_ab, b, self._weight(mask_ab)
            id_image = gamma if kind in (CYCLE_ST, CYCLE_TS) else source
            real = gamma if kind in (CYCLE_ST, CYCLE_TS) else target
        return {"source": source, "target": target, "gamma": gamma, "weight": weight,
                "id_image": id_image, "real": real, "type": torch.tensor(kind)}
