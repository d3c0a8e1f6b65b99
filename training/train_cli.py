"""`rswap train --faces DATA [--triplets TRIP] --out RUN ...`: train the generator.

Single process here; for several GPUs or machines run the same flags under torchrun:
    torchrun --nproc-per-node 8 -m training --faces DATA --triplets TRIP --out RUN
"""

from __future__ import annotations

import argparse
import os

from training import config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from training.train import train

    cfg = config.from_args(args)
    if not cfg.faces:
        from rswap.errors import RswapError

        raise RswapError("--faces is required (a dataset folder from `rswap prepare`), on the command line or in --config")
    from rswap.atomic import output_folder
    from rswap.interrupts import keeps_on_interrupt

    kept = f"checkpoints saved so far are kept in {cfg.out} (--resume continues from the last)"
    with keeps_on_interrupt(kept), output_folder(cfg.out):  # a run failing before its first checkpoint leaves no empty folder
        result = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"step {result['step']}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in result.items() if k not in ("step", "history")))
    return 0
