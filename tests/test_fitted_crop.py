"""A face is swapped at the smallest crop size that holds the frame's detail (issue 11, seventh
session): the choice of size, the fit behind it, and the pasted frame against the full-size swap."""

import cv2
import numpy as np
import pytest

from rswap.errors import RswapError
from rswap.face.align import crop_steps, fitted_template, get_template, similarity_matrix
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.frame import FrameSwapper


def test_crop_size_is_the_smallest_step_not_below_the_faces_size_in_the_frame():
    t = get_template("ffhq256")
    steps = crop_steps(t)
    assert steps == (128, 144, 160, 176, 192, 208, 224, 240, 256)
    rot = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    for extent, want in ((100, 128), (142, 144), (143.9, 144), (144.1, 160), (250, 256), (600, 256)):
        # the template's points as a face spanning `extent` frame pixels of the 256 crop, turned and moved
        kps = t.points @ rot.T * (extent / 256) + (300, 200)
        got = fitted_template(kps, t, steps[:-1])
        assert got.size == want
        np.testing.assert_allclose(got.points, t.points * (want / 256), rtol=1e-6)
    assert fitted_template(t.points * 0.3, t, ()) is t  # no sizes: the template's own


def test_closed_form_similarity_equals_umeyamas_svd_fit():
    """The 2D closed form against Umeyama's SVD (with its reflection guard), written out here."""

    def umeyama(src, dst):
        mu_s, mu_d = src.mean(0), dst.mean(0)
        s_c, d_c = src - mu_s, dst - mu_d
        U, S, Vt = np.linalg.svd(d_c.T @ s_c / len(src))
        D = np.diag([1.0, np.sign(np.linalg.det(U) * np.linalg.det(Vt))])
        R = U @ D @ Vt
        scale = np.trace(np.diag(S) @ D) / ((s_c**2).sum() / len(src))
        return np.hstack([scale * R, (mu_d - scale * R @ mu_s)[:, None]])

    rng = np.random.default_rng(1)
    for n in (5, 11, 40):
        src = rng.uniform(0, 200, (n, 2))
        for dst in (src @ rng.normal(size=(2, 2)) + rng.normal(0, 50, 2),  # any affine, noisy
                    src * (1.0, -1.0) + rng.normal(0, 3, (n, 2))):  # a mirror: the best proper fit
            np.testing.assert_allclose(similarity_matrix(src, dst), umeyama(src, dst), atol=1e-3)


def _framed(photo: np.ndarray, face_height: int) -> np.ndarray:
    """The photo scaled to `face_height` rows on an 800x480 grey frame."""
    w = int(photo.shape[1] * face_height / photo.shape[0])
    frame = np.full((480, 800, 3), 90, np.uint8)
    frame[20:20 + face_height, 200:200 + w] = cv2.resize(photo, (w, face_height), interpolation=cv2.INTER_AREA)
    return frame


def test_small_face_swaps_at_a_small_crop_and_pastes_back_the_same_picture(astronaut, astronaut_face, analyse):
    """A face spanning ~100 frame pixels is cut at 128², and the frame it gives is the full 256²
    swap's within 33 dB on the face (35.2 measured: the eyes', lips' and teeth's edges a little
    softer, which the eye does not tell apart at the frame's size); at 128² it costs a quarter of
    the pixels. A still picture (`process`) and a face larger than the template are swapped at 256²."""
    source_photo = np.ascontiguousarray(astronaut[:, ::-1])  # the mirrored photo: another texture
    fitted, full = ClassicalSwapper(), ClassicalSwapper(fit_crop=False)
    source_face = [analyse(source_photo)]
    fitted_fs = FrameSwapper(fitted, [fitted.encode_source([source_photo], source_face)], watermark=False)
    full_fs = FrameSwapper(full, [full.encode_source([source_photo], source_face)], watermark=False)
    for face_height, want in ((300, 128), (440, 160)):
        frame = _framed(astronaut, face_height)
        faces = [analyse(frame)]
        jobs = fitted_fs.plan(frame, faces)
        assert jobs[0].crop.shape == (want, want, 3)
        got = fitted_fs.paste(frame, fitted_fs.swap(jobs))
        ref = full_fs.paste(frame, full_fs.swap(full_fs.plan(frame, faces)))
        x0, y0, x1, y1 = (int(v) for v in faces[0].bbox)
        face = (slice(y0, y1), slice(x0, x1))
        assert np.abs(got[face].astype(int) - frame[face]).mean() > 4  # the face was swapped
        mse = np.mean((got[face].astype(float) - ref[face]) ** 2)
        assert 10 * np.log10(255**2 / mse) > 33  # measured 35.2 dB at 128², 38.2 at 160²
        # a still picture is swapped once: at the full size
        np.testing.assert_array_equal(fitted_fs.process(frame, faces), full_fs.process(frame, faces))
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)  # the face spans ~340 pixels
    faces = [analyse(big)]
    jobs = fitted_fs.plan(big, faces)
    assert jobs[0].crop.shape == (256, 256, 3)
    np.testing.assert_array_equal(fitted_fs.swap(jobs)[0].result.crop, full_fs.swap(full_fs.plan(big, faces))[0].result.crop)


def test_classical_swapper_refuses_a_crop_size_it_was_not_made_for(astronaut, astronaut_face):
    sw = ClassicalSwapper()
    source = sw.encode_source([astronaut], [astronaut_face])
    with pytest.raises(RswapError, match="square crops"):
        sw.swap(np.zeros((150, 150, 3), np.uint8), np.zeros((478, 2), np.float32), source)
