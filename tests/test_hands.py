"""Hands in front of faces (rswap.face.hands): the mask drawn from a hand's 21 landmarks, the
swap that keeps the target's pixels under it, a source whose covered pixels are not trusted,
and the real finder (mediapipe's hand models) on made data, in the analyser and in convert.

Hands are made: 21 landmarks of an open hand laid over the astronaut's cheek (mediapipe's
finder does not see a hand painted from them, so the swap tests give the faces their hands,
as the analyser does)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli.main import main as rswap
from rswap.compose.color import to_lab
from rswap.face.align import align_crop, transform_points
from rswap.face.hands import FINGER_WIDTH, HandFinder, hand_length, hand_mask, spread
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.mediapipe_modules import hands_connections
from rswap.face.options import AnalysisOptions
from rswap.media.video import VideoReader
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.compositor import HostCompositor
from rswap.swap.frame import FrameSwapper

# An open right hand, palm to the camera, in units of its length (wrist -> middle finger's
# base), the wrist at the origin and the fingers pointing up (-y).
OPEN_HAND = np.float32([
    (0, 0), (-0.28, -0.22), (-0.5, -0.42), (-0.66, -0.62), (-0.8, -0.8),  # wrist, thumb
    (-0.32, -0.95), (-0.38, -1.38), (-0.41, -1.65), (-0.44, -1.88),  # index
    (0, -1), (0, -1.48), (0, -1.78), (0, -2.02),  # middle
    (0.28, -0.95), (0.32, -1.4), (0.35, -1.68), (0.37, -1.9),  # ring
    (0.52, -0.85), (0.62, -1.18), (0.68, -1.38), (0.73, -1.56),  # pinky
])
FINGERTIPS = (8, 12, 16, 20)


def made_hand(face, length: float, at: int, angle_deg: float = 0.0) -> np.ndarray:
    """OPEN_HAND `length` pixels long, turned by `angle_deg`, its middle fingertip on mesh point `at`."""
    a = np.deg2rad(angle_deg)
    R = np.float32([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = OPEN_HAND @ R.T * length
    return (pts - pts[12] + face.landmarks[at]).astype(np.float32)


def bone_axes(hand: np.ndarray, step: float = 1.0) -> np.ndarray:
    """Points along every bone of the hand (its capsules' axes), `step` pixels apart."""
    out = []
    for a, b in hands_connections.HAND_CONNECTIONS:
        n = max(2, int(np.linalg.norm(hand[b] - hand[a]) / step))
        out.append(hand[a] + np.linspace(0, 1, n)[:, None] * (hand[b] - hand[a]))
    return np.concatenate(out).astype(np.float32)


def distance_to_bones(hw, hand: np.ndarray) -> np.ndarray:
    """(H, W) pixel distance to the nearest bone axis."""
    axes = np.zeros(hw, np.uint8)
    for a, b in hands_connections.HAND_CONNECTIONS:
        cv2.line(axes, tuple(np.round(hand[a]).astype(int)), tuple(np.round(hand[b]).astype(int)), 255, 1)
    return cv2.distanceTransform(255 - axes, cv2.DIST_L2, 5)


def _along(hw, hand: np.ndarray) -> np.ndarray:
    """(H, W): each pixel's distance from the wrist toward the middle finger's base, in hand
    lengths (below 0: the forearm's side, which the mask also covers)."""
    up = (hand[9] - hand[0]) / hand_length(hand) ** 2
    ys, xs = np.mgrid[:hw[0], :hw[1]]
    return (xs - hand[0, 0]) * up[0] + (ys - hand[0, 1]) * up[1]


def paint_hand(image: np.ndarray, hand: np.ndarray, rgb=(236, 188, 160)) -> np.ndarray:
    """The image with flat fingers painted along the hand's bones (as wide as a real finger)."""
    out = image.copy()
    width = max(1, int(round(0.2 * hand_length(hand))))
    for a, b in hands_connections.HAND_CONNECTIONS:
        cv2.line(out, tuple(np.round(hand[a]).astype(int)), tuple(np.round(hand[b]).astype(int)), rgb, width)
    return out


@pytest.fixture(scope="module")
def target(astronaut, analyse):
    """The astronaut, darkened a little, a hand's fingers painted over her left cheek and lips."""
    img = np.ascontiguousarray(cv2.convertScaleAbs(astronaut, alpha=0.85, beta=-5))
    face = analyse(img)
    hand = made_hand(face, 0.45 * (face.bbox[3] - face.bbox[1]), at=205, angle_deg=-25)
    return paint_hand(img, hand), face, hand


def test_hand_mask_covers_the_fingers_and_little_beside_them(target):
    image, face, hand = target
    mask = hand_mask(image.shape[:2], [hand])
    length = hand_length(hand)
    on_axis = np.round(bone_axes(hand)).astype(int)
    assert mask[on_axis[:, 1], on_axis[:, 0]].min() > 0.99
    dist = distance_to_bones(image.shape[:2], hand)
    palm = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(palm, np.round(cv2.convexHull(hand[[0, 1, 2, 5, 9, 13, 17]])[:, 0]).astype(np.int32), 1)
    # A finger's edge (half its ~0.2 width off the axis) is covered; what lies 0.35 of the hand
    # away from every bone (between spread fingers, beyond the tips), outside the palm, is not.
    edge = (np.abs(dist - 0.1 * length) < 0.5) & (palm == 0)
    assert np.percentile(mask[edge], 5) > 0.9
    assert mask[(dist > 0.35 * length) & (palm == 0) & (_along(image.shape[:2], hand) > 0.5)].max() < 0.01
    assert FINGER_WIDTH * length < 0.35 * length  # (the widths are the hand's own, a share of its length)
    # A hand drawn in a crop is the frame's hand moved by the crop's matrix, widths scaled with it.
    crop_hw = (256, 256)
    M = cv2.getRotationMatrix2D(tuple(map(float, face.center)), 20, 0.5)
    in_crop = hand_mask(crop_hw, [hand], M)
    moved = cv2.warpAffine(mask, M, crop_hw[::-1])
    assert np.abs(in_crop - moved).mean() < 0.01 and in_crop.sum() == pytest.approx(moved.sum(), rel=0.05)


def test_swap_keeps_the_targets_pixels_under_the_fingers_and_swaps_beside_them(astronaut, astronaut_face, target):
    image, face, hand = target
    sw = ClassicalSwapper()
    fs = FrameSwapper(sw, [sw.encode_source([astronaut[:, ::-1].copy()], [_flipped(astronaut_face, astronaut.shape[1])])],
                      compositor=HostCompositor(0), watermark=False)
    plain = fs.process(image, [face])
    kept = fs.process(image, [dataclasses.replace(face, hands=(hand,))])
    length = hand_length(hand)
    dist = distance_to_bones(image.shape[:2], hand)
    x0, y0, x1, y1 = face.bbox.astype(int)
    in_face = np.zeros(image.shape[:2], bool)
    in_face[y0:y1, x0:x1] = True
    under = in_face & (dist < 0.06 * length)  # the fingers' middle
    beside = in_face & (dist > 0.4 * length) & (_along(image.shape[:2], hand) > 0.5)
    change = lambda out, where: np.abs(out.astype(int) - image.astype(int)).max(2)[where]  # noqa: E731
    assert under.sum() > 300 and np.median(change(plain, under)) > 10  # swapped over, without the hand
    assert change(kept, under).max() <= 1  # the target's own fingers, with it
    assert np.median(change(kept, beside)) > 5  # the face beside them is swapped...
    assert np.abs(kept.astype(int) - plain.astype(int)).max(2)[beside].max() <= 1  # ...as without a hand


@pytest.mark.parametrize("where", ["host", "device"])
def test_a_learned_swapper_keeps_the_fingers_too_on_host_and_device(model_dir, target, where):
    """The hand leaves the paste mask, so any swapper keeps it: a learned model (torch on the
    CPU), its crops pasted by OpenCV or as tensors (the device compositor)."""
    pytest.importorskip("torch")
    from rswap.swap.device_compositor import DeviceCompositor
    from tests.test_device_swap import _source, _swapper

    image, face, hand = target
    sw = _swapper(model_dir)
    compositor = DeviceCompositor(sw.tensor_device) if where == "device" else HostCompositor(0)
    fs = FrameSwapper(sw, [_source(0)], compositor=compositor, watermark=False)
    plain, kept = fs.process(image, [face]), fs.process(image, [dataclasses.replace(face, hands=(hand,))])
    under = distance_to_bones(image.shape[:2], hand) < 0.06 * hand_length(hand)
    under &= np.abs(plain.astype(int) - image.astype(int)).max(2) > 10  # where the swap changed the frame
    assert under.sum() > 200
    d = np.abs(kept.astype(int) - image.astype(int)).max(2)[under]
    # (this test model's crop is small: a finger is a few of its pixels wide, and on 5 of ~1040
    # pixels the mask's rounded edge leaves 0.88-0.98 of the hand, 2-3 grey levels off)
    assert np.mean(d <= 1) > 0.98 and d.max() <= 4


def _flipped(face, width: int):
    """The astronaut's face, mirrored with her photo (the source: another face than the target's)."""
    from rswap.face.types import Face

    pts = face.landmarks.copy()
    pts[:, 0] = width - 1 - pts[:, 0]
    return Face.from_landmarks(pts, face.z)


def test_a_hand_on_the_source_is_left_out_of_its_texture(astronaut, analyse):
    """A lighter hand over the source's cheek (too like skin for the occluder cues): with the
    face's hand known, the texture there is filled from the mirror and carries no step."""
    face = analyse(astronaut)
    hand = made_hand(face, 0.25 * (face.bbox[3] - face.bbox[1]), at=147, angle_deg=20)  # on her right cheek
    mask = hand_mask(astronaut.shape[:2], [hand])
    lighter = np.clip(astronaut.astype(np.float32) + 28.0 * (mask[..., None] > 0.5), 0, 255).astype(np.uint8)
    sw = ClassicalSwapper()

    def step(hands: tuple) -> float:
        """Mean L inside the hand minus in a ring just around it, on the face, in the texture."""
        texture = sw.encode_source([lighter], [dataclasses.replace(face, hands=hands)]).texture
        crop, M = align_crop(lighter, face.kps5, sw.template)
        inside = hand_mask(crop.shape[:2], [hand], M) > 0.9
        oval = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillConvexPoly(oval, np.round(cv2.convexHull(transform_points(face.landmarks[:468], M))[:, 0]).astype(np.int32), 1)
        inside &= cv2.erode(oval, np.ones((15, 15), np.uint8)) > 0
        ring = (cv2.dilate(inside.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0) & ~inside & (oval > 0)
        L = to_lab(texture)[..., 0]
        return float(L[inside].mean() - L[ring].mean())

    assert step(()) > 4  # the cues alone keep the lighter hand: a step at its edge (measured 5.9)
    assert abs(step((hand,))) < 2  # (measured -0.3)


def test_the_real_finder_sees_no_hand_on_the_astronaut_and_changes_nothing(astronaut, astronaut_face):
    with MediapipeFaceAnalyser(max_faces=1, hands=True) as analyser:
        faces = analyser.analyse(astronaut)
    assert len(faces) == 1 and faces[0].hands == ()
    assert np.array_equal(faces[0].landmarks, astronaut_face.landmarks)
    for video in (False, True):  # a still's search (both passes) and a stream's
        finder = HandFinder(video=video)
        assert [finder.find(astronaut, [faces[0].bbox]) for _ in range(3)] == [[], [], []]
        finder.close()
    # a line of points along an ear, as mediapipe's models report there, is no hand
    assert spread(np.float32([[100, 100 + 3 * k] for k in range(21)]) + np.float32([[0.5 * (k % 2), 0] for k in range(21)])) < 0.1
    assert spread(made_hand(faces[0], 80, at=205)) > 0.5


def test_keep_hands_defaults_on_for_convert_and_sources_and_off_for_live_frames():
    assert AnalysisOptions().keeps_hands(live_frames=False) and not AnalysisOptions().keeps_hands(live_frames=True)
    assert AnalysisOptions(keep_hands=True).keeps_hands(live_frames=True)
    assert not AnalysisOptions(keep_hands=False).keeps_hands(live_frames=False)


def _frames(path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f.image for f in r]


def test_convert_with_hands_kept_runs_end_to_end_and_changes_nothing_without_a_hand(tmp_path, source_png, clip_no_audio):
    outs = {}
    for flag in ("--keep-hands", "--no-keep-hands"):
        out = tmp_path / f"{flag[2:]}.mp4"
        assert rswap(["convert", "-s", source_png, "-t", clip_no_audio, "-o", str(out), "--no-progress",
                      "--preset", "ultrafast", flag]) == 0
        outs[flag] = _frames(out)
    assert len(outs["--keep-hands"]) == len(_frames(clip_no_audio)) == 10
    assert all(np.array_equal(a, b) for a, b in zip(outs["--keep-hands"], outs["--no-keep-hands"]))


# The dev photos beside the checkout (never in git); RSWAP_DEV_DATA names them from elsewhere (a worktree).
DEV_FACES = Path(os.environ.get("RSWAP_DEV_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


class _ScriptedFinder(HandFinder):
    """The finder with mediapipe's graph answered by made landmarks: what `find` keeps of them."""

    def __init__(self, answers):
        super().__init__(video=False)
        self.answers = answers

    def _hands(self, image):
        self.graph_calls += 1
        return [a.copy() for a in self.answers]


def test_the_finder_keeps_a_hand_at_the_face_and_drops_an_ear_line_and_a_far_hand(astronaut, astronaut_face):
    """The dev-photo test's rule (an ear seen as a hand is dropped) on made landmarks."""
    face = astronaut_face
    hand = made_hand(face, 80, at=205)
    x0, y0, x1, y1 = face.bbox
    ear = np.float32([[x1 - 5, y0 + 40 + 3 * k] for k in range(21)]) + np.float32([[0.5 * (k % 2), 0] for k in range(21)])
    far = made_hand(face, 40, at=205) + np.float32([3 * (x1 - x0), 0])  # beside the face by two face widths
    finder = _ScriptedFinder([hand, ear, far])
    found = finder.find(astronaut, [face.bbox])
    finder.close()
    assert finder.graph_calls == 2  # a still: as is and in its border
    assert len(found) == 1 and np.allclose(found[0], hand)  # the border pass's copy of it is the same hand


@pytest.mark.skipif(not all((DEV_FACES / f).exists() for f in ("faces/015384.jpg", "crops/ds.jpg")),
                    reason="needs ../shared/data (dev photos)")
def test_on_dev_photos_a_real_hand_is_found_and_an_ear_is_not_one():
    """A real hand needs a real photo (mediapipe does not see painted ones); the ear rule is also
    tested on made landmarks above."""
    from rswap.media.images import read_image

    with MediapipeFaceAnalyser(max_faces=1, hands=True) as analyser:
        chin = analyser.analyse(read_image(DEV_FACES / "faces" / "015384.jpg"))[0]  # fingers with rings at the chin
        ear = analyser.analyse(read_image(DEV_FACES / "crops" / "ds.jpg"))[0]  # mediapipe's models see a hand in the ear
    assert len(chin.hands) == 1 and 0.3 < hand_length(chin.hands[0]) / (chin.bbox[3] - chin.bbox[1]) < 0.6
    assert ear.hands == ()
