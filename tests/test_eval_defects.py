"""The defect measure's later terms (evaluation/defects.py), on a real classical swap of the
astronaut and deliberate breaks of it: a flattened, greyed face (the flat term), colour blobs
under the nose (the shade a source's nostrils always leave) and on a cheek, and a speckled,
crackled skin (the mottle term)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from evaluation.defects import (COLOUR_LINE, FLAT_FEATURES_LINE, FLAT_LINE, MOTTLE_LINE, STRUCTURE_LINE, flatness, measure_defects,
                                mottle)
from rswap.compose.masks import skin_detail_mask
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import FACE_OVAL


@pytest.fixture(scope="module")
def swap(astronaut):
    """(target, its landmarks, source, its landmarks, a clean classical swap of the mirrored
    astronaut onto a dimmed astronaut) as in tests/test_eval.py's defect test."""
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
    from rswap.swap.classical import ClassicalSwapper
    from rswap.swap.frame import FrameSwapper

    target = np.ascontiguousarray(cv2.convertScaleAbs(astronaut, alpha=0.85, beta=10))
    source = np.ascontiguousarray(astronaut[:, ::-1])
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        tface, sface = analyser.analyse(target)[0], analyser.analyse(source)[0]
    sw = ClassicalSwapper()
    good = FrameSwapper(sw, [sw.encode_source([source], [sface])]).process(target, [tface])
    return target, tface.landmarks, source, sface.landmarks, good


def flattened(image: np.ndarray, landmarks: np.ndarray, blur: float, grey: float) -> np.ndarray:
    """The face oval blurred at `blur` of the face size and pulled `grey` of the way to grey,
    feathered into the rest: the lifeless mask-like face a low-resolution source leaves."""
    oval = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(landmarks[FACE_OVAL]).astype(np.int32)], 255)
    size = float(np.sqrt(np.count_nonzero(oval)))
    w = cv2.GaussianBlur(oval.astype(np.float32) / 255, (0, 0), 0.03 * size)[..., None]
    soft = cv2.GaussianBlur(image, (0, 0), blur * size).astype(np.float32)
    face = (1 - grey) * soft + grey * soft.mean(axis=2, keepdims=True)
    return np.clip(w * face + (1 - w) * image, 0, 255).astype(np.uint8)


def test_a_flattened_greyed_face_is_defective_by_the_flat_term_where_colour_and_structure_see_nothing(swap):
    target, lm, source, slm, good = swap
    clean = measure_defects(good, target, lm, source, slm)
    assert clean.flat < 0.5 * FLAT_LINE and clean.score < 0.75, clean  # a clean swap passes with room
    broken = measure_defects(flattened(good, lm, 0.015, 0.3), target, lm, source, slm)
    # No colour unlike skin and no new edge: the earlier terms score this face below their lines.
    assert broken.colour <= COLOUR_LINE and broken.structure <= STRUCTURE_LINE
    assert broken.flat > FLAT_LINE and broken.defective, broken
    # More blur, more loss: the term grows with the damage.
    assert flatness(flattened(good, lm, 0.03, 0.3), target, lm) > broken.flat


def test_blurred_features_are_defective_even_when_the_skin_has_the_targets_grain(swap, astronaut_face):
    target, lm, source, slm, good = swap
    clean = measure_defects(good, target, lm, source, slm)
    assert clean.flat_features < 0.5 * FLAT_FEATURES_LINE, clean
    # The paste's case (rswap.compose.paste): a blurred face whose skin got the target's own fine
    # detail back, on the paste's skin mask (drawn in the crop, eyes, brows and lips out).
    crop, M = align_crop(target, astronaut_face.kps5, get_template("ffhq256"))
    in_crop = skin_detail_mask(crop.shape[:2], transform_points(astronaut_face.landmarks[:468], M))
    skin = cv2.warpAffine(in_crop, M, target.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)[..., None]
    # A blur of 1.6 px puts the two terms about as far on either side of their lines (1.8 did
    # until the swap's colour gain changed: the whole face's term measured 0.239, then 0.242).
    blurred = cv2.GaussianBlur(good, (0, 0), 1.6).astype(np.float32)
    grain = target.astype(np.float32) - cv2.GaussianBlur(target, (0, 0), 1.6).astype(np.float32)
    broken = np.clip(np.rint(blurred + skin * grain), 0, 255).astype(np.uint8)
    d = measure_defects(broken, target, lm, source, slm)
    assert d.flat < FLAT_LINE  # the whole face's term no longer sees it (measured 0.227)
    assert d.flat_features > FLAT_FEATURES_LINE and d.defective, d  # measured 0.366


def test_the_flat_term_asks_no_more_detail_than_the_target_has_and_ignores_a_mild_colour_shift(swap):
    target, lm, source, slm, good = swap
    assert flatness(target, target, lm) == 0.0
    # A soft target photo: the same softness in the result is no loss; a sharper result is none either.
    soft_target = cv2.GaussianBlur(target, (0, 0), 1.5)
    assert flatness(soft_target, soft_target, lm) == 0.0
    assert flatness(good, soft_target, lm) == 0.0
    shifted = np.clip(good.astype(np.int16) + np.array([8, 2, -4]), 0, 255).astype(np.uint8)  # a mild warm shift
    d = measure_defects(shifted, target, lm, source, slm)
    assert d.flat < 0.5 * FLAT_LINE and not d.defective, d


def test_a_dark_blob_under_the_nose_is_not_a_colour_defect_but_the_same_blob_on_a_cheek_is(swap):
    target, lm, source, slm, good = swap

    def blob_at(point: int) -> np.ndarray:
        out = good.copy()
        cv2.circle(out, tuple(int(v) for v in np.round(lm[point])), 6, (60, 30, 30), -1)
        return out

    # Subnasale (landmark 2): where a source's nostril shade lands near, never on, the target's.
    assert measure_defects(blob_at(2), target, lm, source, slm).colour == 0.0
    cheek = measure_defects(blob_at(205), target, lm, source, slm)
    assert cheek.colour > COLOUR_LINE and cheek.defective


def mottled(image: np.ndarray, landmarks: np.ndarray, amplitude: float) -> np.ndarray:
    """The face oval with a fine grey speckle of about `amplitude` grey levels laid over it (a
    seeded noise blurred at a pixel): the crackle and mottle a dim, compressed source leaves once
    the colour match has raised its contrast."""
    oval = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(landmarks[FACE_OVAL]).astype(np.int32)], 255)
    w = cv2.GaussianBlur(oval.astype(np.float32) / 255, (0, 0), 4.0)
    noise = cv2.GaussianBlur(np.random.default_rng(0).standard_normal(image.shape[:2]).astype(np.float32), (0, 0), 1.0)
    noise *= amplitude / float(noise.std())
    return np.clip(image.astype(np.float32) + (w * noise)[..., None], 0, 255).astype(np.uint8)


def test_a_speckled_crackled_skin_is_defective_by_the_mottle_term_and_a_targets_own_texture_is_not(swap):
    target, lm, source, slm, good = swap
    clean = measure_defects(good, target, lm, source, slm)
    assert clean.mottle < 0.5 * MOTTLE_LINE and not clean.defective, clean
    assert mottle(target, target, lm) == 0.0
    broken = measure_defects(mottled(good, lm, 8.0), target, lm, source, slm)
    # No colour unlike skin and no step edge: the older terms pass this face.
    assert broken.colour <= COLOUR_LINE and broken.structure <= STRUCTURE_LINE, broken
    assert broken.mottle > MOTTLE_LINE and broken.defective, broken
    # The same speckle on the target's own photo is its texture, not a defect of the swap.
    assert mottle(mottled(target, lm, 8.0), mottled(target, lm, 8.0), lm) == 0.0
    # More speckle, more mottle: the term grows with the damage.
    assert mottle(mottled(good, lm, 16.0), target, lm) > broken.mottle
