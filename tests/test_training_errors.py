"""Bad input to prepare / triplets / train ends in one clear line, never a traceback."""

import json

import numpy as np
import pytest

from cli.main import main
from rswap.errors import RswapError
from training.config import TrainConfig
from training.shards import ShardSet, write_index, write_shard


def _one_line_error(capsys, argv, pattern):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("rswap: error:"), err
    assert pattern in err, err


def _faces_dataset(path, identities, rows=4, size=32):
    rng = np.random.default_rng(0)
    meta = {
        "identity": np.array(identities, np.int32),
        "landmarks": rng.uniform(0, size, (len(identities), 478, 2)).astype(np.float32),
        "embeddings": rng.normal(size=(len(identities), 128)).astype(np.float32),
        "source": np.array([f"f{i}.jpg" for i in range(len(identities))]),
    }
    shard = write_shard(path, "faces_00000", rng.integers(0, 255, (len(identities), size, size, 3), dtype=np.uint8), meta)
    names = [f"p{k}" for k in sorted(set(identities))]
    write_index(path, {"format": "rswap-faces-v1", "size": size, "template": "ffhq256", "identities": names,
                       "count": len(identities), "shards": [shard]})
    return path


def test_prepare_empty_and_non_image_folders(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(capsys, ["prepare", "-i", str(empty), "-o", str(tmp_path / "o1"), "-j", "1"], "no images or videos")
    notes = tmp_path / "notes"
    (notes / "alice").mkdir(parents=True)
    (notes / "alice" / "readme.txt").write_text("hello")
    _one_line_error(capsys, ["prepare", "-i", str(notes), "-o", str(tmp_path / "o2"), "-j", "1"], "no images or videos")
    _one_line_error(capsys, ["prepare", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "o3")], "input folder not found")


def test_prepare_corrupt_images_only(tmp_path, capsys):
    bad = tmp_path / "bad" / "bob"
    bad.mkdir(parents=True)
    for i in range(2):
        (bad / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    _one_line_error(capsys, ["prepare", "-i", str(tmp_path / "bad"), "-o", str(tmp_path / "o"), "-j", "1", "--quiet"],
                    "no usable faces")
    assert not (tmp_path / "o" / "index.json").exists()


def test_one_identity_is_refused_by_triplets_and_train(tmp_path, capsys):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 0, 0])
    _one_line_error(capsys, ["triplets", "-d", str(faces), "-o", str(tmp_path / "t"), "-j", "1", "--quiet"], "one identity only")
    _one_line_error(capsys, ["train", "--faces", str(faces), "--out", str(tmp_path / "run"), "--generator", "tiny",
                             "--rate-cycle", "0", "--device", "cpu", "--workers", "0"], "one identity only")


def test_train_needs_triplets_for_triplet_types(tmp_path, capsys):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    _one_line_error(capsys, ["train", "--faces", str(faces), "--out", str(tmp_path / "run"), "--generator", "tiny",
                             "--device", "cpu", "--workers", "0"], "need --triplets")


def test_not_a_dataset_and_corrupt_shards(tmp_path):
    with pytest.raises(RswapError, match="not an rswap faces dataset"):
        ShardSet(tmp_path, "faces")
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    images = faces / "faces_00000.images.npy"
    data = images.read_bytes()
    images.write_bytes(data[:-100])  # truncated
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces").images(0)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # same size, different content: only the digest notices
    images.write_bytes(bytes(flipped))
    ShardSet(faces, "faces").images(0)  # cheap open: size matches
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces", verify=True).verify_all()
    (faces / "index.json").write_text("{not json")
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces")


def test_config_file_and_flags(tmp_path, capsys):
    from training.config import add_arguments, from_args
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"batch_size": 16, "w_id": 3.0, "faces": "x"}))
    cfg = from_args(parser.parse_args(["--config", str(cfg_file), "--w-id", "7", "--no-resume"]))
    assert (cfg.batch_size, cfg.w_id, cfg.resume, cfg.faces) == (16, 7.0, False, "x")
    cfg_file.write_text(json.dumps({"bach_size": 16}))
    with pytest.raises(RswapError, match="unknown training config keys: bach_size"):
        from_args(parser.parse_args(["--config", str(cfg_file)]))
    with pytest.raises(RswapError, match="precision"):
        TrainConfig(precision="int8")
