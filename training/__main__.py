"""`python -m training ...` = `rswap train ...`; the entry point for torchrun:

    torchrun --nproc-per-node N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT] -m training --faces ...
"""

import sys

from cli.main import main

sys.exit(main(["train", *sys.argv[1:]]))
