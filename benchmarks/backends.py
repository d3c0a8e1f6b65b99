"""`rswap bench backends`: generator latency per backend and precision at batch 1/2/4.

The generator is exported once per precision (as `rswap build` does) into a temporary
model directory, then each backend that can run here is timed on the same inputs. On a
CPU the absolute numbers say little about the GPU product, so they are shown as ratios to
onnxruntime fp32 at batch 1; on a GPU milliseconds are shown (per call and per face).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from realtime.backends import BACKENDS, cuda_device_count, open_backend, select_backend
from rswap.artifacts import load_manifest
from rswap.atomic import atomic_path
from rswap.errors import RswapError

# (backend, precision) pairs to try; torch fp16 only on a GPU (CPU half convolutions are emulated)
COMBOS = [("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("torch", "fp32"), ("torch", "bf16"), ("torch", "fp16"),
          ("tensorrt", "fp32"), ("tensorrt", "fp16")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="generator .safetensors (default: random weights of --preset)")
    parser.add_argument("--preset", default="live", help="generator preset when no checkpoint is given (tiny, live, large)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4], help="faces per generator call (1 2 4)")
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch", "tensorrt"], choices=BACKENDS,
                        help="backends to measure (those not installed are skipped)")
    parser.add_argument("--iters", type=int, default=20, help="timed calls per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing (3)")
    parser.add_argument("--no-cuda-graphs", action="store_true",
                        help="on a GPU, skip the CUDA-graph runs of torch/tensorrt (by default each is timed with and without)")
    parser.add_argument("--source-fps", type=float, default=120.0,
                        help="frame rate of the generated stream in the pipeline runs (set it above what you expect to deliver)")
    parser.add_argument("--pipeline-seconds", type=float, default=0.0, metavar="S",
                        help="also run the whole live pipeline with each backend (fp32) for S seconds per size (0: skip)")
    parser.add_argument("--sizes", nargs="+", default=["720p", "1080p"], choices=["720p", "1080p"],
                        help="frame sizes of the pipeline runs")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")


def _build_dirs(args, work: Path) -> dict[str, Path]:
    from engine_build.build import BuildOptions, build_model_dir
    from rswap.models.checkpoint import save_generator
    from rswap.models.generator import Generator, preset

    ckpt = Path(args.checkpoint) if args.checkpoint else work / "random.safetensors"
    if not args.checkpoint:
        config = preset(args.preset)
        save_generator(ckpt, Generator(config), config)
    dirs = {}
    for precision in ("fp32", "fp16"):
        dirs[precision] = work / precision
        # the build's batch axis is dynamic from 2 up, which also serves batch 1
        opts = BuildOptions(precision=precision, max_batch=max(2, *args.batches), encoder=False)
        build_model_dir(ckpt, dirs[precision], opts, log=lambda _: None)
    return dirs


def _time(backend, feeds: dict, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        backend.run(feeds)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        backend.run(feeds)  # run() returns host arrays: the GPU work is finished when it returns
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _feeds(manifest, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    s, d = manifest.crop_size, manifest.identity_size
    ident = rng.standard_normal((batch, d)).astype(np.float32)
    return {"target": rng.uniform(-1, 1, (batch, 3, s, s)).astype(np.float32),
            "identity": ident / np.linalg.norm(ident, axis=1, keepdims=True)}


def _pipeline_rows(args, model_dir: Path) -> list[dict]:
    """Delivered fps and end-to-end latency of the threaded live pipeline (a source faster than
    it can go, null sink) with the learned swapper on each backend."""
    from skimage import data

    from benchmarks.latency import SIZES, run_threaded
    from realtime.backends import open_backend as app_backends
    from realtime.testing import SyntheticSource
    from rswap.media.images import write_image
    from rswap.swap.factory import SwapperOptions
    from rswap.swap.loader import load_frame_swapper

    source = model_dir.parent / "source.png"
    write_image(source, np.ascontiguousarray(data.astronaut()[:, ::-1]))
    rows = []
    for name in args.backends:
        try:
            select_backend(name)
        except RswapError as e:
            print(f"skip pipeline on {name}: {e}")
            continue
        options = SwapperOptions(backend=name, open_backend=lambda *a, **k: app_backends(*a, log=lambda _: None, **k))
        # every backend takes device tensors too: compare crop/paste on the host with on the device
        for where in ("host", "device"):
            fs = load_frame_swapper([str(source)], str(model_dir), options=options, compose_on=where)
            for size_name in args.sizes:
                s = run_threaded(fs, lambda: SyntheticSource(SIZES[size_name], fps=args.source_fps), args.pipeline_seconds).summary()
                rows.append({"backend": name, "compose": where, "size": size_name, "fps": s["delivered_fps"],
                             "e2e_p95_ms": s["e2e_latency_ms"]["p95"], "swap_p50_ms": s["stages_ms"]["swap"]["p50"],
                             "paste_p50_ms": s["stages_ms"]["paste"]["p50"],
                             # every stage, to see which one bounds the delivered rate
                             "stages_p50_ms": {k: v["p50"] for k, v in s["stages_ms"].items()}})
    return rows


def _print_generator_rows(args, rows: list[dict], gpu: bool) -> None:
    base = next((r["median_ms"] for r in rows if (r["backend"], r["precision"], r["batch"]) == ("onnxruntime", "fp32", 1)), None)
    print(f"\ngenerator {args.checkpoint or 'preset ' + args.preset}, {args.iters} calls each, on {'GPU' if gpu else 'CPU'}")
    if gpu:
        print(f"{'backend':<12}{'device':<26}{'prec':<6}{'graphs':<8}{'batch':>6}{'ms/call':>10}{'p95':>9}{'ms/face':>10}")
        for r in rows:
            print(f"{r['backend']:<12}{r['device'][:25]:<26}{r['precision']:<6}{'yes' if r['graphs'] else 'no':<8}"
                  f"{r['batch']:>6}{r['median_ms']:>10.2f}{r['p95_ms']:>9.2f}{r['median_ms'] / r['batch']:>10.2f}")
    else:
        print("CPU: times relative to onnxruntime fp32 batch 1 (per call; per face)")
        print(f"{'backend':<12}{'prec':<6}{'batch':>6}{'x/call':>9}{'x/face':>9}")
        for r in rows:
            rel = r["median_ms"] / base if base else float("nan")
            print(f"{r['backend']:<12}{r['precision']:<6}{r['batch']:>6}{rel:>9.2f}{rel / r['batch']:>9.2f}")


def run(args: argparse.Namespace) -> int:
    gpu = cuda_device_count() > 0
    rows, pipeline = [], []
    with tempfile.TemporaryDirectory(prefix="rswap-bench-") as tmp:
        print("exporting the generator (fp32, fp16) ...")
        dirs = _build_dirs(args, Path(tmp))
        for name, precision in COMBOS:
            if name not in args.backends or (name == "torch" and precision == "fp16" and not gpu):
                continue
            try:
                select_backend(name)
            except RswapError as e:
                print(f"skip {name}: {e}")
                continue
            graph = "fp16" if precision == "fp16" else "fp32"
            manifest = load_manifest(dirs[graph])
            for graphs in (False, True) if gpu and name != "onnxruntime" and not args.no_cuda_graphs else (False,):
                backend = open_backend(manifest, name=name, precision=precision, log=lambda _: None, cuda_graphs=graphs)
                for batch in args.batches:
                    t = _time(backend, _feeds(manifest, batch), args.iters, args.warmup)
                    rows.append({"backend": name, "device": str(backend.device), "precision": precision, "graphs": graphs,
                                 "batch": batch, "median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95))})
        _print_generator_rows(args, rows, gpu)  # before the pipeline runs: a failure there keeps these
        if args.pipeline_seconds > 0:
            pipeline = _pipeline_rows(args, dirs["fp32"])
    if pipeline:
        print(f"\nlive pipeline, learned swapper (fp32), source {args.source_fps:g} fps, {args.pipeline_seconds:g} s per run, null sink")
        print(f"{'backend':<12}{'compose':<9}{'size':<7}{'fps':>7}{'e2e p95 ms':>12}{'swap p50 ms':>13}{'paste p50 ms':>14}")
        for r in pipeline:
            print(f"{r['backend']:<12}{r['compose']:<9}{r['size']:<7}{r['fps'] or 0:>7.1f}{r['e2e_p95_ms']:>12.1f}"
                  f"{r['swap_p50_ms']:>13.1f}{r['paste_p50_ms']:>14.1f}")
    if args.json:
        with atomic_path(args.json, make_parents=True) as tmp:
            tmp.write_text(json.dumps({"gpu": gpu, "rows": rows, "pipeline": pipeline}, indent=2))
    return 0
