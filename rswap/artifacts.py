"""The model manifest: the one contract between engine_build (writes it) and realtime (reads it).

A model directory holds network files (ONNX, TensorRT plans) and `manifest.json`, which
states everything a runtime needs to use them and nothing is guessed:

- the model's name and version, and the sha256 of every file it lists;
- per network: file, input/output names, shapes (batch axis named), dtypes, value
  ranges, channel order and layout, precision;
- the alignment template and crop size the crops must be made with;
- the identity encoder that makes the generator's identity input, and its size; the
  "identity_encoder" network, when present, is that whole function (aligned crop ->
  identity vector), its input stating the template it expects;
- for TensorRT plans: TensorRT version, GPU compute capability, precision, profiles;
- the build options.

`load_manifest` verifies every hash before returning, so a tampered or truncated file
is an RswapError, never a silently wrong model. Plain json + hashlib: no torch, no onnx.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rswap.atomic import atomic_path
from rswap.errors import RswapError

FORMAT = "rswap-model"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DTYPES = ("float32", "float16", "bfloat16", "int32", "int64", "uint8")
CHANNEL_ORDERS = ("RGB", "BGR", "none")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    """json to a temp file beside `path`, then os.replace: readers see the old or the new file, never half."""
    with atomic_path(path, make_parents=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@dataclass
class TensorSpec:
    name: str
    shape: list  # ints, and one string ("batch") for the dynamic batch axis
    dtype: str = "float32"
    value_range: tuple[float, float] | None = None  # None: unbounded (e.g. a unit vector's entries)
    channel_order: str = "none"  # RGB/BGR for images
    layout: str = ""  # "NCHW" for images, "NC" for vectors
    normalized: str = ""  # "l2" for unit vectors
    template: str = ""  # for aligned face crops: the rswap.face.align template they are aligned with

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise RswapError(f"manifest tensor {self.name!r}: unknown dtype {self.dtype!r}")
        if self.channel_order not in CHANNEL_ORDERS:
            raise RswapError(f"manifest tensor {self.name!r}: unknown channel order {self.channel_order!r}")
        if self.value_range is not None:
            self.value_range = (float(self.value_range[0]), float(self.value_range[1]))

    @property
    def batch_axis(self) -> int | None:
        named = [i for i, d in enumerate(self.shape) if isinstance(d, str)]
        return named[0] if named else None


@dataclass
class NetworkSpec:
    """One ONNX graph: what goes in, what comes out, at what precision."""

    file: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    precision: str = "fp32"  # fp32 | fp16 (fp16 inside, I/O as the tensor specs say)
    opset: int = 0

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name, self.file)

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name, self.file)


@dataclass
class EngineSpec:
    """A TensorRT plan: only valid for the TensorRT version and GPU it was built on."""

    file: str
    network: str  # key in Manifest.networks
    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str  # "9.0"
    precision: str
    profiles: list  # [[min_batch, opt_batch, max_batch], ...]


@dataclass
class Manifest:
    name: str
    version: int
    networks: dict[str, NetworkSpec]
    template: str  # rswap.face.align template name
    crop_size: int
    identity_encoder: str  # e.g. dlib_resnet128, arcface_w600k
    identity_size: int
    build: dict = field(default_factory=dict)  # the options the build ran with
    engines: list[EngineSpec] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    root: Path | None = None  # the directory it was loaded from (not serialised)

    def path(self, rel: str) -> Path:
        if self.root is None:
            raise RswapError("manifest has no directory; load it with load_manifest")
        return _inside(self.root, rel, str(self.root))

    def network(self, key: str) -> NetworkSpec:
        try:
            return self.networks[key]
        except KeyError:
            raise RswapError(f"model {self.name!r} has no {key!r} network (it has: {', '.join(self.networks)})") from None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("root")
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict, where: str = "manifest") -> "Manifest":
        if d.get("format") != FORMAT:
            raise RswapError(f"{where} is not an rswap model manifest")
        if d.get("format_version") != FORMAT_VERSION:
            raise RswapError(f"{where}: manifest version {d.get('format_version')} is not supported (need {FORMAT_VERSION})")
        try:
            networks = {
                key: NetworkSpec(
                    file=n["file"],
                    inputs=[TensorSpec(**t) for t in n["inputs"]],
                    outputs=[TensorSpec(**t) for t in n["outputs"]],
                    precision=n.get("precision", "fp32"),
                    opset=n.get("opset", 0),
                )
                for key, n in d["networks"].items()
            }
            return cls(
                name=d["name"],
                version=int(d["version"]),
                networks=networks,
                template=d["template"],
                crop_size=int(d["crop_size"]),
                identity_encoder=d["identity_encoder"],
                identity_size=int(d["identity_size"]),
                build=dict(d.get("build", {})),
                engines=[EngineSpec(**e) for e in d.get("engines", [])],
                files=dict(d.get("files", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise RswapError(f"{where} is incomplete or malformed ({type(e).__name__}: {e})") from None


def _by_name(specs: list[TensorSpec], name: str, where: str) -> TensorSpec:
    for s in specs:
        if s.name == name:
            return s
    raise RswapError(f"{where}: no tensor named {name!r} (has: {', '.join(s.name for s in specs)})")


def _safe_rel(rel: str, where: str) -> str:
    """Manifest paths stay inside the model directory (no absolute paths, no '..')."""
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise RswapError(f"{where}: file path {rel!r} leaves the model directory")
    return rel


def _inside(root: Path, rel: str, where: str) -> Path:
    """`root/rel`, checked to be a file inside `root` once symlinks are resolved: the text of
    the path is not enough, a link in the directory could point anywhere (the sha256 would
    still hold, but the directory would no longer be the thing that was built and checked)."""
    p = root / _safe_rel(rel, where)
    real_root = root.resolve()
    if not p.resolve().is_relative_to(real_root):
        raise RswapError(f"{where}: {rel} is a link to {p.resolve()}, outside the model directory {real_root}")
    return p


def save_manifest(directory: str | os.PathLike, manifest: Manifest) -> Path:
    """Hash every file the manifest mentions (networks, engines, and any already in `files`), write manifest.json."""
    directory = Path(directory)
    rels = set(manifest.files) | {n.file for n in manifest.networks.values()} | {e.file for e in manifest.engines}
    files = {}
    for rel in sorted(rels):
        p = _inside(directory, rel, str(directory))
        if not p.is_file():
            raise RswapError(f"cannot write manifest: {p} does not exist")
        files[rel] = sha256_file(p)
    manifest.files = files
    manifest.root = directory
    out = directory / MANIFEST_NAME
    write_json_atomic(out, manifest.to_dict())
    return out


def load_manifest(path: str | os.PathLike, verify: bool = True) -> Manifest:
    """Read DIR/manifest.json (or the manifest file itself) and check the sha256 of every file it lists."""
    path = Path(path)
    mpath = path / MANIFEST_NAME if path.is_dir() else path
    if not mpath.is_file():
        raise RswapError(f"no model manifest at {mpath} (build one with `rswap build`)")
    try:
        data = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RswapError(f"model manifest {mpath} is unreadable ({e})") from None
    if not isinstance(data, dict):
        raise RswapError(f"{mpath} is not an rswap model manifest")
    manifest = Manifest.from_dict(data, str(mpath))
    manifest.root = mpath.parent
    listed = set(manifest.files)
    for rel in [n.file for n in manifest.networks.values()] + [e.file for e in manifest.engines]:
        if rel not in listed:
            raise RswapError(f"{mpath}: {rel} has no sha256 in the manifest; rebuild the model")
    if verify:
        for rel, digest in manifest.files.items():
            p = _inside(manifest.root, rel, str(mpath))
            if not p.is_file():
                raise RswapError(f"model file missing: {p} (listed in {mpath})")
            if sha256_file(p) != digest:
                raise RswapError(f"model file {p} does not match its sha256 in {mpath}: modified or corrupt")
    return manifest


__all__ = [
    "TensorSpec",
    "NetworkSpec",
    "EngineSpec",
    "Manifest",
    "save_manifest",
    "load_manifest",
    "sha256_file",
    "write_json_atomic",
    "MANIFEST_NAME",
]
