"""The one place that turns a swapper choice from the command line into a Swapper.

`spec` is "classical" (the embedded, no-network swapper) or a path to a model:
a directory holding an rswap manifest (learned generator), or an inswapper-format
.onnx file. Options that only some swappers understand are ignored by the others.

Inference backends live in the realtime app; the core library cannot import them, so
the app passes `open_backend` (manifest -> runner). Without one, learned models run
on onnxruntime's CPU provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rswap.artifacts import MANIFEST_NAME
from rswap.errors import RswapError
from rswap.swap.base import Swapper


@dataclass
class SwapperOptions:
    keep_mouth: bool = False  # keep the target's mouth interior (teeth, tongue)
    keep_eyes: bool = False  # keep the target's eyes (gaze, blinks)
    reshape: float = 0.6  # classical: how far the target's face contour moves toward the source's (0..1)
    color: str = "reinhard"  # classical: colour transfer method
    backend: str = "auto"  # learned models: inference backend
    backend_options: dict | None = None  # learned models: passed to open_backend (precision, cuda_graphs, compile)
    # learned models: (manifest, backend name) -> runner; realtime.backends.open_backend fits
    open_backend: Callable[..., Any] | None = None
    # bring-your-own .onnx files (inswapper): (path, backend name) -> runner; realtime.backends.open_onnx fits
    open_onnx: Callable[..., Any] | None = None
    insightface_root: str | None = None  # inswapper: where the ArcFace pack lives (default ~/.insightface)


def _classical(spec: str, options: SwapperOptions) -> Swapper:
    from rswap.swap.classical import ClassicalSwapper

    return ClassicalSwapper(keep_mouth=options.keep_mouth, keep_eyes=options.keep_eyes, reshape=options.reshape,
                            color=options.color)


def _learned(spec: str, options: SwapperOptions) -> Swapper:
    from rswap.swap.learned import LearnedSwapper

    path = Path(spec)
    return LearnedSwapper(path if path.is_dir() else path.parent, open_backend=_backend_opener(options),
                          keep_mouth=options.keep_mouth, keep_eyes=options.keep_eyes)


def _inswapper(spec: str, options: SwapperOptions) -> Swapper:
    from rswap.swap.inswapper import InSwapper

    path = Path(spec)
    if (path.parent / MANIFEST_NAME).is_file():
        raise RswapError(f"{path} belongs to an rswap model: pass its directory {path.parent} instead")
    opener = (lambda p: options.open_onnx(p, name=options.backend)) if options.open_onnx else None
    return InSwapper(path, arcface_root=options.insightface_root, keep_mouth=options.keep_mouth,
                     keep_eyes=options.keep_eyes, open_runner=opener)


# kind -> factory(spec, options); `swapper_kind` tells the kind from what a user named
SWAPPERS: dict[str, Callable[[str, SwapperOptions], Swapper]] = {
    "classical": _classical,  # embedded, no network
    "learned": _learned,  # a model directory from `rswap build` (its manifest says the rest)
    "inswapper": _inswapper,  # a bring-your-own inswapper_128-format .onnx
}


def swapper_kind(spec: str) -> str:
    """Which SWAPPERS entry a `--model` value names: 'classical', a model directory (or its
    manifest), or an .onnx file."""
    if spec == "classical":
        return "classical"
    path = Path(spec)
    if not path.exists():
        raise RswapError(f"swapper model not found: {spec} (use 'classical' or a model directory / .onnx file)")
    if path.is_dir() or path.name == MANIFEST_NAME:
        return "learned"
    if path.suffix.lower() == ".onnx":
        return "inswapper"
    raise RswapError(f"{spec} is neither a model directory (with {MANIFEST_NAME}) nor an .onnx file")


def make_swapper(spec: str = "classical", options: SwapperOptions | None = None) -> Swapper:
    return SWAPPERS[swapper_kind(spec)](spec, options or SwapperOptions())


def _backend_opener(options: SwapperOptions):
    if options.open_backend is not None:
        return lambda manifest: options.open_backend(manifest, name=options.backend, **(options.backend_options or {}))
    if options.backend not in ("auto", "onnxruntime"):
        raise RswapError(f"backend {options.backend!r} is available through `rswap live` / `rswap convert` only")
    return None
