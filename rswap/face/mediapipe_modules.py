"""The mediapipe modules rswap uses, imported without the parts of the package it never runs.

Importing any mediapipe module runs the package's `__init__`, which imports every solution
and every task, and with them matplotlib's pyplot (mediapipe's drawing utilities) and
sounddevice (its audio tasks, which loads PortAudio): 0.59 s and 0.09 s of a ~1.7 s import
on 2 cores (`python -X importtime`, benchmarks/RESULTS.md, "issue 11, convert, fourth part").
Neither is used by rswap, nor by the mediapipe parts it uses (face mesh, face detection, hands,
their connection tables). So before mediapipe is first imported, each of the two is put in
`sys.modules` as a module whose code has not run yet: the first attribute anyone reads from
it runs that code in the same module object (what the standard library's LazyLoader does;
its modules load already at the next `import` statement, which is how mediapipe reaches
them, so it cannot serve here). In rswap's commands nobody reads them, so they never load.
matplotlib's package itself (~0.1 s) is still imported: finding pyplot's file needs it.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

NEVER_USED = ("matplotlib.pyplot", "sounddevice")


class _RunsOnFirstUse(types.ModuleType):
    """A module whose code runs when an attribute it does not have yet is first read. Its
    import bookkeeping (`__spec__`, `__name__`, `__file__`) is there from the start, so an
    `import` statement finds it initialised and leaves it alone."""

    _lock = threading.RLock()  # re-entrant: running one module may read another deferred one

    def __getattr__(self, attr: str):  # called only for attributes the module does not have
        with _RunsOnFirstUse._lock:
            if type(self) is _RunsOnFirstUse:  # not run yet (another thread may have run it meanwhile)
                self.__class__ = types.ModuleType
                self.__spec__.loader.exec_module(self)
        return getattr(self, attr)


def _defer(name: str) -> None:
    """Put `name` in sys.modules unrun, unless it is imported already or not installed."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _RunsOnFirstUse
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: matplotlib.pyplot is also an attribute of matplotlib
        setattr(sys.modules[parent], child, module)


if "mediapipe" not in sys.modules:
    for _name in NEVER_USED:
        _defer(_name)

from mediapipe.python.solutions import (  # noqa: E402
    face_detection, face_mesh, face_mesh_connections, hands, hands_connections)

__all__ = ["face_detection", "face_mesh", "face_mesh_connections", "hands", "hands_connections"]
