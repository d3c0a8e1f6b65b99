"""An invisible watermark in the pixels of every swapped frame, and its blind detector.

Method: additive spread spectrum in the DCT domain of the whole frame (Cox, Kilian,
Leighton, Shamoon, "Secure spread spectrum watermarking for multimedia", IEEE Trans.
Image Processing 6(12), 1997), its strength shaped pixel by pixel by a contrast-masking
model (the image-adaptive scheme of Podilchuk & Zeng, "Image-adaptive watermarking using
visual models", IEEE JSAC 16(4), 1998, with Watson's masking exponent 0.7 from "DCT
quantization matrices visually optimized for individual images", SPIE 1913, 1993), and
detected blindly by correlation after whitening (Hartung & Girod, "Watermarking of
uncompressed and compressed video", Signal Processing 66(3), 1998).

- The pattern lives on a canonical 256x256 grid: ±1 signs on the DCT coefficients whose
  radius is 16..96 (7112 of them), stretched to the frame size and added equally to R, G
  and B (a luma-only change). Frequencies are counted per frame, not per pixel, so a
  resized copy still carries it; the band is low enough to survive H.264 at CRF 28 and
  JPEG at quality 75.
- Strength (contrast masking): a pattern of one fixed strength shows as a mottled grain
  on flat areas (plain walls, sky, smooth skin) and hides in texture. So its local std is
  FLAT (0.8 grey levels) where the frame is flat and grows as (activity / 2)^0.7 up to
  GAIN_MAX times that where it is textured; "activity" is the local std of the luma's
  high-pass, on a copy about 135 rows high. The texture takes back much of the energy
  the flat areas give up (the tests' clip after CRF 28 scores 10.7 with growth up to 4x,
  9.1 up to 3x, 5.6 with none; benchmarks/RESULTS.md, "provenance").
- Faces: where `embed` is told a face is (the swapped faces' boxes, widened by FACE_MARGIN),
  the strength stays at FLAT, texture or not: the pattern is fixed to the frame, so a face
  that moves under it changes from frame to frame (measured: the old mark added 0.92 grey
  levels of aligned-face flicker, this one 0.17; benchmarks/flicker.py). Video frames only:
  a still's faces are marked like the rest (rswap.swap.frame.FrameSwapper.finish).
- Payload: the signs are drawn from a generator seeded with "rswap synthetic" and a
  4-bit payload (M-ary modulation: one of 16 sign patterns). PAYLOAD 1 is "rswap
  watermark, format 1"; the detector tries all 16 and reports which one matched.
- Detection: the luma is resized to 256x256 and high-passed; each pixel is weighted by
  the strength the embedder gave it over the local host variance, strength(a) / (a² + 2²) for
  the activity a measured on this received copy (flat areas carry little mark but little
  host noise, textured areas the reverse: the weight a correlation detector should give
  each, a locally normalised correlation); then DCT'd, each coefficient divided by the
  square of the mean magnitude of its 9x9 neighbourhood (whitening), and correlated with
  each pattern. Whatever the weights, they come from the image alone, so the score
  z = <s, y> / |y| is N(0, 1) over random keys for any image that was not marked, and the
  threshold of 6 bounds the false-alarm rate near 16 x 1e-9 per test. Several frames of a
  video are combined by averaging their whitened vectors (same null law).
- Why not a library: invisible-watermark 0.2.0 requires `opencv-python` (beside our
  opencv-contrib-python) and resolves to numpy 2; trustmark 0.9.2 needs torch, torchvision
  and lightning and runs a neural network on every frame.
- Public by design: anyone can check (and so also remove) the mark; it says "made by
  rswap", it is not a secret. The detector assumes the frame's own grid, so a crop or a
  mirror image is expected to lose it (not measured).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

GRID = 256  # canonical DCT grid (pixels per side) on which the pattern is defined
BAND = (16.0, 96.0)  # radii (in DCT index units of the 256 grid) carrying the mark
FLAT = 0.8  # std of the added pattern on flat areas, grey levels: not seen there at 100%
MASKING_THRESHOLD = 2.0  # activity (grey levels) above which the strength grows
MASKING_EXPONENT = 0.7  # Watson's contrast-masking exponent
GAIN_MAX = 4.0  # the most texture raises the strength over FLAT (std 3.2)
HIGH_PASS = 9  # box (pixels of the activity copy) whose mean is taken off the luma
WINDOW = 17  # box over which the high-pass's energy is averaged into "activity"
ACTIVITY_ROWS = 135  # the activity copy is at least this many rows (or columns) high
WORK_SIDE = 256  # the mark is made at the frame size / k, k = shorter side // this (≥ 1)
FACE_MARGIN = 0.6  # a face's box is widened by this fraction of its size on each side
DETECT_HIGH_PASS = 8.0  # Gaussian sigma (grid pixels) taken off before the weighting
HOST_NOISE = 2.0  # grey levels of noise assumed where the received frame is flat
PAYLOADS = 16  # 4 bits
PAYLOAD = 1  # "rswap watermark, format 1"
THRESHOLD = 6.0  # detection score (in standard deviations of the null) for "found"
WHITEN = 9  # neighbourhood (DCT coefficients per side) of the whitening magnitude
MARKER = b"rswap synthetic"


def _band_indices() -> np.ndarray:
    u, v = np.meshgrid(np.arange(GRID), np.arange(GRID))
    r = np.hypot(u, v)
    return np.flatnonzero((r >= BAND[0]) & (r <= BAND[1]))


def _signs(payload: int, n: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(MARKER + bytes([payload])).digest()[:8], "little")
    return np.random.default_rng(seed).choice(np.array([-1.0, 1.0], np.float32), n)


class _Patterns:
    """The 16 sign patterns over the band's coefficients (made once per process, ~10 ms)."""

    def __init__(self):
        self.index = _band_indices()
        self.signs = np.stack([_signs(p, self.index.size) for p in range(PAYLOADS)])

    def spatial(self, payload: int) -> np.ndarray:
        coeffs = np.zeros(GRID * GRID, np.float32)
        coeffs[self.index] = self.signs[payload]
        pattern = cv2.idct(coeffs.reshape(GRID, GRID))
        return pattern / pattern.std()


@functools.cache
def _patterns() -> _Patterns:
    """A pure function of the constants above, so one copy serves every caller."""
    return _Patterns()


def activity(grey: np.ndarray) -> np.ndarray:
    """Local std (grey levels) of the luma's high-pass: how much texture hides a mark here."""
    luma = grey.astype(np.float32)
    high = luma - cv2.blur(luma, (HIGH_PASS, HIGH_PASS))
    return np.sqrt(np.maximum(cv2.blur(high * high, (WINDOW, WINDOW)), 0.0))


def strength(act: np.ndarray) -> np.ndarray:
    """The pattern's local std for that activity (float32): FLAT, raised by contrast masking.

    OpenCV's vectorised pow on the clipped ratio, not numpy's `**` (a scalar powf per pixel),
    the same values within 1e-6: on a 640x368 frame's 184x320 activity map 0.13 against 0.6 ms,
    and the whole `embed` 0.95 against 1.45 ms (720p: 1.7-2.3 against 2.0-2.6; thread CPU, one
    process, alternated; benchmarks/RESULTS.md, seventeenth session)."""
    ratio = cv2.max(np.asarray(act, np.float32) * (1.0 / MASKING_THRESHOLD), 1.0)
    return cv2.min(cv2.pow(ratio, MASKING_EXPONENT), GAIN_MAX) * np.float32(FLAT)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels


class Watermarker:
    """Adds the mark to RGB uint8 frames; keeps the pattern of the last few frame sizes.

    One instance per conveyor (the paste stage is one thread: `embed` reuses its scratch
    buffers); `embed` returns a new array. Measured 1.2-1.9 ms per 720p frame on one core
    (best of 200, 21-29x a plain copy; benchmarks/RESULTS.md; ~0.3 ms less since `strength`
    uses OpenCV's pow): the strength map is made on a
    ~135-row copy, the mark at half size for 720p (its shortest period there is ~27 px),
    then scaled up and added with one saturation.
    """

    def __init__(self, payload: int = PAYLOAD):
        if not 0 <= payload < PAYLOADS:
            raise ValueError(f"payload must be in 0..{PAYLOADS - 1}")
        self.payload = payload
        # frame size (h, w) -> the unit-std pattern at the work size, and two scratch buffers
        self._by_size: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _buffers(self, h: int, w: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        buffers = self._by_size.get((h, w))
        if buffers is None:
            interp = cv2.INTER_LINEAR if min(size) >= GRID else cv2.INTER_AREA
            pattern = cv2.resize(_patterns().spatial(self.payload), size, interpolation=interp)
            pattern /= pattern.std()
            if len(self._by_size) >= 4:  # live and convert see one size; bound it anyway
                self._by_size.pop(next(iter(self._by_size)))
            buffers = self._by_size[(h, w)] = (pattern, np.empty((h, w), np.uint8), np.empty((h, w, 3), np.uint8))
        return buffers

    def strength_map(self, image: np.ndarray, size: tuple[int, int], faces: Iterable[Box] = ()) -> np.ndarray:
        """The pattern's local std at `size` (w, h): contrast masking, FLAT on the faces."""
        h, w = image.shape[:2]
        s = max(1, min(h, w) // ACTIVITY_ROWS)
        # nearest neighbour: a plain subsample is enough to measure texture, and 10x cheaper
        small = cv2.cvtColor(cv2.resize(image, (w // s, h // s), interpolation=cv2.INTER_NEAREST), cv2.COLOR_RGB2GRAY)
        gain = strength(activity(small))
        for x0, y0, x1, y1 in faces:
            mx, my = (x1 - x0) * FACE_MARGIN, (y1 - y0) * FACE_MARGIN
            gain[max(0, int((y0 - my) / s)): max(0, int((y1 + my) / s) + 1),
                 max(0, int((x0 - mx) / s)): max(0, int((x1 + mx) / s) + 1)] = FLAT
        return cv2.resize(gain, size, interpolation=cv2.INTER_LINEAR)

    def embed(self, image: np.ndarray, faces: Iterable[Box] = (), in_place: bool = False) -> np.ndarray:
        """`faces`: boxes of the swapped faces, where the mark stays at its flat-area strength.
        `in_place`: the caller owns `image` and lets the mark be added into it (a C-contiguous
        image; the swap's paste does: a 720p frame's new array and its first touch saved)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")
        image = np.ascontiguousarray(image)  # a flipped or cropped view, as OpenCV wants it
        h, w = image.shape[:2]
        k = max(1, min(h, w) // WORK_SIDE)
        size = (w // k, h // k)
        pattern, grey, rgb = self._buffers(h, w, size)
        mark = cv2.multiply(pattern, self.strength_map(image, size, faces))
        offset = cv2.convertScaleAbs(mark, alpha=1.0, beta=128.0)  # rounded, saturated, +128
        if k > 1:
            offset = cv2.resize(offset, (w, h), dst=grey, interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(offset, cv2.COLOR_GRAY2RGB, dst=rgb)
        # one saturation after the sum: image + mark, never clipped in between
        return cv2.addWeighted(image, 1.0, rgb, 1.0, -128.0, dst=image if in_place else None)


def evidence(image: np.ndarray) -> np.ndarray | None:
    """The whitened band coefficients of one RGB (or grey) image, unit length; None when
    the band is empty (a flat image carries nothing to test)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    act = activity(small)
    weighted = (small - cv2.GaussianBlur(small, (0, 0), DETECT_HIGH_PASS)) * (strength(act) / (act * act + HOST_NOISE**2))
    coeffs = cv2.dct(weighted)
    magnitude = cv2.blur(np.abs(coeffs), (WHITEN, WHITEN)) + 1e-3
    # weight 1/sigma^2: the correlation detector that is optimal for a Gaussian host of
    # local std sigma (measured: +10-20% score over 1/sigma after H.264 at CRF 28)
    y = (coeffs / (magnitude * magnitude)).ravel()[_patterns().index]
    norm = float(np.linalg.norm(y))
    return y / norm if norm > 1e-3 else None


@dataclass(frozen=True)
class Detection:
    found: bool
    score: float  # best z over payloads and tests (frames, and their average)
    payload: int | None  # which of the 16 sign patterns matched, when found
    images: int  # how many images were tested

    def describe(self) -> str:
        if self.images == 0:
            return "pixels unreadable"
        return "watermark found" if self.found else "no watermark"


def detect(images: Iterable[np.ndarray]) -> Detection:
    """Test each image, and (for several, e.g. frames of one video) their average."""
    signs = _patterns().signs
    vectors = [v for v in (evidence(im) for im in images) if v is not None]
    tests = list(vectors)
    if len(vectors) > 1:
        mean = np.mean(vectors, axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 1e-6:
            tests.append(mean / norm)
    if not tests:
        return Detection(False, 0.0, None, len(vectors))
    scores = np.stack([signs @ t for t in tests])  # (tests, payloads); each test is unit length
    test, payload = np.unravel_index(int(np.argmax(scores)), scores.shape)
    best = float(scores[test, payload])
    found = best >= THRESHOLD
    return Detection(found, best, int(payload) if found else None, len(vectors))
