"""The generator contract (shapes, ranges, batch independence) and its checkpoint file."""

import json

import pytest
import torch

from rswap.errors import RswapError
from rswap.models.checkpoint import load_generator, save_generator
from rswap.models.generator import Generator, GeneratorConfig, identity_vector, preset


def _inputs(config, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(batch, 3, config.size, config.size, generator=g) * 2 - 1
    identity = identity_vector(torch.randn(batch, config.id_dim, generator=g))
    return target, identity


def test_forward_shape_range_and_identity_matters():
    config = preset("tiny")
    torch.manual_seed(0)
    model = Generator(config).eval()
    target, identity = _inputs(config)
    with torch.no_grad():
        out = model(target, identity)
        other = model(target, identity.flip(0))
    assert out.shape == target.shape and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert (out - other).abs().mean() > 1e-4  # the identity input changes the output


def test_batch_elements_are_independent():
    config = preset("tiny")
    model = Generator(config).eval()
    target, identity = _inputs(config, batch=3)
    with torch.no_grad():
        full = model(target, identity)
        single = model(target[1:2], identity[1:2])
    torch.testing.assert_close(full[1:2], single, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_stays_finite():
    config = preset("tiny")
    model = Generator(config)
    target, identity = _inputs(config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(target * 50, identity)  # large activations: statistics are computed in fp32
    assert torch.isfinite(out.float()).all()


def test_bad_config_is_a_clear_error():
    with pytest.raises(RswapError, match="divisible"):
        GeneratorConfig(size=100, widths=(8, 16, 32))
    with pytest.raises(RswapError, match="unknown generator preset"):
        preset("huge")


def test_checkpoint_roundtrip_and_errors(tmp_path):
    config = preset("tiny")
    model = Generator(config)
    path = tmp_path / "g.safetensors"
    save_generator(path, model, config)
    loaded, loaded_config = load_generator(path)
    assert loaded_config == config
    target, identity = _inputs(config)
    with torch.no_grad():
        torch.testing.assert_close(loaded(target, identity), model.eval()(target, identity))
    assert not list(tmp_path.glob("*.tmp"))

    with pytest.raises(RswapError, match="another generator config"):
        load_generator(path, expected=preset("tiny", depth=2))
    with pytest.raises(RswapError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RswapError, match="not a readable safetensors"):
        load_generator(corrupt)


def test_checkpoint_whose_weights_do_not_fit_its_config(tmp_path):
    from safetensors.torch import save_file

    small = preset("tiny")
    weights = Generator(preset("tiny", depth=2)).state_dict()
    path = tmp_path / "mismatch.safetensors"
    save_file(weights, str(path), metadata={"format": "rswap-generator-v1", "config": json.dumps(small.to_dict())})
    with pytest.raises(RswapError, match="does not fit the model"):
        load_generator(path)
    save_file(weights, str(path), metadata={"format": "something-else"})
    with pytest.raises(RswapError, match="not an rswap generator"):
        load_generator(path)
