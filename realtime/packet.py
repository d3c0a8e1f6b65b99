"""The unit that flows through the live pipeline: one frame and what stages learned about it.

A packet is created by the source with its capture time (time.perf_counter) and
handed from stage to stage; each stage adds its own duration to `timings`, so the
sink can tell where the time went and how old the frame is when it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rswap.face.types import Face
from rswap.swap.frame import SwapJob


@dataclass
class Packet:
    index: int  # position in the source's stream (gaps = frames dropped before this one)
    image: np.ndarray  # RGB uint8 (H, W, 3); stages may replace it (e.g. the paste stage)
    capture_ts: float  # time.perf_counter() when the frame was captured
    pts: float | None = None  # presentation time in seconds, for file sources/sinks
    faces: list[Face] = field(default_factory=list)  # set by the tracking stage
    jobs: list[SwapJob] | None = None  # swap jobs handed from the swap stage to the paste stage
    timings: dict[str, float] = field(default_factory=dict)  # stage name -> seconds spent


class EndOfStream:
    """Marker that closes a queue: every stage passes it on and stops."""

    def __repr__(self) -> str:
        return "EndOfStream"


END = EndOfStream()
