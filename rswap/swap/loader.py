"""Build a ready FrameSwapper from what a user names on the command line:
source photos, a swapper choice, and a face-selection rule.

Source identities are computed here, once; nothing per frame.
"""

from __future__ import annotations

from rswap.errors import NoFaceError, RswapError
from rswap.face.dlib_embedder import DlibEmbedder
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.select import FaceSelector
from rswap.media.images import read_image
from rswap.swap.compositor import choose_compositor
from rswap.swap.factory import SwapperOptions, make_swapper
from rswap.swap.frame import FrameSwapper


def load_source_faces(paths: list[str], analyser: MediapipeFaceAnalyser, what: str = "source image"):
    """(image, largest face) for each path; one clear error for a photo without a face."""
    pairs = []
    for p in paths:
        image = read_image(p, what)
        faces = analyser.analyse(image)
        if not faces:
            raise NoFaceError(f"no face found in {what} {p}")
        pairs.append((image, faces[0]))
    return pairs


def load_frame_swapper(
    source_paths: list[str],
    swapper: str = "classical",
    face_select: str = "largest",
    references: list[str] | None = None,
    options: SwapperOptions | None = None,
    blend_levels: int = 0,
    compose_on: str = "host",
    one_identity_per_photo: bool = False,
    detector=None,
    watermark: bool = True,
    hands: bool = False,
) -> FrameSwapper:
    """All `source_paths` are photos of ONE person (several photos give a better identity),
    unless `face_select == "reference"`: then each source photo is a different person,
    swapped onto the target faces that match the reference photo at the same position.
    `one_identity_per_photo` makes each photo its own source without reference matching
    (live's --cycle: a hotkey switches between them). `detector`: the analyser's box detector
    for small faces (default mediapipe's; see MediapipeFaceAnalyser). `compose_on` and
    `blend_levels` choose the compositor (rswap.swap.compositor.choose_compositor). `hands`: a hand
    found on a source photo's face is left out of its identity (AnalysisOptions.keep_hands)."""
    if not source_paths:
        raise RswapError("no source image given (-s/--source)")
    sw = make_swapper(swapper, options)
    compositor = choose_compositor(sw, compose_on, blend_levels)
    with MediapipeFaceAnalyser(max_faces=1, video=False, detector=detector, hands=hands) as analyser:
        pairs = load_source_faces(source_paths, analyser)
        embedder = None
        if face_select == "reference":
            refs = references or []
            if len(refs) != len(source_paths):
                raise RswapError("face selection 'reference' needs one --reference photo per --source photo")
            embedder = DlibEmbedder()
            ref_pairs = load_source_faces(refs, analyser, "reference image")
            selector = FaceSelector("reference", [embedder.embed(i, f) for i, f in ref_pairs])
            sources = [sw.encode_source([i], [f]) for i, f in pairs]
        else:
            selector = FaceSelector(face_select)
            if one_identity_per_photo:
                sources = [sw.encode_source([i], [f]) for i, f in pairs]
            else:
                sources = [sw.encode_source([i for i, _ in pairs], [f for _, f in pairs])]
    return FrameSwapper(sw, sources, selector, embed=embedder.embed if embedder else None, compositor=compositor,
                        watermark=watermark)
