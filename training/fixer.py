"""`rswap fixer --faces DATA --out fixer.safetensors`: train FixerNet.

FixerNet (ReliableSwap) embeds the lower face — mouth and jaw — so the generator's
identity vector carries the shape cues that whole-face encoders under-weight. It is
trained as a face recogniser on the lower-face region of the prepared crops, with a
CosFace margin head over the dataset's identities; the head is thrown away and the
embedding is saved (safetensors) for `rswap train --fixer`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F

from rswap.entry import run_command
from rswap.errors import RswapError
from rswap.models.identity_encoders import FixerNet, save_fixernet
from training.shards import ShardSet


def train_fixer(faces: str, out: str, steps: int = 2000, batch_size: int = 64, dim: int = 128, lr: float = 1e-3,
                margin: float = 0.35, scale: float = 30.0, seed: int = 0, device: str = "") -> list[float]:
    if steps < 1 or batch_size < 1:
        raise RswapError(f"steps and batch size must be at least 1, got {steps} and {batch_size}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = ShardSet(faces, "faces")
    labels = data.meta("identity")
    n_ids = len(np.unique(labels))
    if n_ids < 2:
        raise RswapError(f"{faces} has one identity only; FixerNet learns to tell people apart and needs several")
    torch.manual_seed(seed)
    model = FixerNet(dim).to(dev)
    head = torch.nn.Parameter(F.normalize(torch.randn(n_ids, dim, device=dev), dim=1))
    opt = torch.optim.AdamW([*model.parameters(), head], lr=lr, weight_decay=5e-4)
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(steps):
        rows = rng.integers(len(data), size=batch_size)
        images = torch.from_numpy(np.stack([data.images(int(r)) for r in rows])).to(dev)
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1
        if rng.random() < 0.5:
            x = x.flip(3)  # a mirrored face is the same person
        y = torch.from_numpy(labels[rows]).long().to(dev)
        cos = model(x) @ F.normalize(head, dim=1).T  # model output is unit length
        logits = scale * (cos - margin * F.one_hot(y, n_ids))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    save_fixernet(out, model.cpu())
    return losses


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faces", required=True, help="face dataset from `rswap prepare` (several identities)")
    p.add_argument("--out", required=True, help="FixerNet .safetensors to write")
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=64, help="faces per step (default 64)")
    p.add_argument("--dim", type=int, default=128, help="embedding size (default 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batches (default 0)")
    p.add_argument("--device", default="", help="torch device (default: cuda when available, else cpu)")


def run(a: argparse.Namespace) -> int:
    losses = train_fixer(a.faces, a.out, a.steps, a.batch_size, a.dim, a.lr, seed=a.seed, device=a.device)
    print(f"FixerNet: loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps -> {a.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m training.fixer ...` = `rswap fixer ...`."""
    return run_command("training.fixer", "rswap fixer", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
