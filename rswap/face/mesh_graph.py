"""mediapipe's face mesh, called without its Python wrapper's per-frame overhead.

`FaceMesh.process` (mediapipe's SolutionBase) costs the calling thread ~0.9 ms of a 720p
frame's ~4.7 ms, all of it holding the GIL except the graph's wait: a copy of the frame into
mediapipe's image (0.28 ms), a namedtuple *class* made anew on every call (0.27 ms: it
`eval`s the class's source), and the landmarks parsed into protobuf objects, from which
reading 478 points' x, y, z one attribute at a time took another 0.33 ms. In the live
conveyor every millisecond a stage holds the GIL is one the swap thread may wait for
(benchmarks/RESULTS.md, issue 11, sixth session). `LeanFaceMesh.landmarks` runs the same
graph with the same packets and timestamps and reads the landmark lists' serialized bytes
with numpy: 0.02 ms instead of 0.6, the same numbers to the bit (tests/test_mesh_graph.py).

It uses SolutionBase's attributes (`_graph`, `_graph_outputs`, `_simulated_timestamp`,
`_make_packet`) and mediapipe's packet getter for serialized proto lists: mediapipe is
pinned at 0.10.21 (the last release that ships its models; docs/DESIGN.md), so they do not
move under us.
"""

from __future__ import annotations

import numpy as np

from rswap.face.mediapipe_modules import face_mesh  # first: it keeps mediapipe's unused imports from running

from mediapipe.framework.formats import landmark_pb2  # noqa: E402
from mediapipe.python._framework_bindings import _packet_getter  # noqa: E402

_FRAME_STEP_US = 33333  # what SolutionBase.process advances its simulated timestamp by
_INPUT, _OUTPUT = "image", "multi_face_landmarks"  # the face mesh's streams

# A NormalizedLandmarkList (proto2) with x, y, z set and nothing else serializes each landmark
# as field 1, length 15, then x (tag 0x0d), y (0x15), z (0x1d) as little-endian float32.
_LANDMARK = np.dtype([("field", "u1"), ("size", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                      ("tz", "u1"), ("z", "<f4")])
_TAGS = {"field": 0x0A, "size": 15, "tx": 0x0D, "ty": 0x15, "tz": 0x1D}


def landmarks_from_bytes(serialized: bytes) -> np.ndarray:
    """(N, 3) float32 normalized x, y, z of one serialized NormalizedLandmarkList. The fixed
    layout above is read with numpy; any other (a landmark with visibility or presence set,
    which the face mesh does not set) is parsed by protobuf."""
    if len(serialized) % _LANDMARK.itemsize == 0:
        rows = np.frombuffer(serialized, _LANDMARK)
        if all((rows[name] == tag).all() for name, tag in _TAGS.items()):
            return np.stack([rows["x"], rows["y"], rows["z"]], 1)
    parsed = landmark_pb2.NormalizedLandmarkList.FromString(serialized)
    return np.array([(p.x, p.y, p.z) for p in parsed.landmark], np.float32).reshape(-1, 3)


def graph_landmarks(solution, image: np.ndarray, output: str, input_name: str = _INPUT) -> list[np.ndarray]:
    """What `solution.process(image)` computes for the landmark-list stream `output`, as one (N, 3)
    float32 array of normalized x, y, z per item (face, hand) found in an RGB uint8 image
    (contiguous, as `process` wants it): the same graph call with the same packets and timestamps."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got shape {image.shape}")
    solution._graph_outputs.clear()
    solution._simulated_timestamp += _FRAME_STEP_US
    packet = solution._make_packet(solution._input_stream_type_info[input_name], image)
    solution._graph.add_packet_to_input_stream(stream=input_name, packet=packet.at(solution._simulated_timestamp))
    solution._graph.wait_until_idle()
    out = solution._graph_outputs.get(output)
    if out is None or out.is_empty():
        return []
    return [landmarks_from_bytes(s) for s in _packet_getter._get_serialized_proto_list(out)]


class LeanFaceMesh(face_mesh.FaceMesh):
    """mediapipe's FaceMesh (same arguments) with `landmarks(image)`: its faces' landmarks as
    arrays instead of `process(image)`'s protobuf objects."""

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """One (N, 3) float32 array of normalized x, y, z per face found (graph_landmarks)."""
        return graph_landmarks(self, image, _OUTPUT)
