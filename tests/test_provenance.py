"""Provenance end to end: convert signs (C2PA) and watermarks, `rswap verify` reads both back,
re-encoding strips the manifest but not the mark, tampering is caught, clean images stay clean."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
from pathlib import Path

import av
import c2pa
import cv2
import numpy as np
import pytest
from skimage import data

from cli.main import main as rswap
from rswap.errors import RswapError
from rswap.media.images import read_image, write_image
from rswap.testing.render import moving_face_frames
from rswap.media.video import VideoWriter
from rswap.provenance.badge import draw_badge
from rswap.provenance.credentials import ContentCredentials, config_dir, local_identity
from rswap.provenance.watermark import PAYLOAD, Watermarker, detect


def _jpeg(img, q=75):
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def _half(img):
    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


def _reencode(src, dst, crf=28):
    """What an upload does: decode, encode again with libx264 (no metadata, no manifest carried)."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        vs = i.streams.video[0]
        s = o.add_stream("libx264", rate=vs.average_rate)
        s.width, s.height, s.pix_fmt, s.options = vs.width, vs.height, "yuv420p", {"crf": str(crf)}
        for f in i.decode(vs):
            f.pts = None
            o.mux(s.encode(f.reformat(format="yuv420p")))
        o.mux(s.encode(None))


def _packets(path):
    with av.open(str(path)) as c:
        return [(p.stream.type, bytes(p)) for p in c.demux() if p.size]


def _verify(capsys, *args):
    capsys.readouterr()
    code = rswap(["verify", *map(str, args)])
    return code, capsys.readouterr().out.strip().splitlines()


@pytest.fixture(scope="module")
def converted(tmp_path_factory, source_png, clip_with_audio):
    out = tmp_path_factory.mktemp("prov") / "out.mp4"
    assert rswap(["convert", "-s", source_png, "-t", clip_with_audio, "-o", str(out), "--no-progress", "--preset", "ultrafast"]) == 0
    return out


def test_convert_output_is_signed_and_watermarked(converted, capsys):
    code, lines = _verify(capsys, converted)
    assert code == 0
    assert lines == [f"{converted}: synthetic by rswap, signed by rswap local signer, watermark found"]
    with c2pa.Reader(str(converted)) as reader:
        manifest = reader.get_active_manifest()
    ingredients = {i["relationship"]: i for i in manifest["ingredients"]}
    assert ingredients["parentOf"]["title"] == "face_audio.mp4"
    assert ingredients["inputTo"]["title"] == "source face photo 1"  # no file name: it may name the person
    assert not any("thumbnail" in i for i in manifest["ingredients"])  # no pixels of the inputs
    actions = [a for asrt in manifest["assertions"] if asrt["label"].startswith("c2pa.actions") for a in asrt["data"]["actions"]]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[1]["digitalSourceType"].endswith("compositeWithTrainedAlgorithmicMedia")


def test_signing_leaves_audio_and_video_packets_bit_identical(tmp_path, clip_with_audio):
    unsigned = tmp_path / "unsigned.mp4"
    identity = local_identity(tmp_path / "cfg")

    def keep_then_sign(tmp, dest):
        shutil.copy(tmp, unsigned)
        ContentCredentials(identity, target=Path(clip_with_audio)).sign_in_place(tmp, dest)

    frames = list(moving_face_frames(data.astronaut()[20:300, 60:300], (320, 180), 12))
    out = tmp_path / "signed.mp4"
    with VideoWriter(out, 25, (320, 180), copy_from=clip_with_audio, preset="ultrafast", before_publish=keep_then_sign) as w:
        for f in frames:
            w.write(f)
    signed, plain = _packets(out), _packets(unsigned)
    assert signed == plain and {t for t, _ in signed} == {"audio", "video"}
    assert out.read_bytes() != unsigned.read_bytes()  # the manifest went in
    with c2pa.Reader(str(out)) as reader:
        assert reader.get_validation_state() in ("Valid", "Trusted")


def test_reencoded_video_loses_the_manifest_but_keeps_the_watermark(converted, tmp_path, capsys):
    re = tmp_path / "re.mp4"
    _reencode(converted, re, crf=28)
    capsys.readouterr()
    assert rswap(["verify", "--json", str(re)]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["synthetic_by_rswap"] and report["credentials"]["state"] == "absent"
    assert report["watermark"]["found"] and report["watermark"]["payload"] == PAYLOAD
    code, lines = _verify(capsys, re)
    assert code == 0 and lines == [f"{re}: synthetic by rswap, no credentials, watermark found"]


def test_tampered_file_is_manifest_invalid(converted, tmp_path, capsys):
    bad = tmp_path / "tampered.mp4"
    data_ = bytearray(converted.read_bytes())
    at = data_.index(b"mdat") + 200  # a byte of the coded video, after signing
    data_[at] ^= 0xFF
    bad.write_bytes(bytes(data_))
    code, lines = _verify(capsys, bad)
    assert code == 1 and "manifest invalid" in lines[0] and "synthetic by rswap" not in lines[0]


def test_untouched_photo_says_no_credentials_no_watermark(source_png, capsys):
    code, lines = _verify(capsys, source_png)
    assert code == 1 and lines == [f"{source_png}: no credentials, no watermark"]


def test_several_files_exit_1_unless_all_are_synthetic(converted, source_png, capsys):
    assert _verify(capsys, converted, converted)[0] == 0
    code, lines = _verify(capsys, converted, source_png)
    assert code == 1 and len(lines) == 2
    capsys.readouterr()
    assert rswap(["verify", str(converted), "missing.mp4"]) == 2  # bad input: one line, nothing checked
    assert capsys.readouterr().err.count("\n") == 1


def test_signed_image_with_a_users_certificate(tmp_path, source_png, astronaut, capsys):
    ca, cert, key = _user_chain(tmp_path, "Test Newsroom")
    target = tmp_path / "target.jpg"
    write_image(target, np.ascontiguousarray(astronaut[:, ::-1]))
    out = tmp_path / "out.jpg"
    assert rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--sign-cert", str(cert), "--sign-key", str(key)]) == 0
    code, lines = _verify(capsys, out)
    assert code == 0 and lines == [f"{out}: synthetic by rswap, signed by Test Newsroom (certificate not trusted here), watermark found"]
    code, lines = _verify(capsys, "--trust-anchors", ca, out)
    assert lines == [f"{out}: synthetic by rswap, signed by Test Newsroom, watermark found"]
    # a key that is not the certificate's: one line, exit 2, nothing written
    _, _, other_key = _user_chain(tmp_path / "other", "Other")
    capsys.readouterr()
    out2 = tmp_path / "out2.jpg"
    assert rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out2), "--sign-cert", str(cert), "--sign-key", str(other_key)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not belong" in err[0] and not out2.exists()


def test_no_watermark_flag_leaves_the_pixels_unmarked(tmp_path, source_png, astronaut, capsys):
    target = tmp_path / "target.png"
    write_image(target, np.ascontiguousarray(astronaut[:, ::-1]))
    out = tmp_path / "out.png"
    assert rswap(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--no-watermark"]) == 0
    code, lines = _verify(capsys, out)  # still signed: the flag removes the mark only
    assert code == 0 and lines == [f"{out}: synthetic by rswap, signed by rswap local signer, no watermark"]


def test_watermark_survives_jpeg75_and_half_size():
    frame = next(moving_face_frames(data.astronaut(), (1280, 720), 1, scale=0.9))
    marked = Watermarker().embed(frame)
    assert np.abs(marked.astype(int) - frame).max() <= 16 and cv2.PSNR(frame, marked) > 38
    for attacked in (marked, _jpeg(marked), _half(marked), _jpeg(_half(marked))):
        result = detect([attacked])
        assert result.found and result.payload == PAYLOAD, result


def test_mark_is_faint_on_flat_areas_and_stronger_in_texture():
    """Contrast masking: the grain that a uniform mark showed on plain backgrounds is gone
    (std <= 1 grey level there), and texture carries more of it."""
    frame = next(moving_face_frames(data.astronaut(), (1280, 720), 1, scale=0.9))
    added = Watermarker().embed(frame).astype(float) - frame
    flat = added[100:600, 40:240]  # the gradient background, left of the photo (and ~60 px off its edge)
    textured = added[450:700, 500:800]  # the astronaut's suit and badges
    assert 0.3 < flat.std() <= 1.0 and textured.std() > 1.5 * flat.std()
    assert np.abs(added).max() <= 16


def test_video_frames_keep_the_swapped_faces_at_the_flat_strength(astronaut, astronaut_face):
    """A face that moves under the fixed pattern would flicker: video frames (paste) keep the
    mark on the faces at its flat-area strength; a still picture (process) does not need to."""
    from rswap.swap.classical import ClassicalSwapper
    from rswap.swap.frame import FrameSwapper

    sw = ClassicalSwapper()
    sources = [sw.encode_source([astronaut], [astronaut_face])]
    plain, marking = FrameSwapper(sw, sources, watermark=False), FrameSwapper(sw, sources)
    jobs = marking.swap(marking.plan(astronaut, [astronaut_face]))
    unmarked = plain.paste(astronaut, jobs).astype(float)
    x0, y0, x1, y1 = np.round(astronaut_face.bbox).astype(int)
    on_face = np.s_[y0:y1, x0:x1]
    video = marking.paste(astronaut, jobs).astype(float) - unmarked
    still = marking.paste(astronaut, jobs, still=True).astype(float) - unmarked
    assert video[on_face].std() <= 1.0 < still[on_face].std()
    assert not detect([unmarked.astype(np.uint8)]).found
    for marked in (video, still):
        assert detect([np.clip(unmarked + marked, 0, 255).astype(np.uint8)]).found


def test_no_watermark_found_on_clean_images(clip_with_audio):
    from rswap.media.video import VideoReader

    images = [getattr(data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel")]
    images = [np.stack([im] * 3, -1) if im.ndim == 2 else im for im in images]
    images += [_jpeg(_half(im)) for im in images]
    for im in images:
        assert not detect([im]).found
    with VideoReader(clip_with_audio) as r:
        frames = [f.image for f in r]
    assert not detect(frames[::3]).found  # frames one by one and averaged


def test_local_key_is_made_once_and_readable_by_the_user_only(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "rswap"
    first = local_identity()
    home = config_dir() / "c2pa"
    assert stat.S_IMODE(os.stat(home / "signer.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert b"PRIVATE KEY" in (home / "signer.key").read_bytes() and b"PRIVATE" not in (home / "signer.pem").read_bytes()
    assert local_identity() == first  # made once, then reused
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "rswap"


def test_config_file_names_the_users_certificate(tmp_path, monkeypatch):
    _, cert, key = _user_chain(tmp_path, "Configured Signer")
    cfg = tmp_path / "xdg" / "rswap"
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text(f'[credentials]\ncert = "{cert}"\nkey = "{key}"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    from rswap.provenance.credentials import configured_identity

    assert configured_identity(None, None).subject == "Configured Signer"
    with pytest.raises(RswapError, match="go together"):
        configured_identity(str(cert), None)
    (cfg / "config.toml").write_text("[credentials\ncert = ")
    with pytest.raises(RswapError, match="not valid TOML"):
        configured_identity(None, None)


def test_live_to_file_frames_carry_the_watermark(tmp_path, source_png, clip_with_audio, capsys):
    out = tmp_path / "live.mp4"
    assert rswap(["live", "-s", source_png, "-t", clip_with_audio, "-o", str(out)]) == 0
    code, lines = _verify(capsys, out)
    assert code == 0 and lines == [f"{out}: synthetic by rswap, signed by rswap local signer, watermark found"]


def test_label_badge_and_its_hotkey(astronaut):
    from realtime.packet import Packet
    from realtime.controls import Controls, apply_key
    from realtime.swap_stages import PasteStage
    from rswap.swap.classical import ClassicalSwapper
    from rswap.swap.frame import FrameSwapper

    controls = Controls()
    stage = PasteStage(FrameSwapper(ClassicalSwapper(), []), controls)
    frame = np.full((360, 640, 3), 200, np.uint8)
    assert (stage(Packet(index=0, image=frame, capture_ts=0.0)).image == frame).all()  # off by default
    apply_key(controls, ord("l"), 1)
    labelled = stage(Packet(index=0, image=frame, capture_ts=0.0)).image
    changed = np.argwhere(np.abs(labelled.astype(int) - frame).max(-1) > 0)
    assert len(changed) > 500 and changed[:, 0].max() < 60 and changed[:, 1].min() > 400  # a small top-right badge
    assert (frame == 200).all()  # the packet's frame is not drawn on in place
    assert draw_badge(frame.copy()).shape == frame.shape


def _user_chain(tmp_path: Path, name: str):
    """A CA and a leaf, as an organisation would issue (c2pa-rs refuses a self-signed leaf)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tmp_path.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])

    def base(subject, public):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)))

    ca = (base(ca_name, ca_key.public_key()).add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA384()))
    leaf = (base(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA384()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / "ca.pem", tmp_path / "chain.pem", tmp_path / "key.pem"
