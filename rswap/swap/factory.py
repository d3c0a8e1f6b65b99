"""The one place that turns a swapper choice from the command line into a Swapper.

`spec` is "classical" (the embedded, no-network swapper) or a path to a model:
a directory holding an rswap manifest (learned generator), or an inswapper-format
.onnx file. Options that only some swappers understand are ignored by the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rswap.errors import RswapError
from rswap.swap.base import Swapper


@dataclass
class SwapperOptions:
    keep_mouth: bool = False  # keep the target's mouth interior (teeth, tongue)
    keep_eyes: bool = False  # keep the target's eyes (gaze, blinks)
    reshape: float = 0.6  # classical: how far the target's face contour moves toward the source's (0..1)
    color: str = "reinhard"  # classical: colour transfer method
    backend: str = "auto"  # learned models: inference backend


def make_swapper(spec: str = "classical", options: SwapperOptions | None = None) -> Swapper:
    options = options or SwapperOptions()
    if spec == "classical":
        from rswap.swap.classical import ClassicalSwapper

        return ClassicalSwapper(
            keep_mouth=options.keep_mouth, keep_eyes=options.keep_eyes, reshape=options.reshape, color=options.color
        )
    path = Path(spec)
    if not path.exists():
        raise RswapError(f"swapper model not found: {spec} (use 'classical' or a model directory / .onnx file)")
    raise RswapError(f"learned swappers are not available in this build: {spec}")
