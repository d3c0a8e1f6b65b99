"""Read back what rswap marks: the C2PA manifest (valid, tampered or absent; who signed)
and the pixel watermark (frames sampled across a video). `rswap verify` prints these.

A file is "synthetic by rswap" when its manifest is intact and made by rswap, or when the
watermark is found (a re-encode or an upload strips the manifest; the mark stays). A
manifest that fails validation (bytes changed after signing) makes the answer "manifest
invalid" even if the watermark is found: the file is not what was signed.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np

from rswap.errors import RswapError
from rswap.media.paths import is_video_path, require_input_file
from rswap.provenance import watermark
from rswap.provenance.credentials import DIGITAL_SOURCE_TYPE, SOFTWARE, local_trust_anchor

# Validation codes that say nothing about the file's integrity: who vouches for the
# signer (trust lists, revocation look-ups rswap never makes: no network at run time).
NOT_TAMPERING = {"signingCredential.untrusted", "signingCredential.ocsp.skipped", "signingCredential.ocsp.unknown",
                 "timeStamp.untrusted"}
VIDEO_SAMPLES = 12  # frames of a video the watermark detector looks at


@dataclass
class CredentialsReport:
    state: str  # "absent", "valid" or "invalid"
    signer: str | None = None  # the signing certificate's common name
    issuer: str | None = None  # its issuer's organisation
    trusted: bool = False  # chains to a trust anchor here (this installation's local CA, --trust-anchors)
    made_by_rswap: bool = False  # claim generator rswap, and a generated-media source type
    failures: list[str] = field(default_factory=list)  # validation codes that show tampering

    def describe(self) -> str:
        if self.state == "absent":
            return "no credentials"
        if self.state == "invalid":
            return f"manifest invalid ({', '.join(self.failures) or 'unreadable'})"
        who = f"signed by {self.signer}" + ("" if self.trusted else " (certificate not trusted here)")
        return who if self.made_by_rswap else f"{who}, not made by rswap"


@dataclass
class FileReport:
    path: str
    credentials: CredentialsReport
    watermark: watermark.Detection

    @property
    def synthetic_by_rswap(self) -> bool:
        c = self.credentials
        if c.state == "invalid":
            return False
        return (c.state == "valid" and c.made_by_rswap) or self.watermark.found

    def line(self) -> str:
        head = "synthetic by rswap, " if self.synthetic_by_rswap else ""
        return f"{self.path}: {head}{self.credentials.describe()}, {self.watermark.describe()}"

    def as_dict(self) -> dict:
        mark = asdict(self.watermark)
        mark["score"] = round(mark["score"], 2)
        return {"file": self.path, "synthetic_by_rswap": self.synthetic_by_rswap,
                "credentials": asdict(self.credentials), "watermark": mark}


def verify_file(path: str | os.PathLike, anchors: bytes | None = None) -> FileReport:
    """`anchors`: extra trusted CA certificates (PEM); this installation's local CA is always trusted."""
    p = require_input_file(path, "file to verify")
    trusted = b"".join(a for a in (local_trust_anchor(), anchors) if a)
    return FileReport(str(path), read_credentials(p, trusted or None), watermark.detect(sample_images(p)))


def read_credentials(path: Path, anchors: bytes | None = None) -> CredentialsReport:
    import c2pa

    settings = {"verify": {"verify_trust": True}}
    if anchors:
        settings["trust"] = {"user_anchors": anchors.decode()}
    try:
        with c2pa.Context(c2pa.Settings.from_dict(settings)) as context:
            reader = c2pa.Reader.try_create(str(path), context=context)
            if reader is None:
                return CredentialsReport("absent")
            with reader:
                manifest = reader.get_active_manifest() or {}
                results = (reader.get_validation_results() or {}).get("activeManifest") or {}
                state = reader.get_validation_state()
    except c2pa.C2paError.NotSupported:
        return CredentialsReport("absent")  # a format that cannot carry a manifest (e.g. .mkv)
    except c2pa.C2paError as e:  # a manifest store that no longer parses: damaged or cut
        return CredentialsReport("invalid", failures=[type(e).__name__.lstrip("_").removeprefix("C2pa") or "unreadable"])
    failures = [r["code"] for r in results.get("failure", []) if r.get("code") not in NOT_TAMPERING]
    info = manifest.get("signature_info") or {}
    return CredentialsReport(
        "invalid" if failures else "valid", signer=info.get("common_name"), issuer=info.get("issuer"),
        trusted=state == "Trusted", made_by_rswap=_made_by_rswap(manifest), failures=failures,
    )


def _made_by_rswap(manifest: dict) -> bool:
    generators = {g.get("name") for g in manifest.get("claim_generator_info", [])}
    actions = [a for asrt in manifest.get("assertions", []) if asrt.get("label", "").startswith("c2pa.actions")
               for a in asrt.get("data", {}).get("actions", [])]
    return SOFTWARE["name"] in generators and any(a.get("digitalSourceType") == DIGITAL_SOURCE_TYPE for a in actions)


def sample_images(path: Path, n: int = VIDEO_SAMPLES) -> list[np.ndarray]:
    """The image, or `n` frames spread across the video (RGB uint8); none when the pixels
    cannot be decoded (a damaged file still gets its manifest checked)."""
    if not is_video_path(path):
        from rswap.media.images import read_image

        try:
            return [read_image(path, "file to verify")]
        except RswapError:
            return []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return []
            stream = container.streams.video[0]
            total = stream.frames or 0
            if stream.duration:  # where to seek, in the unit seek() takes with and without a stream
                start, span, seek_in = stream.start_time or 0, stream.duration, stream
            else:  # e.g. Matroska states only the container's duration (microseconds)
                start, span, seek_in = 0, container.duration or 0, None
            if 0 < total <= 4 * n or not span:  # short (or of unknown length): decode it all
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
                picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int) if frames else []
                return [frames[i] for i in picks]
            out = []
            for t in np.linspace(start, start + span, n, endpoint=False).astype(int):
                container.seek(int(t), stream=seek_in)  # to the keyframe at or before t
                frame = next(container.decode(stream), None)
                if frame is not None:
                    out.append(frame.to_ndarray(format="rgb24"))
            return out
    except av.FFmpegError:
        return []
