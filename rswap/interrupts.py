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


@contextlib.contextmanager
def signals_raise():
    """Within the block, SIGINT and SIGTERM raise Interrupted in the main thread (once).
    Outside the main thread (signal handlers cannot be set there) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if fired:  # already unwinding: let the clean-up finish
            return
        fired.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
