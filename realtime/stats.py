"""What the sink measures: per-stage time, end-to-end latency, delivered fps, drops.

Recorded for every delivered frame at the moment it leaves the pipeline; drops are
read from the links (and the source) when the run ends. `summary()` is what
`--stats-json` writes and what the benchmarks print.
"""

from __future__ import annotations

import json
import time

import numpy as np

from realtime.packet import Packet
from rswap.atomic import atomic_path


def percentiles_ms(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "n": 0}
    ms = np.asarray(seconds, np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50": round(p50, 3), "p95": round(p95, 3), "p99": round(p99, 3), "mean": round(ms.mean(), 3), "n": len(ms)}


class StatsRecorder:
    def __init__(self, warmup_frames: int = 0):
        self.warmup_frames = warmup_frames  # first deliveries not recorded (model warm-up, page faults)
        self._seen = 0
        self.stage_times: dict[str, list[float]] = {}
        self.latencies: list[float] = []
        self.delivered_at: list[float] = []
        self.indices: list[int] = []
        self.dropped: dict[str, int] = {}
        self.captured = 0

    def record(self, packet: Packet, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self._seen += 1
        if self._seen <= self.warmup_frames:
            return
        for name, seconds in packet.timings.items():
            self.stage_times.setdefault(name, []).append(seconds)
        self.latencies.append(now - packet.capture_ts)
        self.delivered_at.append(now)
        self.indices.append(packet.index)

    @property
    def delivered(self) -> int:
        return len(self.latencies)

    def delivered_fps(self, start: int = 0, stop: int | None = None) -> float | None:
        times = self.delivered_at[start:stop]
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def summary(self) -> dict:
        fps = self.delivered_fps()
        return {
            "delivered_frames": self.delivered,
            "captured_frames": self.captured,
            "dropped_frames": sum(self.dropped.values()),
            "dropped_by_link": dict(self.dropped),
            "delivered_fps": None if fps is None else round(fps, 3),
            "e2e_latency_ms": percentiles_ms(self.latencies),
            "stages_ms": {name: percentiles_ms(t) for name, t in self.stage_times.items()},
        }

    def write_json(self, path: str, extra: dict | None = None) -> None:
        data = {**self.summary(), **(extra or {})}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=2))
