"""`python -m training ...` = `rswap train ...`; the entry point for torchrun:

    torchrun --nproc-per-node N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT] -m training --faces ...
"""

import sys

from rswap.entry import run_command

sys.exit(run_command("training.train_cli", "python -m training", "train the generator (single process or torchrun DDP)"))
