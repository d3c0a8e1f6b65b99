"""Face-quality evaluation of swappers: every source photo onto every target photo.

For each pair the target is swapped whole-frame (analyse the target, swap its largest
face with FrameSwapper) and the result is analysed again. Per pair we measure:
- identity (dlib ResNet, cosine): result vs source (higher is better) and result vs
  target (lower means less of the target's identity is left);
- ID retrieval: is the source the nearest of all source embeddings to the result? Several
  source photos of one person may be declared a group (`same_person`); retrieving another
  photo of the same person is then a hit (`top1`), and `top1_strict` still asks for the
  very photo. dlib alone cannot tell the groups (other people reach cosine 0.93-0.95 on the
  dev photos, one person's photos 0.94), so they are declared, not guessed;
- head-pose error (degrees) and expression error of the result against the target
  (evaluation.metrics; both ~0 for a swap that keeps the target's pose and expression);
- skin tone error (CIELAB ΔE, `skin_tone_error`): how far the result's skin moved from
  the target's own skin on the same pixels, as a whole (a paler or greyer patch) and
  locally at a coarse scale (shading and seams); the target's skin is what its neck and
  hairline match, so a pasted-on face shows up here.
- visible defects (`evaluation.defects`): colour like neither the result's own skin nor the
  target's pixel there, strong edges inside the face that the target lacks there, eye
  regions darker than in either face, a face or its features flatter (less fine detail)
  than the target's own; one score per pair (> 1: defective, the lines set by
  eye on a labelled set of pairs, RESULTS.md). The colour term alone, issue 10's first
  measure, is kept beside it in the table ("colour only") to compare.
A "target as is" row (no swap) is the baseline that shows what the numbers are worth.

Images are analysed and embedded once each; photos without a face are listed and
skipped, never fatal. The report is a Markdown table, a JSON file and a contact sheet.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from evaluation.defects import OLD_COLOUR_LINE, measure_defects, skin_mask
from evaluation.metrics import expression_error, pose_error
from rswap.errors import RswapError
from rswap.face.dlib_embedder import DlibEmbedder
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.types import Face
from rswap.media.images import read_image, write_image
from rswap.media.paths import IMAGE_SUFFIXES, atomic_output
from rswap.swap.compositor import HostCompositor
from rswap.swap.factory import SwapperOptions, make_swapper
from rswap.swap.frame import FrameSwapper

BASELINE = "target as is (no swap)"


def list_images(folder: str | os.PathLike, what: str, limit: int | None = None) -> list[Path]:
    """Image files in `folder`, sorted by name; one clear error if there are none."""
    p = Path(folder)
    if not p.exists():
        raise RswapError(f"{what} folder not found: {p}")
    if not p.is_dir():
        raise RswapError(f"{what} is not a folder: {p}")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RswapError(f"{what} folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))}): {p}")
    return files[:limit] if limit else files


def person_groups(groups: Iterable[Iterable[str]], names: list[str]) -> list[list[str]]:
    """The declared same-person groups as lists of source file names, each name given as the
    file's name or its stem (`ljm` or `ljm.jpg`). One clear error for a name that is no source
    photo, a name in two groups, or a group of one."""
    stems: dict[str, list[str]] = {}
    for n in names:
        stems.setdefault(Path(n).stem, []).append(n)
    resolved, seen = [], set()
    for group in groups:
        files = []
        for given in group:
            match = [given] if given in names else stems.get(given, [])
            if len(match) != 1:
                what = "is no source photo" if not match else f"names {len(match)} source photos ({', '.join(match)})"
                raise RswapError(f"--same-person: {given!r} {what}")
            if match[0] in seen:
                raise RswapError(f"--same-person: {match[0]} is in two groups (one person per photo)")
            seen.add(match[0])
            files.append(match[0])
        if len(files) < 2:
            raise RswapError(f"--same-person needs two or more photos a group, got {', '.join(files) or 'none'}")
        resolved.append(files)
    return resolved


def person_of(names: list[str], groups: list[list[str]]) -> list[str]:
    """Each source's person: the first name of its group, or its own name (a person of one photo)."""
    first = {n: g[0] for g in groups for n in g}
    return [first.get(n, n) for n in names]


def retrieved(sims: np.ndarray, index: int, people: list[str]) -> tuple[bool, bool]:
    """(person hit, strict hit): is the source bank's nearest entry (highest of `sims`) source
    `index`'s person, and is it that very photo."""
    nearest = int(np.argmax(sims))
    return people[nearest] == people[index], nearest == index


@dataclass
class Photo:
    path: Path
    image: np.ndarray
    face: Face | None  # the largest face, None when there is none
    embedding: np.ndarray | None


@dataclass
class PairRecord:
    swapper: str
    source: str
    target: str
    cos_source: float | None = None
    cos_target: float | None = None
    top1: bool | None = None  # the result's nearest source embedding is its source's person (its photo or one of its group)
    top1_strict: bool | None = None  # ... is the source photo itself
    nearest_source: str | None = None  # which source that nearest embedding belongs to
    pose_deg: float | None = None
    pose_axes_deg: dict | None = None  # pitch, yaw, roll differences
    expression: float | None = None
    expression_features: dict | None = None
    tone_de: float | None = None  # ΔE of the mean skin colour, result vs target
    local_de: float | None = None  # mean ΔE of the coarse-scale skin colour, result vs target
    swap_ms: float | None = None
    defect: float | None = None  # the defect score (evaluation.defects.Defects.score): > 1 is defective
    defect_colour: float | None = None  # share of the skin with colour like neither own skin nor the target
    defect_structure: float | None = None  # share of the face region with strong edges the target lacks there
    defect_eyes: float | None = None  # the worst eye's dark share beyond the target's and the source's
    defect_flat: float | None = None  # share of the target's fine detail the face lost (grey, blurred, mask-like)
    defect_flat_features: float | None = None  # the same on the features only (eyes, brows, lips, nose base)
    defect_mottle: float | None = None  # how much stronger the skin's fine texture is than the target's (speckle, crackle)
    note: str = ""  # why the metrics are missing, when they are

    @property
    def ok(self) -> bool:
        return self.cos_source is not None


@dataclass
class EvalReport:
    sources: list[str]
    targets: list[str]
    swappers: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # "sources without a face" -> names
    same_person: list[list[str]] = field(default_factory=list)  # source photos declared one person (file names)
    pairs: list[PairRecord] = field(default_factory=list)

    def summary(self) -> dict[str, dict]:
        return {name: summarise([p for p in self.pairs if p.swapper == name]) for name in [BASELINE, *self.swappers]}

    def to_json(self) -> dict:
        return {
            "sources": self.sources,
            "targets": self.targets,
            "swappers": self.swappers,
            "skipped": self.skipped,
            "same_person": self.same_person,
            "summary": self.summary(),
            "pairs": [asdict(p) for p in self.pairs],
        }


def _mean(values: Iterable[float]) -> float | None:
    v = [float(x) for x in values]
    return float(np.mean(v)) if v else None


def summarise(pairs: list[PairRecord]) -> dict:
    ok = [p for p in pairs if p.ok]
    posed = [p for p in ok if p.pose_deg is not None]
    return {
        "pairs": len(pairs),
        "evaluated": len(ok),
        "failed": len(pairs) - len(ok),
        "cos_source": _mean(p.cos_source for p in ok),
        "cos_target": _mean(p.cos_target for p in ok),
        "closer_to_source": _mean(p.cos_source > p.cos_target for p in ok),
        "id_top1": _mean(p.top1 for p in ok),
        "id_top1_strict": _mean(p.top1_strict for p in ok),
        "pose_deg_mean": _mean(p.pose_deg for p in posed),
        "pose_deg_median": float(np.median([p.pose_deg for p in posed])) if posed else None,
        "expression_mean": _mean(p.expression for p in posed),
        "tone_de_mean": _mean(p.tone_de for p in ok if p.tone_de is not None),
        "local_de_mean": _mean(p.local_de for p in ok if p.local_de is not None),
        "swap_ms_mean": _mean(p.swap_ms for p in ok if p.swap_ms is not None),
        "defective": sum(p.defect > 1.0 for p in ok if p.defect is not None),
        "defective_colour_only": sum(p.defect_colour > OLD_COLOUR_LINE for p in ok if p.defect_colour is not None),
        "defect_mean": _mean(p.defect for p in ok if p.defect is not None),
    }


def markdown_table(report: EvalReport) -> str:
    def f(v, fmt="{:.3f}"):
        return "–" if v is None else fmt.format(v)

    rows = [
        "| swapper | pairs (evaluated) | cos → source ↑ | cos → target ↓ | closer to source | ID top-1 ↑ "
        "| pose err ° mean / median ↓ | expression err ↓ | skin ΔE mean / local ↓ | defective pairs ↓ (colour only) | swap ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report.summary().items():
        rows.append(
            f"| {name} | {s['pairs']} ({s['evaluated']}) | {f(s['cos_source'])} | {f(s['cos_target'])} "
            f"| {f(s['closer_to_source'], '{:.0%}')} | {f(s['id_top1'], '{:.0%}')} "
            f"| {f(s['pose_deg_mean'], '{:.2f}')} / {f(s['pose_deg_median'], '{:.2f}')} "
            f"| {f(s['expression_mean'], '{:.4f}')} | {f(s['tone_de_mean'], '{:.1f}')} / {f(s['local_de_mean'], '{:.1f}')} "
            f"| {s['defective']} = {f(s['defective'] / max(s['evaluated'], 1), '{:.1%}')} "
            f"({s['defective_colour_only']} = {f(s['defective_colour_only'] / max(s['evaluated'], 1), '{:.1%}')}) "
            f"| {f(s['swap_ms_mean'], '{:.0f}')} |"
        )
    if report.same_person:
        rows.append("\nID top-1 counts a retrieval of another photo of the same person as a hit; same person: "
                    + "; ".join(", ".join(g) for g in report.same_person) + ". Strict (the photo itself): "
                    + ", ".join(f"{name} {f(s['id_top1_strict'], '{:.0%}')}" for name, s in report.summary().items()))
    for what, names in report.skipped.items():
        if names:
            rows.append(f"\nSkipped {len(names)} {what}: {', '.join(names)}")
    failed = [p for p in report.pairs if not p.ok]
    if failed:
        rows.append(f"\n{len(failed)} pair(s) without metrics: " + "; ".join(f"{p.swapper}: {p.source} → {p.target}: {p.note}" for p in failed[:10]))
    return "\n".join(rows) + "\n"


def skin_tone_error(result: np.ndarray, target: np.ndarray, landmarks: np.ndarray) -> tuple[float, float] | None:
    """(tone, local) CIELAB ΔE between the result's and the target's skin on the target's
    skin pixels (`skin_mask` of the target's landmarks; a swap keeps the target's pose).

    tone: distance of the two mean skin colours, i.e. how much paler, greyer or redder
    the face became than the skin around it (the target's skin matches its own neck).
    local: mean distance of the two images' skin smoothed at 8% of the face size (a
    masked blur, so eyes, brows and background do not leak in): shading from another
    light and steps such as a straight edge across the forehead count, pore-level
    texture (identity) does not. Both are 0 for an untouched target; lower is better as
    long as the identity metrics hold. None when the face has no skin pixels."""
    skin = skin_mask(result.shape[:2], landmarks)
    n = int(np.count_nonzero(skin))
    if n == 0:
        return None
    sigma = 0.08 * np.sqrt(n)
    w = skin.astype(np.float32)
    w_blur = cv2.GaussianBlur(w, (0, 0), sigma)
    labs = []
    for img in (result, target):
        lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        labs.append((lab[skin].mean(0), cv2.GaussianBlur(lab * w[..., None], (0, 0), sigma)[skin] / w_blur[skin][:, None]))
    tone = float(np.linalg.norm(labs[0][0] - labs[1][0]))
    local = float(np.linalg.norm(labs[0][1] - labs[1][1], axis=1).mean())
    return tone, local


def _nearest_face(faces: list[Face], to: Face) -> Face | None:
    """The face in `faces` whose centre is nearest `to`'s and within half its size (the swapped one)."""
    if not faces:
        return None
    best = min(faces, key=lambda f: float(np.linalg.norm(f.center - to.center)))
    size = max(to.bbox[2] - to.bbox[0], to.bbox[3] - to.bbox[1])
    return best if np.linalg.norm(best.center - to.center) < 0.5 * size else None


class Evaluator:
    """Holds the analyser and the embedder (costly to make) for one evaluation run."""

    def __init__(self):
        self.analyser = MediapipeFaceAnalyser(max_faces=4, video=False)
        # Photos are read as `rswap convert` reads them: the hands near a face are found (a
        # target's stay in front, a source's are not its face); results are only measured.
        self.photo_analyser = MediapipeFaceAnalyser(max_faces=4, video=False, hands=True)
        self.embedder = DlibEmbedder()

    def close(self) -> None:
        self.analyser.close()
        self.photo_analyser.close()

    def load(self, path: Path, what: str) -> Photo:
        image = read_image(path, what)
        faces = self.photo_analyser.analyse(image)
        if not faces:
            return Photo(path, image, None, None)
        return Photo(path, image, faces[0], self.embedder.embed(image, faces[0]))

    def measure(self, record: PairRecord, result: np.ndarray, target: Photo, sources: list[Photo], bank: np.ndarray, index: int,
                people: list[str] | None = None) -> None:
        """Fill the metrics of one pair from the swapped image `result`; `people[i]`: source i's
        person (`person_of`), by default each photo its own."""
        face = _nearest_face(self.analyser.analyse(result), target.face)
        if face is None:
            record.note = "no face found in the result"
            return
        emb = self.embedder.embed(result, face)
        sims = bank @ emb
        record.cos_source = float(sims[index])
        record.cos_target = float(emb @ target.embedding)
        nearest = int(np.argmax(sims))
        record.top1, record.top1_strict = retrieved(sims, index, people or [s.path.name for s in sources])
        record.nearest_source = sources[nearest].path.name
        pe = pose_error(target.face, face)
        ee = expression_error(target.face, face)
        record.pose_deg = pe.total
        record.pose_axes_deg = {"pitch": pe.pitch, "yaw": pe.yaw, "roll": pe.roll}
        record.expression = ee.mean
        record.expression_features = ee.per_feature
        tone = skin_tone_error(result, target.image, target.face.landmarks)
        if tone is not None:
            record.tone_de, record.local_de = tone
        src = sources[index]
        defects = measure_defects(result, target.image, target.face.landmarks, src.image, src.face.landmarks)
        if defects is not None:
            record.defect, record.defect_colour = defects.score, defects.colour
            record.defect_structure, record.defect_eyes = defects.structure, defects.eyes
            record.defect_flat, record.defect_flat_features = defects.flat, defects.flat_features
            record.defect_mottle = defects.mottle


def evaluate(
    sources_dir: str | os.PathLike,
    targets_dir: str | os.PathLike,
    swapper_specs: list[str],
    options: SwapperOptions | None = None,
    limit: int | None = None,
    blend_levels: int = 0,
    on_result: Callable[[PairRecord, Photo, Photo, np.ndarray], None] | None = None,
    progress: Callable[[Iterable], Iterable] = lambda it: it,
    same_person: Iterable[Iterable[str]] = (),
) -> EvalReport:
    """Swap every source onto every target with each swapper and measure the results.

    `same_person`: groups of source photos of one person (names or stems, `person_groups`);
    ID top-1 counts a retrieval within the group as a hit, `top1_strict` does not.

    `on_result(record, source, target, result_image)` sees every swapped image (the
    contact sheet is made from it); `progress` wraps the pair loop (e.g. tqdm).
    """
    source_paths = list_images(sources_dir, "sources", limit)
    target_paths = list_images(targets_dir, "targets", limit)
    # Checked against the whole folder before any model loads; --limit may leave a group short.
    used = {p.name for p in source_paths}
    groups = [kept for g in person_groups(same_person, [p.name for p in list_images(sources_dir, "sources")])
              if len(kept := [n for n in g if n in used]) > 1]
    swappers = [(swapper_name(spec), make_swapper(spec, options)) for spec in swapper_specs]
    ev = Evaluator()
    try:
        sources = [ev.load(p, "source image") for p in source_paths]
        targets = [ev.load(p, "target image") for p in target_paths]
        report = EvalReport([p.name for p in source_paths], [p.name for p in target_paths], [n for n, _ in swappers],
                            same_person=groups)
        report.skipped = {
            "sources without a face": [s.path.name for s in sources if s.face is None],
            "targets without a face": [t.path.name for t in targets if t.face is None],
        }
        sources = [s for s in sources if s.face is not None]
        targets = [t for t in targets if t.face is not None]
        if not sources or not targets:
            raise RswapError("no face found in any source image" if not sources else "no face found in any target image")
        bank = np.stack([s.embedding for s in sources])
        people = person_of([s.path.name for s in sources], groups)

        for i, src in enumerate(sources):  # the baseline: how like the source each target already is
            for tgt in targets:
                cos = bank @ tgt.embedding
                nearest = int(np.argmax(cos))
                report.pairs.append(PairRecord(BASELINE, src.path.name, tgt.path.name, float(cos[i]), 1.0,
                                               *retrieved(cos, i, people), sources[nearest].path.name,
                                               0.0, None, 0.0, tone_de=0.0, local_de=0.0, defect=0.0,
                                               defect_colour=0.0, defect_structure=0.0, defect_eyes=0.0,
                                               defect_flat=0.0, defect_flat_features=0.0, defect_mottle=0.0))

        identities = [[sw.encode_source([s.image], [s.face]) for s in sources] for _, sw in swappers]
        jobs = [(k, i, t) for k in range(len(swappers)) for i in range(len(sources)) for t in range(len(targets))]
        for k, i, t in progress(jobs):
            name, sw = swappers[k]
            src, tgt = sources[i], targets[t]
            record = PairRecord(name, src.path.name, tgt.path.name)
            frame_swapper = FrameSwapper(sw, [identities[k][i]], compositor=HostCompositor(blend_levels))
            start = time.perf_counter()
            try:
                result = frame_swapper.process(tgt.image, [tgt.face])
            except RswapError as e:
                record.note = f"swap failed: {e}"
                report.pairs.append(record)
                continue
            record.swap_ms = (time.perf_counter() - start) * 1e3
            ev.measure(record, result, tgt, sources, bank, i, people)
            report.pairs.append(record)
            if on_result:
                on_result(record, src, tgt, result)
        return report
    finally:
        ev.close()


def swapper_name(spec: str) -> str:
    return spec if spec == "classical" else Path(spec).name


def write_json(path: str | os.PathLike, report: EvalReport) -> None:
    text = json.dumps(report.to_json(), indent=1, allow_nan=False)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


# --- contact sheet -----------------------------------------------------------------

TILE = 160
LABEL_H = 18


def face_tile(image: np.ndarray, face: Face | None, label: str = "", size: int = TILE) -> np.ndarray:
    """A square crop around `face` (1.6x its box; the whole image without a face), with a caption."""
    h, w = image.shape[:2]
    if face is None:
        cx, cy, side = w / 2, h / 2, max(h, w)
    else:
        cx, cy = face.center
        side = 1.6 * max(face.bbox[2] - face.bbox[0], face.bbox[3] - face.bbox[1])
    scale = size / side
    M = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]], np.float32)
    tile = cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
    strip = np.full((LABEL_H, size, 3), 255, np.uint8)
    cv2.putText(strip, label[:24], (3, LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([tile, strip])


class ContactSheet:
    """Rows of source | target | result per swapper. Tiles are kept small as results come
    in; `image()` lays out the pairs worst first (largest defect score of any swapper),
    so what is broken is what one sees; `image(worst_first=False)`, a diagonal selection
    where every source and every target shows up before any repeats."""

    def __init__(self, swappers: list[str]):
        self.columns = ["source", "target", *swappers]
        self.faces: dict[str, np.ndarray] = {}  # photo name -> tile
        self.results: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (source, target) -> swapper -> tile
        self.worst: dict[tuple[str, str], float] = {}  # (source, target) -> the largest defect score of any swapper

    def add(self, record: PairRecord, source: Photo, target: Photo, result: np.ndarray) -> None:
        for photo in (source, target):
            if photo.path.name not in self.faces:
                self.faces[photo.path.name] = face_tile(photo.image, photo.face, photo.path.name)
        caption = "no face" if record.cos_source is None else f"s{record.cos_source:.2f} t{record.cos_target:.2f} D{record.defect or 0:.2f}"
        self.worst[(record.source, record.target)] = max(self.worst.get((record.source, record.target), 0.0), record.defect or 0.0)
        self.results.setdefault((record.source, record.target), {})[record.swapper] = face_tile(result, target.face, caption)

    def image(self, max_rows: int = 24, worst_first: bool = True, skip: int = 0) -> np.ndarray | None:
        if not self.results:
            return None
        if worst_first:
            keys = sorted(self.results, key=lambda k: -self.worst.get(k, 0.0))[skip:skip + max_rows]
        else:
            sources = list(dict.fromkeys(s for s, _ in self.results))
            targets = list(dict.fromkeys(t for _, t in self.results))
            keys = [(sources[k % len(sources)], targets[k % len(targets)]) for k in range(len(sources) * len(targets))]
            keys = [k for k in dict.fromkeys(keys) if k in self.results][skip:skip + max_rows]
        blank = np.full((TILE + LABEL_H, TILE, 3), 255, np.uint8)
        rows = []
        for s, t in keys:
            tiles = [self.faces[s], self.faces[t]] + [self.results[(s, t)].get(n, blank) for n in self.columns[2:]]
            rows.append(np.hstack(tiles))
        header = np.full((22, len(self.columns) * TILE, 3), 255, np.uint8)
        for j, name in enumerate(self.columns):
            cv2.putText(header, name[:22], (j * TILE + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        return np.vstack([header, *rows])


def save_sheet(path: str | os.PathLike, sheet: ContactSheet, max_rows: int = 24, skip: int = 0) -> bool:
    img = sheet.image(max_rows, skip=skip)
    if img is None:
        return False
    write_image(path, img)
    return True


def save_pair(folder: Path, record: PairRecord, target: Photo, result: np.ndarray, size: int = 256) -> None:
    """target | result face crops side by side, big enough to judge by eye, as
    FOLDER/SWAPPER/SOURCE__TARGET.png (names without suffixes)."""
    caption = f"D{record.defect or 0:.2f}"
    tile = np.hstack([face_tile(target.image, target.face, target.path.name, size), face_tile(result, target.face, caption, size)])
    name = f"{Path(record.source).stem}__{Path(record.target).stem}.png"
    (folder / record.swapper).mkdir(parents=True, exist_ok=True)
    write_image(folder / record.swapper / name, tile)
