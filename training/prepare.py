"""`rswap prepare`: folders of photos and videos -> an aligned-face dataset (shards + index).

Layout of the input: every first-level folder under the input root is one identity
(VGGFace2/CelebA style: `root/<person>/*.jpg`). Files directly under the root have no
folder identity: photos there are one identity each, and faces in videos there are
clustered by embedding into identities `<video>#<k>`.

Work happens in two passes so that an interrupted run resumes where it stopped:
1. per input file, in a process pool: detect faces (mediapipe), filter (size, blur,
   pose), align (FFHQ-style template), embed (dlib), de-duplicate consecutive video
   frames; the result is one `work/<digest>.npz` per input file, written atomically —
   on a re-run, files whose result exists are skipped;
2. pack: group by identity, drop identities with too few faces, write shards + index.json.
"""

from __future__ import annotations

import hashlib
import os
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from rswap.errors import RswapError
from rswap.face.align import TEMPLATES, align_crop, get_template, transform_points
from rswap.face.types import Face
from rswap.media.paths import is_image_path, is_video_path
from rswap.options import option
from training.shards import _atomic_write, write_index, write_shard


@dataclass
class PrepareOptions:
    size: int = option(256, "side of the aligned face crops in pixels")
    template: str = option("ffhq256", "alignment template of the crops", choices=TEMPLATES)
    min_face: int = option(64, "smallest face box side kept, in source pixels")
    min_sharpness: float = option(15.0, "least variance of the Laplacian of the aligned crop (grey, at 128²) kept")
    max_yaw: float = option(0.45, "largest |nose offset from the eye midpoint| / eye distance kept")
    video_stride: int = option(5, "look at every n-th video frame")
    dedup: float = option(6.0, "mean abs grey difference (0..255, at 32²) below which a video face repeats the last one")
    max_faces_per_image: int = option(1, "faces kept per image, largest first (others are bystanders in identity folders)")
    cluster_threshold: float = option(0.92, "dlib cosine for 'same person' when clustering video faces")
    min_per_identity: int = option(2, "fewest faces an identity needs to be kept")
    shard_size: int = option(1000, "faces per shard file")


@dataclass
class Job:
    path: str
    identity: str | None  # folder name, or None when the file is at the root
    out: str


def list_jobs(root: Path, work: Path) -> list[Job]:
    if not root.is_dir():
        raise RswapError(f"input folder not found: {root}")
    jobs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if not (is_image_path(path) or is_video_path(path)):
            continue
        rel = path.relative_to(root)
        identity = rel.parts[0] if len(rel.parts) > 1 else None
        # the absolute path, not `rel`: two input roots may both hold alice/1.jpg
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
        jobs.append(Job(str(path), identity, str(work / f"{digest}.npz")))
    if not jobs:
        raise RswapError(f"no images or videos in {root} (looked for common photo and video suffixes)")
    return jobs


def sharpness(crop: np.ndarray) -> float:
    grey = cv2.cvtColor(cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def yaw(kps5: np.ndarray) -> float:
    eyes_mid = (kps5[0] + kps5[1]) / 2
    return float(abs(kps5[2, 0] - eyes_mid[0]) / (np.linalg.norm(kps5[1] - kps5[0]) + 1e-6))


# --- pass 1: one input file -> its faces (runs in worker processes) ---

_worker: dict = {}


def _init_worker() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    cv2.setNumThreads(1)
    from rswap.face.dlib_embedder import DlibEmbedder
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    _worker["analyser"] = MediapipeFaceAnalyser(max_faces=4)
    _worker["embedder"] = DlibEmbedder()


def _frames(path: str, stride: int):
    from rswap.media.images import read_image

    if is_image_path(path):
        yield 0, read_image(path)
        return
    from rswap.media.video import VideoReader  # PyAV only for videos: a set of photos needs no decoder

    with VideoReader(path, allow_truncated=True) as reader:  # a cut video's readable frames are good faces
        for frame in reader:
            if frame.index % stride == 0:
                yield frame.index, frame.image


def process_file(job: Job, opts: PrepareOptions) -> dict:
    """Faces of one file -> job.out (npz). Returns counters for the progress report."""
    if not _worker:
        _init_worker()
    template = get_template(opts.template, opts.size)
    crops, landmarks, embeddings, frames = [], [], [], []
    stats = {"faces": 0, "kept": 0, "small": 0, "blurry": 0, "pose": 0, "duplicate": 0, "unreadable": 0}
    last_thumb = None
    try:
        for index, image in _frames(job.path, opts.video_stride):
            faces: list[Face] = _worker["analyser"].analyse(image)[: opts.max_faces_per_image]
            for face in faces:
                stats["faces"] += 1
                x0, y0, x1, y1 = face.bbox
                if min(x1 - x0, y1 - y0) < opts.min_face:
                    stats["small"] += 1
                    continue
                if yaw(face.kps5) > opts.max_yaw:
                    stats["pose"] += 1
                    continue
                crop, M = align_crop(image, face.kps5, template)
                if sharpness(crop) < opts.min_sharpness:
                    stats["blurry"] += 1
                    continue
                thumb = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
                if last_thumb is not None and np.abs(thumb.astype(np.float32) - last_thumb).mean() < opts.dedup:
                    stats["duplicate"] += 1
                    continue
                if is_video_path(job.path):
                    last_thumb = thumb.astype(np.float32)
                crops.append(crop)
                landmarks.append(transform_points(face.landmarks, M))
                embeddings.append(_worker["embedder"].embed(image, face))
                frames.append(index)
    except RswapError:
        stats["unreadable"] += 1
    stats["kept"] = len(crops)
    n_points = max([len(lm) for lm in landmarks], default=478)
    landmarks = [np.pad(lm, ((0, n_points - len(lm)), (0, 0))) for lm in landmarks]  # 468 vs 478 (iris)
    result = {
        "crops": np.array(crops, np.uint8).reshape(-1, opts.size, opts.size, 3),
        "landmarks": np.array(landmarks, np.float32).reshape(-1, n_points, 2),
        "embeddings": np.array(embeddings, np.float32).reshape(-1, 128),
        "frames": np.array(frames, np.int32),
        "stats": np.array([stats[k] for k in sorted(stats)], np.int64),
    }
    Path(job.out).parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(Path(job.out), lambda f: np.savez(f, **result))
    return stats


def _process(args):
    return process_file(*args)


# --- pass 2: pack ---


def cluster(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy leader clustering on cosine similarity: faces of one video -> person labels."""
    labels = np.full(len(embeddings), -1, np.int32)
    centres: list[np.ndarray] = []
    for i, e in enumerate(embeddings):
        sims = [float(e @ c / np.linalg.norm(c)) for c in centres]
        if sims and max(sims) >= threshold:
            labels[i] = int(np.argmax(sims))
            centres[labels[i]] = centres[labels[i]] + e
        else:
            labels[i] = len(centres)
            centres.append(e.copy())
    return labels


def pack(jobs: list[Job], out: Path, opts: PrepareOptions) -> dict:
    """Group the per-file results by identity and write the shards. Only labels are held for
    the whole dataset: each shard's crops, landmarks and embeddings are read back from the
    per-file results when that shard is written, so memory stays at about one shard (a
    dataset of a million 256² faces is ~200 GB of crops)."""
    groups: dict[str, list[tuple[int, int]]] = {}  # identity -> [(job number, row in its file)]
    n_points = 0
    for j, job in enumerate(jobs):
        with np.load(job.out) as z:
            embs, lms = z["embeddings"], z["landmarks"]
        if not len(embs):
            continue
        n_points = max(n_points, lms.shape[1])
        name = Path(job.path).stem
        if job.identity is not None:
            labels = [job.identity] * len(embs)
        elif is_video_path(job.path):
            labels = [f"{name}#{k}" for k in cluster(embs, opts.cluster_threshold)]
        else:
            labels = [name] * len(embs)
        for r, label in enumerate(labels):
            groups.setdefault(label, []).append((j, r))
    n_faces = sum(len(v) for v in groups.values())
    groups = {k: v for k, v in sorted(groups.items()) if len(v) >= opts.min_per_identity}
    if not groups:
        raise RswapError(
            f"no usable faces: {n_faces} faces passed the filters in {len(jobs)} files, "
            f"but no identity has {opts.min_per_identity} of them (see --min-per-identity, --min-face, --min-sharpness)"
        )
    names = list(groups)
    rows = [(i, j, r) for i, name in enumerate(names) for j, r in groups[name]]
    shards = []
    for start in range(0, len(rows), opts.shard_size):
        chunk = rows[start : start + opts.shard_size]
        crops, lms, embs = _read_rows(jobs, [(j, r) for _, j, r in chunk])
        meta = {
            "identity": np.array([i for i, _, _ in chunk], np.int32),
            "landmarks": np.stack([np.pad(lm, ((0, n_points - len(lm)), (0, 0))) for lm in lms]),
            "embeddings": np.stack(embs),
            "source": np.array([jobs[j].path for _, j, _ in chunk]),
        }
        shards.append(write_shard(out, f"faces_{len(shards):05d}", np.stack(crops), meta))
    index = {
        "format": "rswap-faces-v1",
        "size": opts.size,
        "template": opts.template,
        "embedder": "dlib_resnet128",
        "identities": names,
        "count": len(rows),
        "shards": shards,
        "options": asdict(opts),
    }
    write_index(out, index)
    return index


def _read_rows(jobs: list[Job], refs: list[tuple[int, int]]) -> tuple[list, list, list]:
    """Crops, landmarks and embeddings of rows (job number, row), in order; each file read once."""
    by_job: dict[int, list[tuple[int, int]]] = {}
    for k, (j, r) in enumerate(refs):
        by_job.setdefault(j, []).append((k, r))
    crops, lms, embs = [None] * len(refs), [None] * len(refs), [None] * len(refs)
    for j, items in by_job.items():
        with np.load(jobs[j].out) as z:
            c, lm, e = z["crops"], z["landmarks"], z["embeddings"]
        for k, r in items:
            crops[k], lms[k], embs[k] = c[r], lm[r], e[r]
    return crops, lms, embs


def prepare(inputs: list[Path], out: Path, opts: PrepareOptions, workers: int, progress: bool = True) -> dict:
    get_template(opts.template, opts.size)  # fail early on a bad template name
    out.mkdir(parents=True, exist_ok=True)
    # per-file results depend on the pass-1 options: a run with other options starts afresh
    pass1 = {k: v for k, v in asdict(opts).items() if k not in ("min_per_identity", "shard_size", "cluster_threshold")}
    work = out / "work" / hashlib.sha1(repr(sorted(pass1.items())).encode()).hexdigest()[:12]
    jobs = [job for root in inputs for job in list_jobs(Path(root), work)]
    todo = [job for job in jobs if not Path(job.out).is_file()]
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="prepare", unit="file", disable=not progress)
    totals: dict[str, int] = {}

    def count(results) -> None:
        for stats in results:
            for k, v in stats.items():
                totals[k] = totals.get(k, 0) + v
            bar.update(1)
            bar.set_postfix(kept=totals.get("kept", 0))

    try:  # the bar is closed before an error or interrupt line is printed, not redrawn after it
        if workers <= 1:
            count(process_file(job, opts) for job in todo)
        else:
            # spawn, not fork: forking a process that already runs torch/mediapipe threads can deadlock
            with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_init_worker) as pool:
                try:
                    count(pool.map(_process, [(job, opts) for job in todo], chunksize=1))
                except BaseException:  # a failed file or Ctrl-C: drop the queued files, don't process them
                    pool.shutdown(cancel_futures=True)
                    raise
    finally:
        bar.close()
    index = pack(jobs, out, opts)
    index["stats"] = totals
    return index
