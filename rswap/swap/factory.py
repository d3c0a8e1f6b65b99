"""The one place that turns a swapper choice from the command line into a Swapper.

`spec` is "classical" (the embedded, no-network swapper) or a path to a model:
a directory holding an rswap manifest (learned generator), or an inswapper-format
.onnx file. Options that only some swappers understand are ignored by the others.

Inference backends live in the realtime app; the core library cannot import them, so
the app passes `open_backend` (manifest -> runner). Without one, learned models run
on onnxruntime's CPU provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rswap.artifacts import MANIFEST_NAME
from rswap.errors import RswapError
from rswap.swap.base import Swapper
from rswap.swap.options import SwapperOptions


def _classical(spec: str, options: SwapperOptions) -> Swapper:
    from rswap.swap.classical import ClassicalSwapper

    return ClassicalSwapper(keep_mouth=options.keep_mouth, keep_eyes=options.keep_eyes, reshape=options.reshape,
                            color=options.color, keep_glasses=options.keep_glasses)


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
        return lambda manifest: options.open_backend(manifest, name=options.backend, **options.backend_options)
    if options.backend not in ("auto", "onnxruntime"):
        raise RswapError(f"backend {options.backend!r} is available through `rswap live` / `rswap convert` only")
    return None
