"""Batch conversion: jobs at once vs throughput and CPU use, and the same batch through Ray.

    python -m benchmarks.batch --workdir /tmp/batch_bench [--clips 8 --seconds 2] [--parallel 1 2 3]
                               [--ray-address ADDR]

Makes a folder of clips (the astronaut photo moving, with an AAC tone) plus one corrupt
file, then runs `rswap convert -t FOLDER -o OUT -j N` for each N (fresh output folders), and,
with --ray-address, the same batch as Ray tasks on that cluster. For each run: wall time,
frames/s, CPU utilisation (the batch's process tree: CPU seconds / wall / cores, from
getrusage of the finished command), and for Ray the node each job ran on and whether the
outputs are byte-identical to the local run's. The box may be shared: the load (uptime)
is printed before and after; compare the runs with each other, not with other days.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def make_inputs(folder: Path, clips: int, seconds: float) -> tuple[Path, Path]:
    import numpy as np
    from skimage import data

    from rswap.media.images import write_image
    from rswap.testing.render import render_moving_face

    photo = np.ascontiguousarray(data.astronaut())
    source = folder / "source.png"
    write_image(source, photo)
    target_dir = folder / "clips"
    (target_dir / "more").mkdir(parents=True, exist_ok=True)
    head = np.ascontiguousarray(photo[20:300, 300:60:-1])
    for i in range(clips):
        path = target_dir / ("more" if i >= clips // 2 else "") / f"clip{i}.mp4"
        if not path.exists():
            render_moving_face(path, head, size=(480, 270), fps=25, seconds=seconds, scale=0.8 + 0.02 * i,
                               amplitude=0.1 + 0.01 * i)
    (target_dir / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(1).bytes(4000))
    return source, target_dir


def run_batch(source: Path, targets: Path, out: Path, extra: list[str], env=None) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = out.with_suffix(".json")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", "convert", "-s", str(source), "-t", str(targets), "-o", str(out),
                           "--no-progress", "--report", str(report), *extra], capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r = json.loads(report.read_text())
    failed_lines = [line for line in proc.stderr.splitlines() if line.startswith("FAILED")]
    return {"exit": proc.returncode, "wall": wall, "frames": r["frames"], "fps": r["frames"] / wall,
            "cpu_util": cpu / wall / (os.cpu_count() or 1), "done": r["done"], "failed": r["failed"],
            "failed_lines": failed_lines, "jobs": r["jobs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--ray-address", help="also run the batch on this Ray cluster")
    ap.add_argument("--preset", default="ultrafast")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source, targets = make_inputs(args.workdir, args.clips, args.seconds)
    print("load before:", os.getloadavg())
    local_out = None
    for n in args.parallel:
        out = args.workdir / f"out_j{n}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        r = run_batch(source, targets, out, ["-j", str(n), "--preset", args.preset])
        local_out = local_out or out
        print(f"-j {n}: exit {r['exit']}, {r['done']} done, {r['failed']} failed, {r['frames']} frames in {r['wall']:.1f} s "
              f"= {r['fps']:.1f} frames/s, CPU {100 * r['cpu_util']:.0f}% of {os.cpu_count()} cores; {r['failed_lines']}")
    if args.ray_address:
        out = args.workdir / "out_ray"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        r = run_batch(source, targets, out, ["--cluster", "ray", "--ray-address", args.ray_address, "--preset", args.preset])
        nodes = sorted({j["node"] for j in r["jobs"] if j.get("node")})
        per_node = {n[:12]: sum(j.get("node") == n for j in r["jobs"]) for n in nodes}
        same = all((out / Path(j["output"]).relative_to(out)).read_bytes()
                   == (local_out / Path(j["output"]).relative_to(out)).read_bytes()
                   for j in r["jobs"] if j["status"] == "done") if local_out else None
        print(f"ray: exit {r['exit']}, {r['done']} done, {r['failed']} failed, {r['frames']} frames in {r['wall']:.1f} s "
              f"= {r['fps']:.1f} frames/s; jobs per node {per_node}; outputs identical to -j {args.parallel[0]}: {same}")
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
