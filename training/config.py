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
from rswap.models.generator import PRESETS
from rswap.models.identity_encoders import IDENTITY_ENCODERS
from rswap.options import add_options, from_section, option
from rswap.options import from_args as options_from_args
from rswap.swap.options import PRECISIONS

# Example types (ReliableSwap Tab. 2): source X_s, target X_t, pixel target Γ.
VANILLA, SELF, NAIVE_ST, NAIVE_TS, CYCLE_ST, CYCLE_TS = 0, 1, 2, 3, 4, 5


@dataclass
class TrainConfig:
    faces: str = option("", "face dataset from `rswap prepare` (required here or in --config)")
    triplets: str = option("", "triplet dataset from `rswap triplets` (needed for types 2-5)")
    out: str = option("runs/rswap", "run folder: config, checkpoints, TensorBoard logs")
    generator: str = option("live", "generator preset (rswap.models.generator)", choices=PRESETS)
    identity_encoder: str = option("dlib_resnet128", "identity encoder; arcface_* needs --identity-weights",
                                   choices=IDENTITY_ENCODERS)
    identity_weights: str = option("", "arcface_torch backbone .pth for an arcface_* identity encoder")
    fixer: str = option("", "FixerNet safetensors (from `rswap fixer`); empty: no FixerNet")
    # schedule: fraction of examples of each type; the rest is type 0 (vanilla cross-identity)
    rate_self: float = option(0.2, "share of type 1 examples (self-reconstruction)")
    rate_cycle: float = option(0.21, "share of cycle-triplet examples (types 4 and 5, half each)")
    rate_naive: float = option(0.0, "share of naive-triplet examples (types 2 and 3; their pixel targets are synthetic)")
    # loss weights
    w_adv: float = option(1.0, "adversarial loss weight")
    w_id: float = option(10.0, "identity loss weight")
    w_attr: float = option(10.0, "attribute loss weight (generator-encoder features of the output vs the target's)")
    w_fm: float = option(10.0, "discriminator feature matching to the real pixel target")
    w_rec: float = option(10.0, "type 1 pixel L1 weight")
    w_cycle: float = option(10.0, "types 4/5 pixel L1 to the real target weight")
    w_cycle_id: float = option(5.0, "types 4/5 identity to the real target weight")
    w_naive: float = option(5.0, "types 2/3 pixel L1 to the synthetic target weight")
    w_fixer: float = option(1.0, "FixerNet (lower-face) identity loss weight")
    face_weight: float = option(1.0, "extra pixel-loss weight inside the swapped face region (triplet types)")
    # optimisation
    steps: int = option(100_000, "optimizer steps")
    batch_size: int = option(8, "examples per step per process")
    lr_g: float = option(1e-4, "generator learning rate")
    lr_d: float = option(1e-4, "discriminator learning rate")
    beta1: float = option(0.0, "Adam beta1")
    beta2: float = option(0.99, "Adam beta2")
    grad_clip: float = option(1.0, "gradient norm clip")
    ema: float = option(0.999, "generator weight moving-average decay")
    precision: str = option("bf16", "training precision (fp16 uses a GradScaler)", choices=PRECISIONS)
    d_scales: int = option(2, "discriminator scales")
    d_width: int = option(64, "discriminator base width")
    seed: int = option(0, "seed of weights and the example schedule")
    workers: int = option(min(4, os.cpu_count() or 1), "DataLoader workers per process")
    # bookkeeping
    log_every: int = option(50, "steps between log lines")
    sample_every: int = option(1000, "steps between sample images")
    ckpt_every: int = option(2000, "steps between checkpoints")
    resume: bool = option(True, "continue from out/checkpoint.safetensors when it exists")
    device: str = option("", "torch device (empty: cuda when available, else cpu)")

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise RswapError(f"precision must be {', '.join(PRECISIONS)}, got {self.precision!r}")
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
        return from_section(cls, d, "training config")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="JSON config file; flags given here override it")
    add_options(parser, TrainConfig, "training", layered=True)  # flags left out keep the file's values


def from_args(args: argparse.Namespace) -> TrainConfig:
    values: dict = {}
    if args.config is not None:
        try:
            values = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RswapError(f"cannot read config file {args.config}: {e}") from None
        if not isinstance(values, dict):
            raise RswapError(f"config file {args.config} must hold a JSON object")
    return options_from_args(TrainConfig, args, values, "training config")
