"""Face analysis, alignment, identity and selection on the astronaut photo."""

import cv2
import numpy as np
import pytest

from rswap.errors import RswapError
from rswap.face.align import align_crop, get_template, invert_affine, similarity_matrix, transform_points
from rswap.face.dlib_embedder import DlibEmbedder, cosine
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.select import FaceSelector


def test_analyser_finds_the_face_with_a_sane_five_point_set(astronaut_face):
    f = astronaut_face
    assert f.landmarks.shape == (478, 2)
    (lx, ly), (rx, ry), nose, ml, mr = f.kps5
    assert lx < nose[0] < rx and ml[0] < mr[0]
    assert ly < nose[1] < ml[1] and ry < nose[1] < mr[1]  # eyes above nose above mouth
    x0, y0, x1, y1 = f.bbox
    assert 170 < x0 < x1 < 290 and 60 < y0 < y1 < 190  # where the astronaut's face is


def test_small_face_is_found_by_the_full_range_pass(astronaut):
    frame = np.full((720, 1280, 3), 80, np.uint8)
    small = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)  # face ~85 px in 720p
    frame[300:700, 800:1200] = small
    with MediapipeFaceAnalyser(max_faces=2) as analyser:
        assert not analyser._mesh_faces(analyser._mesh, frame)  # the mesh's own detector misses it
        faces = analyser.analyse(frame)
    assert len(faces) == 1
    assert 900 < faces[0].bbox[0] < faces[0].bbox[2] < 1100


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 100, (5, 2)).astype(np.float32)
    angle, scale, shift = np.deg2rad(17), 1.7, np.array([12.0, -4.0])
    R = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = pts @ R.T + shift
    M = similarity_matrix(pts, moved)
    assert np.allclose(M[:, :2], R, atol=1e-4) and np.allclose(M[:, 2], shift, atol=1e-3)
    with pytest.raises(RswapError):
        similarity_matrix(np.zeros((5, 2)), moved)


@pytest.mark.parametrize("name", ["arcface112", "arcface128", "ffhq256", "ffhq512"])
def test_alignment_round_trips(astronaut, astronaut_face, name):
    t = get_template(name)
    crop, M = align_crop(astronaut, astronaut_face.kps5, t)
    assert crop.shape == (t.size, t.size, 3)
    # The 5 points land near the template (faces differ from the template by a few %).
    assert np.abs(transform_points(astronaut_face.kps5, M) - t.points).max() < 0.06 * t.size
    back = transform_points(transform_points(astronaut_face.landmarks, M), invert_affine(M))
    assert np.abs(back - astronaut_face.landmarks).max() < 1e-3
    # The crop shows the face: analysing it finds the same landmarks, moved by M.
    view = cv2.resize(crop, (256, 256)) if t.size < 256 else crop
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        again = analyser.analyse(view)
    assert again
    expected = transform_points(astronaut_face.kps5, M) * (view.shape[0] / t.size)
    assert np.abs(again[0].kps5 - expected).max() < 0.04 * view.shape[0]


def test_identity_same_person_vs_different(astronaut, astronaut_face):
    emb = DlibEmbedder()
    v = emb.embed(astronaut, astronaut_face)
    assert v.shape == (128,) and abs(np.linalg.norm(v) - 1) < 1e-5
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        face_m = analyser.analyse(mirrored)[0]
    assert cosine(v, emb.embed(mirrored, face_m)) > emb.same_person_cosine


def test_selection_modes(astronaut, astronaut_face):
    from dataclasses import replace

    small = replace(astronaut_face, bbox=astronaut_face.bbox * 0.5)
    faces = [small, astronaut_face]
    assert FaceSelector("largest").select(astronaut, faces) == [(astronaut_face, 0)]
    assert len(FaceSelector("all").select(astronaut, faces)) == 2
    with pytest.raises(RswapError):
        FaceSelector("tallest")
    with pytest.raises(RswapError):
        FaceSelector("reference")
    ref = np.eye(128, dtype=np.float32)[0]
    sel = FaceSelector("reference", [ref, -ref], min_cosine=0.5)
    embed = lambda image, face: ref if face is astronaut_face else -ref  # noqa: E731
    assert sel.select(astronaut, faces, embed) == [(small, 1), (astronaut_face, 0)]


class _SlowBoxDetector:
    """A box detector that takes 40 ms and finds the small face at a known box."""

    roi_scale = 1.9

    def __init__(self, box):
        self.box, self.calls = box, 0

    def detect(self, image):
        import time

        self.calls += 1
        time.sleep(0.04)
        return [self.box] if image.mean() > 1 else []  # nothing on a black frame

    def detect_tiled(self, image):
        return []

    def close(self):
        pass


def test_live_search_duty_limits_a_slow_detector_while_no_face_is_in_view(astronaut):
    """Video mode with search_duty 0.25: on empty frames a 40 ms detector runs about once per
    160 ms, not every frame; when the face appears it is still found, then followed without searching."""
    import time

    empty = np.zeros((720, 1280, 3), np.uint8)
    frame = np.full((720, 1280, 3), 80, np.uint8)
    frame[300:700, 800:1200] = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    box = np.array([930, 370, 1030, 480], np.float32)  # about where that face is (mediapipe's tight box)
    detector = _SlowBoxDetector(box)
    with MediapipeFaceAnalyser(max_faces=1, video=True, detector=detector, search_duty=0.25) as analyser:
        start, frames = time.perf_counter(), 0
        while time.perf_counter() - start < 0.8:
            assert analyser.analyse(empty) == []
            frames += 1
        assert frames >= 2 * detector.calls  # skipped frames cost nothing: most frames do not search
        assert detector.calls <= 0.8 / 0.16 + 1
        time.sleep(0.2)  # the wait after the last search is over
        faces = analyser.analyse(frame)
        assert len(faces) == 1 and 900 < faces[0].bbox[0] < faces[0].bbox[2] < 1100
        calls = detector.calls
        for _ in range(3):
            assert len(analyser.analyse(frame)) == 1  # followed from its last landmarks
        assert detector.calls == calls
    with MediapipeFaceAnalyser(max_faces=1, video=True, detector=_SlowBoxDetector(box)) as offline:
        for _ in range(3):
            offline.analyse(empty)
        assert offline._detector.calls == 3  # no duty (convert): every frame is searched


# Tiled search (rswap/face/tiles.py): faces the full-range detector cannot box in a whole 720p frame.


def _pasted_head(astronaut, astronaut_face, height, centre, background):
    """The astronaut's head scaled to a face `height` px tall (the mesh's bbox), its face centred
    at `centre` (x, y) of a copy of `background`; and its reference landmarks in that frame."""
    x0, y0, x1, y1 = astronaut_face.bbox
    side = 2.2 * (y1 - y0)
    left, top = int((x0 + x1 - side) / 2), int(max(0, (y0 + y1 - side) / 2))
    crop = astronaut[top : int(top + side), left : int(left + side)]
    k = height / (y1 - y0)
    small = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    ref = (astronaut_face.landmarks - np.array([left, top], np.float32)) * k
    ox, oy = (np.asarray(centre) - ref.mean(0)).astype(int)
    frame = background.copy()
    frame[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    return frame, ref + np.array([ox, oy], np.float32)


def _landmark_error(face, ref):
    return np.linalg.norm(face.landmarks - ref, axis=1).mean() / np.linalg.norm(ref[33] - ref[263])


@pytest.fixture(scope="module")
def coffee_720p():
    from skimage import data

    return cv2.GaussianBlur(cv2.resize(data.coffee(), (1280, 720)), (0, 0), 2)  # a textured background


def test_tiled_search_finds_a_45px_face_the_whole_frame_detector_misses(astronaut, astronaut_face, coffee_720p):
    from rswap.face.mediapipe_analyser import MediapipeBoxDetector

    frame, ref = _pasted_head(astronaut, astronaut_face, 45, (900, 200), coffee_720p)
    untiled = MediapipeBoxDetector(tile=None)
    with MediapipeFaceAnalyser(max_faces=2, detector=untiled) as analyser:
        assert analyser.analyse(frame) == []  # the full-range detector's 192x192 view loses this face
    untiled.close()
    with MediapipeFaceAnalyser(max_faces=2) as analyser:
        faces = analyser.analyse(frame)
    assert len(faces) == 1 and faces[0].landmarks.shape == (478, 2)
    assert _landmark_error(faces[0], ref) < 0.08  # in eye distances: each point where the face is


def test_tiled_search_reports_no_face_on_textured_frames_without_one(coffee_720p):
    from skimage import data

    cat = cv2.resize(data.chelsea(), (1280, 720))
    gravel = cv2.cvtColor(cv2.resize(data.gravel(), (1280, 720)), cv2.COLOR_GRAY2RGB)
    with MediapipeFaceAnalyser(max_faces=2) as analyser:
        for frame in (coffee_720p, cat, gravel):
            assert analyser.analyse(np.ascontiguousarray(frame)) == []


def test_a_face_on_a_tile_seam_is_found_once(astronaut, astronaut_face):
    """Centred on the corner where four tiles meet: three of them cut it, one holds it whole."""
    from rswap.face.mediapipe_analyser import TILE, TILE_OVERLAP
    from rswap.face.tiles import tile_grid

    assert (0, 0, TILE, TILE) in tile_grid(1280, 720, TILE, TILE_OVERLAP)  # so (TILE, TILE) is on two seams
    frame, ref = _pasted_head(astronaut, astronaut_face, 45, (TILE, TILE), np.full((720, 1280, 3), 90, np.uint8))
    with MediapipeFaceAnalyser(max_faces=4) as analyser:
        faces = analyser.analyse(frame)
    assert len(faces) == 1 and _landmark_error(faces[0], ref) < 0.08


def test_live_search_duty_covers_the_tiled_search(coffee_720p):
    """The tiled search (~30 ms at 720p) runs inside the duty-limited search: on a live stream
    with no face it runs on a fraction of the frames, not on every one."""
    import time

    from rswap.face.mediapipe_analyser import MediapipeBoxDetector

    class Counting(MediapipeBoxDetector):
        tiled_calls = 0

        def detect_tiled(self, image):
            self.tiled_calls += 1
            return super().detect_tiled(image)

    detector = Counting()
    with MediapipeFaceAnalyser(max_faces=1, video=True, detector=detector, search_duty=0.2) as analyser:
        start, frames = time.perf_counter(), 0
        while time.perf_counter() - start < 0.8:
            assert analyser.analyse(coffee_720p) == []
            frames += 1
    detector.close()
    assert 1 <= detector.tiled_calls and frames >= 3 * detector.tiled_calls


def test_video_finds_a_small_face_entering_beside_a_tracked_one(astronaut):
    """Video mode: a big face is tracked by the mesh (pass 1); a small face beside it is found by
    the periodic pass-2 search (search_every) and then followed every frame. Without the
    periodic search, pass 2 never looks while another face is in view."""
    frame = np.full((720, 1280, 3), 80, np.uint8)
    frame[50:650, 50:650] = cv2.resize(astronaut[20:320, 80:380], (600, 600), interpolation=cv2.INTER_AREA)  # ~220 px
    frame[400:600, 950:1150] = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)  # face ~40 px
    with MediapipeFaceAnalyser(max_faces=2) as analyser:
        assert len(analyser._mesh_faces(analyser._mesh, frame)) == 1  # pass 1 sees only the big face

    def counts(search_every):
        with MediapipeFaceAnalyser(max_faces=2, video=True, search_every=search_every) as analyser:
            return [len(analyser.analyse(frame)) for _ in range(6)]

    assert counts(None) == [1] * 6
    seen = counts(3)
    assert seen[:2] == [1, 1] and seen[2:] == [2] * 4  # found on the 3rd frame, then followed


def test_video_follows_a_small_face_without_the_whole_frame_pass(astronaut):
    """A talking head too small for the mesh's own detector: pass 2 follows it, and the
    whole-frame mesh (which can only fail on it) runs again only with the periodic search."""
    frame = np.full((720, 1280, 3), 80, np.uint8)
    frame[300:700, 800:1200] = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)  # face ~85 px
    with MediapipeFaceAnalyser(max_faces=1, video=True, search_every=5) as analyser:
        found = [len(analyser.analyse(frame)) for _ in range(12)]
        assert found == [1] * 12
        # frame 1 (nothing known yet), then once per 5-frame search cadence
        assert analyser.whole_frame_passes == 3
