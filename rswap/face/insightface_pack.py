"""Finding bring-your-own insightface model files: a path the user gives, or a pack under
~/.insightface/models (buffalo_l, buffalo_s, ...). Nothing here downloads anything.

A pack is a folder of ONNX files, e.g. buffalo_l/ holds det_10g.onnx (SCRFD detector) and
w600k_r50.onnx (ArcFace). A file is checked against a sha256 when one is known: a
`<file>.sha256` beside it (its first hex word), or a value passed in. We ship no hashes we
have not verified ourselves.
"""

from __future__ import annotations

from pathlib import Path

from rswap.artifacts import sha256_file
from rswap.errors import RswapError

ARCFACE_FILES = ("buffalo_l/w600k_r50.onnx", "buffalo_m/w600k_r50.onnx", "buffalo_s/w600k_mbf.onnx", "buffalo_sc/w600k_mbf.onnx")
SCRFD_FILES = ("buffalo_l/det_10g.onnx", "buffalo_m/det_2.5g.onnx", "buffalo_s/det_500m.onnx", "buffalo_sc/det_500m.onnx")


def insightface_root() -> Path:
    return Path.home() / ".insightface" / "models"


def verify_hash(path: Path, expected: str | None = None) -> None:
    """Compare with `expected` or a `<file>.sha256` sidecar; no known hash, no check."""
    sidecar = path.with_name(path.name + ".sha256")
    if expected is None and sidecar.is_file():
        words = sidecar.read_text().split()
        expected = words[0] if words else None
    if expected and sha256_file(path) != expected.lower():
        raise RswapError(f"{path} does not match its known sha256: modified, truncated or a different file")


def find_pack_file(root: str | Path | None, known: tuple[str, ...], pattern: str, what: str) -> Path:
    """`root` itself if it is a file; else the first of the `known` pack files under `root`
    (default ~/.insightface/models; `root/models/...` also works, for the ~/.insightface
    folder itself); else the first `*/<pattern>` there. `what` names the model in the error."""
    base = Path(root).expanduser() if root else insightface_root()
    if base.is_file():
        return base
    for rel in known:
        for candidate in (base / rel, base / "models" / rel):
            if candidate.is_file():
                return candidate
    found = sorted(base.glob(f"*/{pattern}")) if base.is_dir() else []
    if found:
        return found[0]
    raise RswapError(f"{what}; none under {base}. Put the pack there or pass its path; rswap never downloads models.")


def find_arcface(root: str | Path | None = None) -> Path:
    """An ArcFace w600k ONNX (buffalo_l/w600k_r50.onnx, ...) at or under `root`."""
    return find_pack_file(root, ARCFACE_FILES, "w600k_*.onnx",
                          "inswapper needs an ArcFace model (insightface buffalo_l/w600k_r50.onnx)")


def find_scrfd(root: str | Path | None = None) -> Path:
    """An SCRFD detector ONNX (buffalo_l/det_10g.onnx, buffalo_s/det_500m.onnx, ...) at or under `root`."""
    return find_pack_file(root, SCRFD_FILES, "det_*.onnx",
                          "--detector scrfd needs an SCRFD model (insightface buffalo_l/det_10g.onnx)")
