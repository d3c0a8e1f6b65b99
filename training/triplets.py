"""`rswap triplets`: cycle-triplet synthesis with the classical swapper.

For random cross-identity pairs of faces (a, b) from a prepared dataset:
    C_ab = classical swap of a's face onto b   (identity a, attributes of b)
    C_ba = classical swap of b's face onto a   (identity b, attributes of a)
using `rswap.swap.classical.ClassicalSwapper`, the very swapper the live app embeds.
A triplet is kept only when the synthesis carried identity: C_ab must be closer (dlib
cosine) to a than to b, and C_ba closer to b than to a. Stored rows are
(a, b, C_ab, C_ba) crops plus the swap masks; training uses them as
type 4 (source C_ab, target C_ba, pixel target real a) and type 5 (C_ba, C_ab -> b).

Pairs are drawn from a seeded generator and processed in chunks; each chunk's result
is written atomically to `work/`, so an interrupted run resumes with the chunks it lacks.
"""

from __future__ import annotations

import os
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rswap.artifacts import sha256_file
from rswap.errors import RswapError
from rswap.face.types import Face
from rswap.options import option
from rswap.swap.options import COLOR_METHODS, SwapperOptions
from rswap.provenance.watermark import Watermarker
from training.shards import INDEX, ShardSet, _atomic_write, write_index, write_shard


@dataclass
class TripletOptions:
    count: int = option(1000, "source/target pairs to try")
    seed: int = option(0, "seed of the pair draw")
    chunk: int = option(50, "pairs per unit of resumable work")
    # the classical swapper's own options, with the same defaults and choices as live's
    reshape: float = option(SwapperOptions.reshape, "face-contour reshaping toward the source's shape", metavar="0..1")
    color: str = option(SwapperOptions.color, "colour transfer to the target's skin tone", choices=COLOR_METHODS)

    def __post_init__(self):
        if self.count < 1 or self.chunk < 1:
            raise RswapError(f"count and chunk must be at least 1, got {self.count} and {self.chunk}")


def draw_pairs(identity: np.ndarray, count: int, seed: int) -> np.ndarray:
    """(count, 2) row numbers with different identities."""
    names = np.unique(identity)
    if len(names) < 2:
        raise RswapError("the dataset has one identity only; triplets need faces of at least two people")
    rng = np.random.default_rng(seed)
    by_id = {k: np.flatnonzero(identity == k) for k in names}
    pairs = np.empty((count, 2), np.int64)
    for i in range(count):
        ia, ib = rng.choice(names, 2, replace=False)
        pairs[i] = rng.choice(by_id[ia]), rng.choice(by_id[ib])
    return pairs


def _face_in_crop(landmarks: np.ndarray) -> Face:
    return Face.from_landmarks(landmarks)


_worker: dict = {}


def _init_worker(dataset: str, template: str, opts: TripletOptions) -> None:
    import cv2

    cv2.setNumThreads(1)
    from rswap.face.dlib_embedder import DlibEmbedder
    from rswap.swap.classical import ClassicalSwapper

    _worker["faces"] = ShardSet(dataset, "faces")
    _worker["landmarks"] = _worker["faces"].meta("landmarks")
    _worker["embeddings"] = _worker["faces"].meta("embeddings")
    _worker["swapper"] = ClassicalSwapper(template=template, reshape=opts.reshape, color=opts.color)
    _worker["embedder"] = DlibEmbedder()
    _worker["watermark"] = Watermarker()  # C_ab / C_ba are synthetic: they carry rswap's mark too


def synthesize_chunk(pairs: np.ndarray, out: str) -> tuple[int, int]:
    """Swap both ways for each pair, keep the identity-consistent ones -> out (npz)."""
    faces, swapper, embedder = _worker["faces"], _worker["swapper"], _worker["embedder"]
    lms, embs = _worker["landmarks"], _worker["embeddings"]
    rows, masks, kept_pairs = [], [], []
    for ra, rb in pairs:
        a, b = faces.images(ra), faces.images(rb)
        fa, fb = _face_in_crop(lms[ra]), _face_in_crop(lms[rb])
        try:
            ab = swapper.swap(b, fb.landmarks, swapper.encode_source([a], [fa]))
            ba = swapper.swap(a, fa.landmarks, swapper.encode_source([b], [fb]))
            e_ab = embedder.embed(ab.crop, fb)  # the swap keeps the target's pose: b's face box fits
            e_ba = embedder.embed(ba.crop, fa)
        except RswapError:
            continue
        if e_ab @ embs[ra] > e_ab @ embs[rb] and e_ba @ embs[rb] > e_ba @ embs[ra]:
            mark = _worker["watermark"].embed
            rows.append(np.stack([a, b, mark(ab.crop), mark(ba.crop)]))
            masks.append(np.stack([ab.mask, ba.mask]))
            kept_pairs.append((ra, rb))
    size = faces.images(int(pairs[0, 0])).shape[0]
    result = {
        "images": np.array(rows, np.uint8).reshape(-1, 4, size, size, 3),
        "masks": (np.array(masks, np.float32).reshape(-1, 2, size, size) * 255).round().astype(np.uint8),
        "pairs": np.array(kept_pairs, np.int64).reshape(-1, 2),
    }
    _atomic_write(Path(out), lambda f: np.savez(f, **result))
    return len(pairs), len(rows)


def _chunk_job(args):
    return synthesize_chunk(*args)


def work_dir(out: Path, dataset: Path, opts: TripletOptions) -> Path:
    """Where the resumable chunks of this run live: named by everything they depend on,
    the faces dataset included (its index names every shard's digest), so a re-run
    against another dataset starts afresh instead of reusing rows that point elsewhere."""
    faces_digest = sha256_file(Path(dataset) / INDEX)[:12]
    return out / "work" / f"faces{faces_digest}-seed{opts.seed}-n{opts.count}-c{opts.chunk}-r{opts.reshape}-{opts.color}"


def make_triplets(dataset: Path, out: Path, opts: TripletOptions, workers: int, progress: bool = True) -> dict:
    faces = ShardSet(dataset, "faces", verify=True)
    from rswap.swap.classical import ClassicalSwapper

    # Bad options (colour method, reshape strength) fail here, as one clear error, not
    # inside every worker's initializer (which surfaces as a BrokenProcessPool).
    ClassicalSwapper(template=faces.index["template"], reshape=opts.reshape, color=opts.color)
    faces.verify_all()
    identity = faces.meta("identity")
    pairs = draw_pairs(identity, opts.count, opts.seed)
    work = work_dir(out, dataset, opts)
    work.mkdir(parents=True, exist_ok=True)
    chunks = [(pairs[i : i + opts.chunk], str(work / f"chunk_{i // opts.chunk:06d}.npz")) for i in range(0, len(pairs), opts.chunk)]
    todo = [c for c in chunks if not Path(c[1]).is_file()]
    from tqdm import tqdm

    bar = tqdm(total=len(pairs), initial=len(pairs) - sum(len(c[0]) for c in todo), desc="triplets", unit="pair", disable=not progress)
    init_args = (str(dataset), faces.index["template"], opts)
    try:  # the bar is closed before an error or interrupt line is printed, not redrawn after it
        if workers <= 1:
            _init_worker(*init_args)
            for c in todo:
                bar.update(synthesize_chunk(*c)[0])
        else:
            # spawn, not fork: forking a process that already runs torch/mediapipe threads can deadlock
            with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_init_worker,
                                     initargs=init_args) as pool:
                try:
                    for tried, _ in pool.map(_chunk_job, todo, chunksize=1):
                        bar.update(tried)
                except BaseException:  # a failed chunk or Ctrl-C: drop the queued chunks, don't run them
                    pool.shutdown(cancel_futures=True)
                    raise
    finally:
        bar.close()
    return pack(chunks, out, dataset, faces.index, identity)


def pack(chunks, out: Path, dataset: Path, faces_index: dict, identity: np.ndarray) -> dict:
    shards, total = [], 0
    for _, path in chunks:
        with np.load(path) as z:
            images, masks, pairs = z["images"], z["masks"], z["pairs"]
        if not len(images):
            continue
        meta = {"masks": masks, "pairs": pairs, "identities": identity[pairs]}
        shards.append(write_shard(out, f"triplets_{len(shards):05d}", images, meta))
        total += len(images)
    if not total:
        raise RswapError(
            f"no triplet passed the identity check ({sum(len(c[0]) for c in chunks)} pairs tried); "
            "the faces may be too similar or too small"
        )
    index = {
        "format": "rswap-triplets-v1",
        "faces": str(Path(dataset).resolve()),
        "size": faces_index["size"],
        "template": faces_index["template"],
        "count": total,
        "tried": int(sum(len(c[0]) for c in chunks)),
        "shards": shards,
        "rows": ["a", "b", "C_ab", "C_ba"],
    }
    write_index(out, index)
    return index


def default_workers() -> int:
    return os.cpu_count() or 1
