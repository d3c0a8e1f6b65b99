"""The learned swapper's source identity comes from the model's own identity function.

A tiny generator trained (here: initialised) with dlib + a FixerNet is built by `rswap
build`; the model directory's "identity_encoder" network must give, on the astronaut,
the vector training's `identity_of` gives on the same aligned crop, and the swap runs.
Models whose identity rswap cannot make are refused with one line, at build and at run.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from engine_build.identity_export import load_identity_function
from engine_build.tensorrt_ops import graph_ops
from rswap.artifacts import load_manifest
from rswap.errors import RswapError
from rswap.face.align import align_crop
from rswap.face.dlib_embedder import cosine
from rswap.models.checkpoint import load_generator, load_identity_parts, save_generator
from rswap.models.generator import Generator, preset
from rswap.models.identity_encoders import DlibIdentityEncoder, FixerNet, save_fixernet
from rswap.swap.frame import FrameSwapper
from rswap.swap.learned import LearnedSwapper

FIXER_DIM = 32


@pytest.fixture(scope="module")
def fixer_checkpoint(tmp_path_factory) -> Path:
    """A generator file as training writes it when run with --fixer: the FixerNet inside."""
    torch.manual_seed(3)
    fixer = FixerNet(FIXER_DIM).eval()
    config = preset("tiny", id_dim=128 + FIXER_DIM, fixer_dim=FIXER_DIM)
    path = tmp_path_factory.mktemp("ckpt") / "fixer_gen.safetensors"
    save_generator(path, Generator(config), config, fixer)
    return path


@pytest.fixture(scope="module")
def fixer_model(tmp_path_factory, fixer_checkpoint) -> Path:
    out = tmp_path_factory.mktemp("fixer_model")
    assert main(["build", "--checkpoint", str(fixer_checkpoint), "-o", str(out), "--max-batch", "4"]) == 0
    return out


@pytest.fixture(scope="module")
def mirrored(astronaut):
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    image = np.ascontiguousarray(astronaut[:, ::-1])
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        return image, analyser.analyse(image)[0]


def _training_identity(checkpoint: Path, crops: list[np.ndarray]) -> np.ndarray:
    """training.train.identity_of on the crops, with the encoder and FixerNet training would use."""
    from training.train import identity_of

    fixer, _ = load_identity_parts(checkpoint)
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        return identity_of(x, DlibIdentityEncoder(), fixer).numpy()


def test_manifest_states_the_identity_function(fixer_model):
    import onnx

    m = load_manifest(fixer_model)
    net = m.network("identity_encoder")
    (crop,), (identity,) = net.inputs, net.outputs
    assert crop.shape == ["batch", 3, 64, 64] and crop.template == m.template == "ffhq256"
    assert crop.value_range == (-1.0, 1.0) and crop.channel_order == "RGB" and crop.layout == "NCHW"
    assert identity.shape == ["batch", 128 + FIXER_DIM] == ["batch", m.identity_size] and identity.normalized == "l2"
    assert m.network("generator").input("identity").shape == ["batch", m.identity_size]
    # the chip warps are inside the graph (two: dlib's chip and FixerNet's lower face)
    proto = onnx.load(str(m.path(net.file)))
    assert ("", "GridSample") in graph_ops(proto)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch


def test_encode_source_equals_training_identity(fixer_model, fixer_checkpoint, astronaut, astronaut_face, mirrored):
    sw = LearnedSwapper(fixer_model)
    source = sw.encode_source([astronaut], [astronaut_face])
    crop, _ = align_crop(astronaut, astronaut_face.kps5, sw.template)
    want = _training_identity(fixer_checkpoint, [crop])[0]
    assert source.identity.shape == (128 + FIXER_DIM,)
    assert cosine(source.identity, want) > 0.9999
    # the FixerNet part is really in it: the same vector without it is another one
    assert cosine(source.identity[:128], want[:128]) > 0.9999 and np.linalg.norm(source.identity[128:]) > 0.5

    # several photos: one batched call, the renormalised mean of each photo's identity
    image2, face2 = mirrored
    both = sw.encode_source([astronaut, image2], [astronaut_face, face2])
    crop2, _ = align_crop(image2, face2.kps5, sw.template)
    ref = _training_identity(fixer_checkpoint, [crop, crop2]).mean(axis=0)
    assert cosine(both.identity, ref) > 0.9999 and abs(np.linalg.norm(both.identity) - 1) < 1e-5


def test_swap_with_the_fixer_model_through_the_frame_swapper(fixer_model, astronaut, astronaut_face):
    sw = LearnedSwapper(fixer_model)
    out = FrameSwapper(sw, [sw.encode_source([astronaut], [astronaut_face])], watermark=False).process(astronaut, [astronaut_face])
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = astronaut_face.bbox.astype(int)
    assert np.abs(out[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean() > 2  # the generator's face went in
    pad = (x1 - x0) // 2
    outside = np.ones(astronaut.shape[:2], bool)
    outside[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    np.testing.assert_array_equal(out[outside], astronaut[outside])


@pytest.mark.parametrize("encoder, id_dim, fixer_dim", [("arcface_r50", 512, 0), ("dlib_resnet128", 128 + 16, 16)])
def test_model_without_identity_network_is_refused_in_one_line(tmp_path, astronaut, astronaut_face, encoder, id_dim, fixer_dim):
    config = preset("tiny", identity_encoder=encoder, id_dim=id_dim, fixer_dim=fixer_dim)
    ckpt = tmp_path / "g.safetensors"
    save_generator(ckpt, Generator(config), config)
    assert main(["build", "--checkpoint", str(ckpt), "-o", str(tmp_path / "m"), "--no-encoder", "--max-batch", "2"]) == 0
    sw = LearnedSwapper(tmp_path / "m")  # swapping itself needs no identity encoder
    with pytest.raises(RswapError, match="rebuild it with `rswap build`") as e:
        sw.encode_source([astronaut], [astronaut_face])
    assert "\n" not in str(e.value)


def test_build_finds_the_fixer_or_refuses(tmp_path, fixer_checkpoint, capsys):
    model, config = load_generator(fixer_checkpoint)
    fixer, _ = load_identity_parts(fixer_checkpoint)
    old = tmp_path / "old.safetensors"  # a generator file from before the FixerNet was stored in it
    save_generator(old, model, config)
    assert load_identity_parts(old) == (None, "")
    assert main(["build", "--checkpoint", str(old), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fixer" in err and "\n" not in err and not (tmp_path / "m").exists()
    fixer_file = tmp_path / "fixer.safetensors"
    save_fixernet(fixer_file, fixer)
    function = load_identity_function(old, config, fixer_path=str(fixer_file))
    for a, b in zip(function.fixer.state_dict().values(), fixer.state_dict().values()):
        assert torch.equal(a, b)


def test_build_checks_the_encoder_weights_training_used(tmp_path, capsys):
    config = preset("tiny", identity_encoder="arcface_r50", id_dim=512)
    ckpt = tmp_path / "g.safetensors"
    save_generator(ckpt, Generator(config), config, identity_weights_sha256="0" * 64)
    assert main(["build", "--checkpoint", str(ckpt), "-o", str(tmp_path / "m")]) == 2
    assert "--identity-weights" in capsys.readouterr().err
    other = tmp_path / "other.pth"
    other.write_bytes(b"not the backbone")
    assert main(["build", "--checkpoint", str(ckpt), "-o", str(tmp_path / "m"), "--identity-weights", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "sha256" in err and "\n" not in err and not (tmp_path / "m").exists()
