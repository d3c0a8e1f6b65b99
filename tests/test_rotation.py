"""A phone video stored sideways with a display matrix comes out upright, faces swapped."""

from __future__ import annotations

import av
import numpy as np

from cli.main import main as rswap
from rswap.testing.render import moving_face_frames
from rswap.media.video import VideoReader


def test_display_matrix_rotation_is_applied_to_the_pixels(tmp_path, source_png, astronaut):
    head = np.ascontiguousarray(astronaut[20:300, 300:60:-1])
    upright = list(moving_face_frames(head, (180, 320), 10, scale=0.6, amplitude=0.1))  # portrait, 180 wide
    target = tmp_path / "phone.mp4"
    with av.open(str(target), mode="w") as out:  # stored landscape, turned for display as a phone does
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 180, "yuv420p"
        vs.set_display_rotation(-90)  # show it turned a quarter clockwise
        for img in upright:
            stored = np.ascontiguousarray(np.rot90(img, 1))  # a quarter counter-clockwise
            out.mux(vs.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        out.mux(vs.encode(None))
    with VideoReader(target) as r:
        assert (r.info.width, r.info.height) == (180, 320)
        read = [f.image for f in r]
    assert np.abs(read[0].astype(int) - upright[0].astype(int)).mean() < 3  # upright, as displayed

    out = tmp_path / "out.mp4"
    assert rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--no-progress", "--preset", "ultrafast"]) == 0
    with av.open(str(out)) as c:
        frame = next(c.decode(c.streams.video[0]))
        assert (frame.width, frame.height) == (180, 320) and not frame.rotation  # upright pixels, no matrix
    with VideoReader(out) as r:
        swapped = [f.image for f in r]
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean(-1) for a, b in zip(read, swapped)]
    assert len(swapped) == 10
    assert all((d > 12).mean() > 0.01 for d in diffs)  # the face was found upright and swapped
    assert np.median([d[-20:].mean() for d in diffs]) < 3  # the rest is the same picture, same way up
