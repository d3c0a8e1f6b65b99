"""What a user sees of a batch: one progress bar, one line per finished job, a summary table,
and the JSON report. The same view serves the local pool and Ray.

The bar counts frames (so its rate is frames/s and its ETA is the batch's), and its postfix
counts jobs done / failed / left. Expected frames come from each target's header; a job that
ends with another count, fails, or is retried corrects the total and the count.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from tqdm import tqdm

from rswap.atomic import atomic_path
from rswap.errors import RswapError

from convert.batch.plan import Job


def _cpu_seconds() -> float:
    """CPU time of this process and of its worker processes that have ended (pool workers are
    reaped when the pool closes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class BatchView:
    def __init__(self, jobs: list[Job], skipped: list[Job], progress: bool, where: str, stream=None):
        self.jobs, self.skipped, self.where = jobs, skipped, where
        self.stream = stream or sys.stderr
        self.results: dict[int, dict] = {}
        self.reported: dict[int, int] = {j.index: 0 for j in jobs}
        self.start, self.cpu_start = time.monotonic(), _cpu_seconds()
        total = sum(j.frames for j in jobs)
        self.bar = tqdm(total=total or None, unit="frame", desc="batch", disable=not progress, file=self.stream,
                        dynamic_ncols=True, leave=False)
        self._postfix()

    # -- during the batch --------------------------------------------------------------------
    def frames(self, index: int, n: int) -> None:
        if index in self.results:  # a late report from a job already counted
            return
        self.reported[index] += n
        self.bar.update(n)

    def retrying(self, job: Job, reason: str) -> None:
        self.bar.update(-self.reported[job.index])
        self.reported[job.index] = 0
        self._line(f"retry  {job.label}: {reason}; running it again")

    def finished(self, job: Job, result: dict) -> None:
        frames = result.get("frames", 0) if result["ok"] else 0
        # the bar's total and count become what this job really did
        if self.bar.total is not None:
            self.bar.total += frames - job.frames
        self.bar.update(frames - self.reported[job.index])
        self.results[job.index] = result
        if result["ok"] and result.get("note"):
            self._line(f"done   {job.label} -> {job.output}: {result['note']}")
        elif result["ok"]:
            audio = "audio copied" if result.get("audio") else "no audio"
            where = f" on {result['node'][:8]}" if result.get("node") else ""
            self._line(f"done   {job.label} -> {job.output}: {frames} frames ({result.get('with_face', 0)} with a face), "
                       f"{audio}, {result['seconds']:.1f} s{where}")
        else:
            self._line(f"FAILED {job.label}: {result['error']}")
        self._postfix()

    def _line(self, text: str) -> None:
        self.bar.write(text, file=self.stream)

    def _postfix(self) -> None:
        done = sum(r["ok"] for r in self.results.values())
        self.bar.set_postfix_str(f"jobs {done} done, {len(self.results) - done} failed, {len(self.jobs) - len(self.results)} left")

    def close(self) -> None:
        self.bar.close()

    # -- after it ----------------------------------------------------------------------------
    @property
    def failed(self) -> int:
        return sum(not r["ok"] for r in self.results.values())

    @property
    def done(self) -> int:
        return sum(r["ok"] for r in self.results.values())

    def totals(self) -> dict:
        wall = time.monotonic() - self.start
        frames = sum(r.get("frames", 0) for r in self.results.values() if r["ok"])
        cpu = _cpu_seconds() - self.cpu_start
        return {"done": self.done, "failed": self.failed, "skipped": len(self.skipped),
                "left": len(self.jobs) - len(self.results), "frames": frames, "seconds": round(wall, 2),
                "frames_per_second": round(frames / wall, 2) if wall > 0 else 0.0, "where": self.where,
                # local pool only (Ray workers are not this process's children)
                "cpu_seconds": round(cpu, 1), "cpu_utilisation": round(cpu / wall / (os.cpu_count() or 1), 3) if wall > 0 else 0.0}

    def summary(self) -> None:
        if self.results:
            width = min(60, max(len(j.label) for j in self.jobs))
            lines = [f"{'job':<{width}}  {'status':<6}  {'frames':>6}  {'s':>6}  {'fps':>6}  attempts  where / reason"]
            for j in self.jobs:
                r = self.results.get(j.index)
                if r is None:
                    continue
                label = j.label if len(j.label) <= width else "..." + j.label[-width + 3:]
                if r["ok"]:
                    fps = r["frames"] / r["seconds"] if r["seconds"] > 0 else 0
                    where = r.get("node", "")[:12] or f"pid {r.get('pid')}"
                    lines.append(f"{label:<{width}}  {'done':<6}  {r['frames']:>6}  {r['seconds']:>6.1f}  {fps:>6.1f}  "
                                 f"{r.get('attempts', 1):>8}  {where}")
                else:
                    lines.append(f"{label:<{width}}  {'failed':<6}  {'-':>6}  {'-':>6}  {'-':>6}  {r.get('attempts', 1):>8}  "
                                 f"{r['error']}")
            print("\n".join(lines), file=self.stream)
        t = self.totals()
        cpu = f", CPU {100 * t['cpu_utilisation']:.0f}% of {os.cpu_count()} cores" if self.where.startswith("local") else ""
        skipped = f", {t['skipped']} already done" if t["skipped"] else ""
        nothing = "nothing new converted: " if not t["done"] else ""
        print(f"{nothing}{t['done']} done, {t['failed']} failed{skipped} in {t['seconds']:.1f} s: "
              f"{t['frames_per_second']:.1f} frames/s ({self.where}{cpu})", file=self.stream)

    def write_report(self, path: str, interrupted: bool = False) -> None:
        jobs = []
        for j in self.skipped:
            jobs.append({"target": j.target, "output": j.output, "status": "skipped"})
        for j in self.jobs:
            r = self.results.get(j.index)
            entry = {"target": j.target, "output": j.output}
            if r is None:
                entry["status"] = "not run"
            else:
                entry |= {"status": "done" if r["ok"] else "failed",
                          **{k: v for k, v in r.items() if k not in ("ok",)}}
            jobs.append(entry)
        try:
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps({**self.totals(), "interrupted": interrupted, "jobs": jobs}, indent=1))
        except OSError as e:
            raise RswapError(f"cannot write the report {path}: {e.strerror or e}") from e
