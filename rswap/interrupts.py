"""Ctrl-C and SIGTERM as one exception, raised in the main thread, so both run the same clean-up.

Python turns SIGINT into KeyboardInterrupt but leaves SIGTERM (what `kill`, systemd, a
job scheduler or a container runtime send) at the OS default: the process dies at once,
leaving `.part` files and `.building/` folders behind. `signals_raise()` makes both raise
`Interrupted`, a KeyboardInterrupt subclass, so every `except KeyboardInterrupt` (ours,
tqdm's, torch's) treats a SIGTERM like a Ctrl-C, and every `finally` / `except
BaseException` that removes a temporary file runs. Worker threads see the same thing
through their stop events when the main thread unwinds.

Only the first signal raises. A second one while the clean-up runs is ignored: raising
again inside a `finally` would skip the rest of it and leave the very temp files this
exists to remove. (Clean-up is bounded: pipeline threads are joined with a timeout.)

Whoever knows what was kept says so on the exception (`note_kept`); the CLI prints that
as its one line and exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

Some libraries catch the exception and go on: torch.onnx.export wraps an interrupt raised
inside torch.export into its own error and then tries its next capture strategy. Measured
(`rswap build` of the tiny preset, SIGTERM 0-8 s after its `.building` folder appeared): at
2 s the build exited 2 with "ONNX export failed", and under load the next strategy finished
and the build exited 0 with a whole model, the signal lost. After such a call,
`raise_if_interrupted()` raises the interrupt the library swallowed.
"""

from __future__ import annotations

import contextlib
import signal
import threading

NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """The user or the system asked the program to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum
        self.kept = ""  # what the interrupted command kept, for the one line the CLI prints

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


def note_kept(error: BaseException, kept: str) -> None:
    """Say what an interrupted command left behind (a plain KeyboardInterrupt counts as SIGINT)."""
    error.kept = kept


@contextlib.contextmanager
def keeps_on_interrupt(kept: str):
    """An interrupt inside the block says `kept` (note_kept) on its way out."""
    try:
        yield
    except KeyboardInterrupt as e:
        note_kept(e, kept)
        raise


def exit_code(error: KeyboardInterrupt) -> int:
    return error.exit_code if isinstance(error, Interrupted) else 128 + signal.SIGINT


def describe(error: KeyboardInterrupt) -> str:
    name = NAMES.get(getattr(error, "signum", signal.SIGINT))
    kept = getattr(error, "kept", "") or "no partial output kept"
    return f"interrupted by {name}: {kept}"


class _RaiseOnce:
    """The handler `signals_raise` installs: raises Interrupted for the first signal and
    remembers it, so that `raise_if_interrupted` can tell when a library swallowed it."""

    def __init__(self):
        self.fired: int | None = None

    def __call__(self, signum, frame):
        if self.fired is not None:  # already unwinding: let the clean-up finish
            return
        self.fired = signum
        raise Interrupted(signum)


def raise_if_interrupted() -> None:
    """Raise Interrupted if a signal arrived inside `signals_raise` (for use right after a
    library call that may have caught it and carried on; never inside clean-up)."""
    handler = signal.getsignal(signal.SIGTERM)  # the handler itself holds the state: no module global
    if isinstance(handler, _RaiseOnce) and handler.fired is not None:
        raise Interrupted(handler.fired)


@contextlib.contextmanager
def signals_raise():
    """Within the block, SIGINT and SIGTERM raise Interrupted in the main thread (once).
    Outside the main thread (signal handlers cannot be set there) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _RaiseOnce()
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
