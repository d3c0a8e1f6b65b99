"""The training configuration: one dataclass; every field is a `rswap train` flag and a config-file key.

Precedence: defaults < `--config FILE` (JSON) < flags given on the command line. The
resolved config is written to the run folder and into every checkpoint, so a run can
be resumed or reproduced from its folder alone.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rswap.errors import RswapError

# Example types (ReliableSwap Tab. 2): source X_s, target X_t, pixel target Γ.
VANILLA, SELF, NAIVE_ST, NAIVE_TS, CYCLE_ST, CYCLE_TS = 0, 1, 2, 3, 4, 5


@dataclass
class TrainConfig:
    faces: str = ""  # face dataset from `rswap prepare`
    triplets: str = ""  # triplet dataset from `rswap triplets` (needed for types 2-5)
    out: str = "runs/rswap"  # run folder: config, checkpoints, TensorBoard logs
    generator: str = "live"  # rswap.models.generator preset
    identity_encoder: str = "dlib_resnet128"  # or arcface_r50 / arcface_r100 (needs identity_weights)
    identity_weights: str = ""
    fixer: str = ""  # FixerNet safetensors (from `rswap fixer`); empty: no FixerNet
    # schedule: fraction of examples of each type; the rest is type 0 (vanilla cross-identity)
    rate_self: float = 0.2  # type 1
    rate_cycle: float = 0.21  # types 4 and 5, half each
    rate_naive: float = 0.0  # types 2 and 3, half each (optional; their pixel targets are synthetic)
    # loss weights
    w_adv: float = 1.0
    w_id: float = 10.0
    w_attr: float = 10.0  # generator-encoder features of the output vs the target's (AEI attribute loss)
    w_fm: float = 10.0  # discriminator feature matching to the real pixel target
    w_rec: float = 10.0  # type 1 pixel L1
    w_cycle: float = 10.0  # types 4/5 pixel L1 to the real Γ
    w_cycle_id: float = 5.0  # types 4/5 identity to the real Γ
    w_naive: float = 5.0  # types 2/3 pixel L1 to the synthetic Γ
    w_fixer: float = 1.0
    face_weight: float = 1.0  # extra pixel-loss weight inside the swapped face region (triplet types)
    # optimisation
    steps: int = 100_000
    batch_size: int = 8  # per process
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.99
    grad_clip: float = 1.0
    ema: float = 0.999
    precision: str = "bf16"  # fp32 | bf16 | fp16 (fp16 uses a GradScaler)
    d_scales: int = 2
    d_width: int = 64
    seed: int = 0
    workers: int = min(4, os.cpu_count() or 1)  # DataLoader workers per process
    # bookkeeping
    log_every: int = 50
    sample_every: int = 1000
    ckpt_every: int = 2000
    resume: bool = True  # continue from out/checkpoint.safetensors when it exists
    device: str = ""  # empty: cuda when available, else cpu

    def __post_init__(self):
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise RswapError(f"precision must be fp32, bf16 or fp16, got {self.precision!r}")
        rates = (self.rate_self, self.rate_cycle, self.rate_naive)
        if min(rates) < 0 or sum(rates) > 1:
            raise RswapError("type rates must be >= 0 and sum to at most 1")
        at_least_one = ("steps", "batch_size", "log_every", "sample_every", "ckpt_every", "d_scales", "d_width")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise RswapError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.workers < 0:
            raise RswapError(f"workers must be >= 0, got {self.workers}")
        for name in ("lr_g", "lr_d", "grad_clip"):
            if not getattr(self, name) > 0:
                raise RswapError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("beta1", "beta2", "ema"):
            if not 0 <= getattr(self, name) < 1:
                raise RswapError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        weights = [f.name for f in fields(self) if f.name.startswith("w_")] + ["face_weight"]
        for name in weights:
            if not getattr(self, name) >= 0:
                raise RswapError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise RswapError(f"unknown training config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="JSON config file; flags given here override it")
    for f in fields(TrainConfig):
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, type=type(default), default=None, help=f"(default {default!r})")


def from_args(args: argparse.Namespace) -> TrainConfig:
    values: dict = {}
    if args.config is not None:
        try:
            values = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RswapError(f"cannot read config file {args.config}: {e}") from None
        if not isinstance(values, dict):
            raise RswapError(f"config file {args.config} must hold a JSON object")
    for f in fields(TrainConfig):
        if getattr(args, f.name, None) is not None:
            values[f.name] = getattr(args, f.name)
    return TrainConfig.from_dict(values)
