"""Tracking stage on real mediapipe: stable ids, less jitter with smoothing, little lag, re-detection when a face joins."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from realtime.smoothing import OneEuroFilter
from realtime.testing import SyntheticSource
from realtime.tracking import FaceTracker
from rswap.face.landmarks import kps5_from_mesh
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.options import AnalysisOptions

SIZE = (640, 360)


def _run(tracker, source, frames, fps=30.0):
    stop = threading.Event()
    source.open()
    out = []
    for i in range(frames):
        image, _ = source.read(stop)
        out.append(tracker.track(image, i / fps))
    tracker.close()
    return out


def test_smoothing_reduces_jitter_on_a_still_noisy_face():
    jitter = {}
    for smooth in (False, True):
        faces = _run(FaceTracker(AnalysisOptions(max_faces=1, detect_every=0, smooth=smooth)), SyntheticSource(SIZE, fps=None, still=True, noise=4.0), 40)
        assert all(len(f) == 1 for f in faces)
        pts = np.array([f[0].landmarks for f in faces[5:]])
        jitter[smooth] = pts.std(0).mean()
    assert jitter[False] > 0.02  # the noise really moves the raw landmarks
    assert jitter[True] < 0.6 * jitter[False], jitter


def test_moving_face_keeps_its_track_and_smoothing_does_not_lag():
    faces = _run(FaceTracker(AnalysisOptions(max_faces=1, detect_every=10, smooth=True)), SyntheticSource(SIZE, fps=None, cycle=60), 40)
    assert all(len(f) == 1 for f in faces)
    assert {f[0].track_id for f in faces} == {0}  # one person, one track, even across forced re-detections
    smoothed = np.array([f[0].landmarks for f in faces[5:]])
    raw = np.array([f[0].raw_landmarks for f in faces[5:]])
    moved = np.linalg.norm(raw[-1] - raw[0], axis=1).mean()
    lag = np.linalg.norm(smoothed - raw, axis=2).mean()
    assert moved > 50 and lag < 3.0, (moved, lag)
    last = faces[-1][0]
    assert np.allclose(last.kps5, kps5_from_mesh(last.landmarks))  # alignment uses the smoothed points


def test_periodic_look_for_new_faces_only_when_tracker_is_full_and_no_fresh_detection_for_the_tracked_face():
    full = FaceTracker(AnalysisOptions(max_faces=1, detect_every=5, smooth=False))
    _run(full, SyntheticSource(SIZE, fps=None, cycle=30), 21)
    assert full.detection_checks == 4  # frames 5, 10, 15, 20
    assert full.forced_detections == 0  # each look saw only the face already tracked: the mesh kept tracking
    room = FaceTracker(AnalysisOptions(max_faces=2, detect_every=5, smooth=False))  # one face, room for two: mediapipe detects by itself
    _run(room, SyntheticSource(SIZE, fps=None, cycle=30), 21)
    assert room.detection_checks == 0


def test_a_face_joining_a_tracked_one_makes_the_mesh_detect_afresh(astronaut):
    crop = cv2.resize(astronaut[0:320, 90:410], (300, 300))
    one = np.full((360, 640, 3), 90, np.uint8)
    one[30:330, 10:310] = crop
    two = one.copy()
    two[30:330, 330:630] = crop
    analyser = MediapipeFaceAnalyser(max_faces=1, video=True)
    try:
        assert len(analyser.analyse(one)) == 1
        assert not analyser.reset_if_new_face(one)  # the tracked face alone: keep tracking
        assert analyser.reset_if_new_face(two)  # a second face beside it: detect afresh
        assert len(analyser.analyse(two)) == 1
    finally:
        analyser.close()


def test_one_euro_filter_holds_still_and_follows_motion():
    f = OneEuroFilter(min_cutoff=1.0, beta=20.0)
    rng = np.random.default_rng(0)
    still = [f(np.array([[100.0, 100.0]]) + rng.normal(0, 0.5, (1, 2)), i / 30, scale=200) for i in range(60)]
    assert np.std(np.array(still)[10:, 0, 0]) < 0.25  # raw std is 0.5
    g = OneEuroFilter(min_cutoff=1.0, beta=20.0)
    moving = [g(np.array([[100.0 + 10 * i, 100.0]]), i / 30, scale=200) for i in range(30)]  # 300 px/s
    assert abs(moving[-1][0, 0] - (100 + 290)) < 5.0


def test_a_face_that_jumps_across_the_frame_is_found_on_the_frame_it_lands_in(astronaut):
    # The mesh graph's track of the face is lost on such a frame; the tracker asks it again on the
    # same frame (it detects afresh), so no frame shows the face untracked and so unswapped.
    head = cv2.resize(np.ascontiguousarray(astronaut[20:300, 300:60:-1]), (160, 186))
    frames = []
    for x in (40, 440, 40, 440):
        frame = np.full((360, 640, 3), 90, np.uint8)
        frame[90:276, x:x + 160] = head
        frames.append(frame)
    tracker = FaceTracker(AnalysisOptions(max_faces=1, detect_every=0, smooth=False))
    try:
        found = [tracker.track(frame, i / 30) for i, frame in enumerate(frames)]
    finally:
        tracker.close()
    assert [len(faces) for faces in found] == [1, 1, 1, 1]
    for faces, x in zip(found, (40, 440, 40, 440)):
        centre = (faces[0].bbox[0] + faces[0].bbox[2]) / 2
        assert x < centre < x + 160
