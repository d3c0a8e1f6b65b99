"""Identity encoders: the dlib port against dlib itself, ArcFace checkpoint loading, FixerNet files."""

import numpy as np
import pytest
import torch
from skimage.data import astronaut

from rswap.errors import RswapError
from rswap.models.identity_encoders import (
    ArcFaceIdentityEncoder,
    DlibIdentityEncoder,
    FixerNet,
    build_identity_encoder,
    load_fixernet,
    save_fixernet,
)


def _cos(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def dlib_encoder():
    return DlibIdentityEncoder()


def test_dlib_port_matches_dlib_on_its_own_chip(dlib_encoder):
    import dlib

    from rswap.face.dlib_embedder import model_file

    image = astronaut()
    rect = dlib.get_frontal_face_detector()(image, 1)[0]
    shape = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))(image, rect)
    chip = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))
    net = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))
    reference = np.array(net.compute_face_descriptor(chip))
    with torch.no_grad():
        ours = dlib_encoder.net(torch.from_numpy(chip).permute(2, 0, 1)[None].float())[0].numpy()
    assert _cos(ours, reference) >= 0.99
    np.testing.assert_allclose(ours, reference, atol=1e-3)  # the same numbers, not just the direction


def test_dlib_encoder_on_our_aligned_crop_agrees_with_dlib(dlib_encoder):
    from rswap.face.align import align_crop, get_template
    from rswap.face.dlib_embedder import DlibEmbedder
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    image = astronaut()
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        face = analyser.analyse(image)[0]
    reference = DlibEmbedder().embed(image, face)
    for size in (256, 128):  # the fixed chip warp scales with the crop size
        crop, _ = align_crop(image, face.kps5, get_template("ffhq256", size))
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            ours = dlib_encoder(x)[0].numpy()
        assert abs(np.linalg.norm(ours) - 1) < 1e-5
        assert _cos(ours, reference) >= 0.97, size
    # a different face is farther away than the same face
    with torch.no_grad():
        other = dlib_encoder(torch.from_numpy(np.ascontiguousarray(crop[:, ::-1][::-1])).permute(2, 0, 1)[None].float() / 127.5 - 1)
    assert _cos(other[0].numpy(), reference) < 0.97


def test_arcface_iresnet_loads_arcface_torch_state_dict(tmp_path):
    torch.manual_seed(0)
    source = ArcFaceIdentityEncoder("r50")
    keys = set(source.net.state_dict())
    # names exactly as insightface's arcface_torch backbones/iresnet.py produces them
    for key in ("conv1.weight", "bn1.running_mean", "prelu.weight", "layer1.0.downsample.0.weight",
                "layer3.13.bn3.weight", "layer4.2.conv2.weight", "bn2.weight", "fc.weight", "features.running_var"):
        assert key in keys, key
    assert source.net.fc.in_features == 512 * 7 * 7
    path = tmp_path / "backbone.pth"
    torch.save({f"module.{k}": v for k, v in source.net.state_dict().items()}, path)  # DDP-saved style
    loaded = build_identity_encoder("arcface_r50", path)
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        out = loaded(x)
        torch.testing.assert_close(out, source(x))
    assert out.shape == (2, 512)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))

    with pytest.raises(RswapError, match="does not fit"):
        build_identity_encoder("arcface_r100", path)
    with pytest.raises(RswapError, match="needs --identity-weights"):
        build_identity_encoder("arcface_r50")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RswapError, match="could not read weights"):
        build_identity_encoder("arcface_r50", bad)


def test_fixernet_roundtrip_and_gradients(tmp_path):
    torch.manual_seed(0)
    fixer = FixerNet(dim=64)
    x = (torch.rand(2, 3, 128, 128) * 2 - 1).requires_grad_(True)
    out = fixer(x)
    assert out.shape == (2, 64)
    out.sum().backward()
    assert x.grad is not None and x.grad[:, :, :62].abs().sum() == 0  # only the lower half is looked at
    path = tmp_path / "fixer.safetensors"
    save_fixernet(path, fixer)
    fixer.eval()
    with torch.no_grad():
        torch.testing.assert_close(load_fixernet(path)(x), fixer(x))
    with pytest.raises(RswapError):
        load_fixernet(tmp_path / "nope.safetensors")
