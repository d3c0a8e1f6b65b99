"""The lean face-mesh call gives mediapipe's own landmarks, bit for bit, on a moving face that
leaves the frame and comes back (video mode: tracked, lost, detected again)."""

from __future__ import annotations

import numpy as np
from mediapipe.framework.formats import landmark_pb2

from rswap.face.mediapipe_modules import face_mesh
from rswap.face.mesh_graph import LeanFaceMesh, landmarks_from_bytes
from rswap.testing.render import moving_face_frames

SIZE = (480, 270)


def _clip(astronaut) -> list[np.ndarray]:
    """12 frames of the astronaut sliding and turning, 4 empty frames, then 8 more of the face."""
    photo = np.ascontiguousarray(astronaut[20:240, 110:340])
    moving = list(moving_face_frames(photo, SIZE, 20, scale=0.6, amplitude=0.2))
    empty = np.full_like(moving[0], 90)
    return moving[:12] + [empty] * 4 + moving[12:]


def _mesh(cls):
    return cls(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
               min_detection_confidence=0.5, min_tracking_confidence=0.5)


def test_lean_mesh_returns_process_landmarks_bit_for_bit_through_a_face_lost_and_found(astronaut):
    frames = _clip(astronaut)
    counts = []
    with _mesh(face_mesh.FaceMesh) as reference, _mesh(LeanFaceMesh) as lean:
        for i, frame in enumerate(frames):
            found = reference.process(frame).multi_face_landmarks or []
            expected = [np.array([(p.x, p.y, p.z) for p in lm.landmark], np.float32) for lm in found]
            got = lean.landmarks(frame)
            assert len(got) == len(expected), i
            counts.append(len(got))
            for e, g in zip(expected, got):
                assert g.shape == (478, 3) and g.dtype == np.float32
                assert np.array_equal(e, g), (i, np.abs(e - g).max())
    # (mediapipe itself loses this fast-moving face on a frame or two of a cycle; both calls alike)
    assert counts[12:16] == [0] * 4 and counts[16] == 1  # lost while the frame is empty, found again after
    assert sum(counts[:12] + counts[16:]) >= 16


def test_landmark_bytes_in_another_layout_are_parsed_by_protobuf():
    points = landmark_pb2.NormalizedLandmarkList()
    for k in range(5):
        points.landmark.add(x=0.1 * k, y=0.5, z=-0.01 * k)
    plain = landmarks_from_bytes(points.SerializeToString())
    points.landmark[2].visibility = 0.9  # one landmark longer than the fixed layout
    mixed = landmarks_from_bytes(points.SerializeToString())
    expected = np.array([(0.1 * k, 0.5, -0.01 * k) for k in range(5)], np.float32)
    assert np.array_equal(plain, expected) and np.array_equal(mixed, expected)
