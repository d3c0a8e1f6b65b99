"""`rswap SUBCOMMAND ...` and `rswap-live ...`: the table of subcommands.

Each subcommand lives in its app as a module with two functions:
`add_arguments(parser)` declares its flags, `run(args) -> int` does the work.
Modules are imported only when their subcommand runs, so `rswap live` never pays
for torch and `rswap train` never for the camera stack. How a command is run (native
logs hidden, one-line errors, interrupts) is the core's: rswap/entry.py. No app imports
this package.
"""

from __future__ import annotations

import sys

from rswap.entry import hide_native_logs, run_command

SUBCOMMANDS = {
    "live": ("realtime.live_cli", "swap faces live: camera or file -> virtual camera / preview / file"),
    "convert": ("convert.cli", "swap faces in a video or image file, every frame, audio copied"),
    "prepare": ("training.prepare_cli", "folders of images/videos -> aligned face dataset shards"),
    "triplets": ("training.triplets_cli", "synthesize naive/cycle triplets for training"),
    "train": ("training.train_cli", "train the generator (single process or torchrun DDP)"),
    "fixer": ("training.fixer", "train FixerNet, the lower-face identity embedding (for train --fixer)"),
    "build": ("engine_build.cli", "export the generator to ONNX and build TensorRT engines"),
    "bench": ("benchmarks.cli", "latency benchmarks"),
    "eval": ("evaluation.cli", "face-quality evaluation of swappers on image folders"),
    "verify": ("realtime.verify_cli", "is a file synthetic by rswap? Content Credentials and watermark"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        lines = [f"  {name:<9} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
        print("usage: rswap SUBCOMMAND [options]\n\nsubcommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"rswap: error: unknown subcommand {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module_name, help_text = SUBCOMMANDS[argv[0]]
    return run_command(module_name, f"rswap {argv[0]}", help_text, argv[1:])


def live_main(argv: list[str] | None = None) -> int:
    """`rswap-live ...` is `rswap live ...`."""
    argv = sys.argv[1:] if argv is None else argv
    return main(["live", *argv])


def console_main() -> int:
    """The installed `rswap` command (and `python -m cli`)."""
    hide_native_logs()
    return main()


def live_console_main() -> int:
    """The installed `rswap-live` command."""
    hide_native_logs()
    return live_main()


if __name__ == "__main__":
    sys.exit(console_main())
