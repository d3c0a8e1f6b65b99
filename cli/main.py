"""`rswap SUBCOMMAND ...` and `rswap-live ...`.

Each subcommand lives in its app as a module with two functions:
`add_arguments(parser)` declares its flags, `run(args) -> int` does the work.
Modules are imported only when their subcommand runs, so `rswap live` never pays
for torch and `rswap train` never for the camera stack.

Errors a user can cause are raised as `RswapError` anywhere below; they end here
as one line on stderr and exit code 2. Ctrl-C and SIGTERM raise `Interrupted` in the main
thread (rswap/interrupts.py), unwind through every clean-up, and end here as one line saying
what was kept, with exit code 130 or 143. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys

from rswap.errors import RswapError
from rswap.interrupts import describe, exit_code, signals_raise

SUBCOMMANDS = {
    "live": ("realtime.live_cli", "swap faces live: camera or file -> virtual camera / preview / file"),
    "convert": ("realtime.convert_cli", "swap faces in a video or image file, every frame, audio copied"),
    "prepare": ("training.prepare_cli", "folders of images/videos -> aligned face dataset shards"),
    "triplets": ("training.triplets_cli", "synthesize naive/cycle triplets for training"),
    "train": ("training.train_cli", "train the generator (single process or torchrun DDP)"),
    "build": ("engine_build.cli", "export the generator to ONNX and build TensorRT engines"),
    "bench": ("benchmarks.cli", "latency benchmarks"),
    "eval": ("benchmarks.eval_cli", "face-quality evaluation of swappers on image folders"),
    "verify": ("realtime.verify_cli", "is a file synthetic by rswap? Content Credentials and watermark"),
}


def hide_native_logs() -> None:
    """mediapipe's C++ layers (TFLite, absl) write INFO/WARNING lines straight to file
    descriptor 2 whenever a graph starts; a user should see only rswap's own lines.
    So Python's stderr moves to a duplicate of fd 2 and fd 2 itself goes to /dev/null.
    RSWAP_NATIVE_LOGS=1 keeps them (for debugging the native layers)."""
    if os.environ.get("RSWAP_NATIVE_LOGS"):
        return
    try:
        sys.stderr.flush()
        python_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = io.TextIOWrapper(io.FileIO(python_fd, "w"), encoding="utf-8", errors="replace", line_buffering=True)


def _run_module(module_name: str, prog: str, help_text: str, argv: list[str]) -> int:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    return int(module.run(args) or 0)


def _guarded(fn, *a) -> int:
    try:
        with signals_raise():
            return fn(*a)
    except RswapError as e:
        print(f"rswap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Interrupted too (SIGTERM)
        print(f"rswap: {describe(e)}", file=sys.stderr)
        return exit_code(e)


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
    return _guarded(_run_module, module_name, f"rswap {argv[0]}", help_text, argv[1:])


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
