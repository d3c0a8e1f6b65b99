"""Geometry metrics for face-swap evaluation: head-pose error and expression error.

Both compare two analysed faces (mediapipe mesh), typically a swap result and the
target it was made from; a good swap keeps the target's pose and expression.

Head pose. mediapipe's mesh is a 3D reconstruction: x, y in pixels and a relative
depth z on the same scale (`face.z`). Rather than solvePnP against a
hand-typed generic head (whose shape error becomes pose error), we fit the rotation
between the two faces' own 3D meshes (Kabsch/Umeyama on points of the rigid upper
face inside the outline: forehead, eye corners, nose, cheekbones). Mouth and jaw
are left out because they move with expression, and the face outline because the
classical swapper reshapes it on purpose (outline points turned a contour change
into ~4 degrees of false pose error on real photos). The angle of that relative rotation is the pose
error; its x/y/z Euler angles are the pitch/yaw/roll differences. Identity shape
differences between result and target leak in only through the least-squares fit
of ~30 rigid points, not through a fixed model.

Expression. After a similarity normalisation (eye-corner midpoint at the origin,
eye axis along +x, inter-ocular distance 1), a few ratios describe the expression
independently of face size and in-plane rotation: mouth opening, mouth width,
mouth-corner lift (smile), eye apertures and brow heights. The expression error
is the mean absolute difference of those ratios (0 for identical expressions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from rswap.face.types import Face

# Mesh points that move little with expression (see the module doc).
RIGID_POINTS = [
    151, 9, 108, 337, 69, 299,  # forehead, inside the face oval
    168, 6, 197, 195, 5, 4, 1, 98, 327,  # nose bridge, tip, wings
    33, 133, 362, 263,  # eye corners
    143, 372, 111, 340, 116, 345, 117, 346, 123, 352, 50, 280,  # cheekbones, under the eyes
]

# Named mesh points for the expression ratios (subject's right = image left on a frontal face).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 33, 133, 362, 263
RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM, LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 159, 145, 386, 374
RIGHT_BROW_MID, LEFT_BROW_MID = 105, 334
LIP_INNER_TOP, LIP_INNER_BOTTOM, MOUTH_INNER_RIGHT, MOUTH_INNER_LEFT = 13, 14, 78, 308
MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT = 61, 291

EXPRESSION_FEATURES = ("mouth_open", "mouth_width", "smile", "eye_open_right", "eye_open_left", "brow_right", "brow_left")


def mesh_3d(face: Face) -> np.ndarray:
    """(N, 3) float64 mesh points: pixel x, y and mediapipe's relative depth z (pixel scale)."""
    z = face.z
    if z is None:
        raise ValueError("this face has no 3D mesh (face.z); analyse it with MediapipeFaceAnalyser")
    n = min(len(face.landmarks), len(z))
    return np.column_stack([face.landmarks[:n], z[:n]]).astype(np.float64)


def relative_rotation(a: Face, b: Face) -> np.ndarray:
    """3x3 rotation R that best maps face a's rigid 3D points onto face b's (after centring and scaling)."""
    pa = mesh_3d(a)[RIGID_POINTS]
    pb = mesh_3d(b)[RIGID_POINTS]
    pa = pa - pa.mean(0)
    pb = pb - pb.mean(0)
    U, _, Vt = np.linalg.svd(pb.T @ pa)
    d = np.sign(np.linalg.det(U @ Vt))  # a proper rotation, never a reflection
    return U @ np.diag([1.0, 1.0, d]) @ Vt


@dataclass(frozen=True)
class PoseError:
    total: float  # degrees: angle of the relative rotation
    pitch: float  # degrees, about the image x axis (nodding)
    yaw: float  # degrees, about the image y axis (turning)
    roll: float  # degrees, about the optical axis (in-plane tilt)


def pose_error(a: Face, b: Face) -> PoseError:
    rot = Rotation.from_matrix(relative_rotation(a, b))
    pitch, yaw, roll = rot.as_euler("xyz", degrees=True)
    return PoseError(float(np.degrees(rot.magnitude())), float(pitch), float(yaw), float(roll))


def normalised_landmarks(face: Face) -> np.ndarray:
    """2D mesh points in a frame where the eye corners sit at (-0.5, 0) and (0.5, 0), y pointing down the face."""
    pts = np.asarray(face.landmarks, np.float64)
    right, left = pts[RIGHT_EYE_OUTER], pts[LEFT_EYE_OUTER]
    axis = left - right  # along the eye line, image-left to image-right on a frontal face
    scale = np.linalg.norm(axis)
    if scale < 1e-6:
        raise ValueError("degenerate face landmarks (eye corners coincide)")
    c, s = axis / scale
    rot = np.array([[c, s], [-s, c]])  # rotates the eye axis onto +x
    return (pts - (right + left) / 2) @ rot.T / scale


def expression_features(face: Face) -> dict[str, float]:
    p = normalised_landmarks(face)

    def dist(i: int, j: int) -> float:
        return float(np.linalg.norm(p[i] - p[j]))

    mouth_width = dist(MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT)
    lip_centre_y = (p[LIP_INNER_TOP, 1] + p[LIP_INNER_BOTTOM, 1]) / 2
    corners_y = (p[MOUTH_CORNER_RIGHT, 1] + p[MOUTH_CORNER_LEFT, 1]) / 2
    return {
        # inner-lip gap over inner mouth width: 0 closed, ~0.5+ wide open
        "mouth_open": dist(LIP_INNER_TOP, LIP_INNER_BOTTOM) / max(dist(MOUTH_INNER_RIGHT, MOUTH_INNER_LEFT), 1e-6),
        "mouth_width": mouth_width,
        # how far the mouth corners sit above the lip centre (y points down): > 0 smiling
        "smile": float(lip_centre_y - corners_y),
        "eye_open_right": dist(RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM) / max(dist(RIGHT_EYE_OUTER, RIGHT_EYE_INNER), 1e-6),
        "eye_open_left": dist(LEFT_EYE_TOP, LEFT_EYE_BOTTOM) / max(dist(LEFT_EYE_INNER, LEFT_EYE_OUTER), 1e-6),
        "brow_right": float(p[RIGHT_EYE_TOP, 1] - p[RIGHT_BROW_MID, 1]),
        "brow_left": float(p[LEFT_EYE_TOP, 1] - p[LEFT_BROW_MID, 1]),
    }


@dataclass(frozen=True)
class ExpressionError:
    mean: float  # mean absolute difference over EXPRESSION_FEATURES
    per_feature: dict[str, float]  # absolute difference of each ratio


def expression_error(a: Face, b: Face) -> ExpressionError:
    fa, fb = expression_features(a), expression_features(b)
    diffs = {k: abs(fa[k] - fb[k]) for k in EXPRESSION_FEATURES}
    return ExpressionError(float(np.mean(list(diffs.values()))), diffs)
